"""OpenTelemetry tracing of the proxy: optional, and nothing at all when off.

:func:`tracing_for` is the one entry: ``None`` when tracing is off (the app then does one ``is
None`` check per request and nothing per chunk, and ``opentelemetry`` is never imported), else
a :class:`~agui_proxy.tracing.setup.Tracing` built from the ``tracing:`` section
(``config/tracing.py``).  The parts:

- ``genai.py``: the OpenTelemetry GenAI semantic conventions' names for what an upstream is
  (no OpenTelemetry import);
- ``setup.py``: the tracer provider and the OTLP/HTTP exporter (or the process's own SDK
  provider when the app the proxy is mounted in configured one);
- ``spans.py``: the server span of a request (a pure ASGI piece of each route's chain,
  ``app/stack.py``) and the client span of each upstream try (an observer of the run's tries,
  ``upstream/retries.py``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..core.redact import NO_SECRETS, Redactor
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import Config
    from .setup import Tracing

log = logging.getLogger("agui_proxy")
INSTALL_HINT = "pip install 'agui-proxy[otel]'"


def sdk_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None
               for name in ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http"))


def tracing_for(config: Config, redactor: Redactor = NO_SECRETS,
                env: Mapping[str, str] | None = None) -> Tracing | None:
    """The app's tracing, or ``None`` when it is off.

    Asked for in the config (``tracing.enabled: true``) without the SDK installed: a
    :class:`ConfigError`.  Asked for only by ``OTEL_*`` variables (set for another program,
    perhaps): a warning, and no tracing.
    """
    env = os.environ if env is None else env
    if not config.tracing.is_on(env):
        return None
    if not sdk_installed():
        if config.tracing.explicit:
            raise ConfigError(f"tracing is enabled but OpenTelemetry is not installed: {INSTALL_HINT}",
                              field="tracing.enabled")
        log.warning("OTEL_* variables ask for traces but OpenTelemetry is not installed (%s): tracing is off",
                    INSTALL_HINT)
        return None
    from .setup import Tracing

    return Tracing(config, redactor)
