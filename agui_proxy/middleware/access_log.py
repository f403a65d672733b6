"""The access log (one line per request, when it ends) and the log formats of the proxy.

A line says what an operator needs to explain a request, and nothing of what the user said::

    request_id=4b1f... method=POST path=/api/agent route=/api/agent upstream=openai status=200
    outcome=ok first_byte_ms=412 first_event_ms=413 duration_ms=2210 input_tokens=31 output_tokens=9

No header is ever logged (so no token and no key), and no message content unless
``logging.debug_content`` is on; every string that came from the client or the upstream is
passed through the config's :class:`~agui_proxy.core.redact.Redactor` anyway.  Lines are written when a request
ends, never per chunk.

``logging.format: json`` gives one JSON object per line, for every logger of the proxy and of
uvicorn (:func:`logging_config` builds the ``logging.config.dictConfig`` the CLI hands uvicorn,
so each worker process sets it up the same way).
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import sys
from typing import Any

from ..config import LoggingConfig
from ..core.redact import NO_SECRETS, Redactor
from ..users.log_identity import IdentityLog
from .context import RequestContext

ACCESS_LOGGER = "agui_proxy.access"
DEBUG_CONTENT_CAP = 64 * 1024  # bytes of request and of response kept per request with debug_content
_BARE = re.compile(r"[\w./:@+=\-]+")  # logfmt values that need no quotes


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


class AccessLog:
    def __init__(self, config: LoggingConfig, redactor: Redactor = NO_SECRETS) -> None:
        self.enabled = config.access_log
        self.debug_content = config.debug_content
        self._redact = redactor
        self._log = logging.getLogger(ACCESS_LOGGER)
        self._pid = os.getpid()  # which worker served it (several share one log)
        self._identity = IdentityLog(config)  # user= (plain or a keyed hash) and the claims asked for

    def fields(self, context: RequestContext) -> dict[str, Any]:
        """The line's fields, in order; ``None`` values are left out."""
        usage = context.usage
        fields: dict[str, Any] = {
            "request_id": context.request_id,
            "trace_id": context.trace_id,
            "method": context.method,
            "path": self._redact(context.path),
            "route": context.route,
            "upstream": context.upstream,
            **self._identity.fields(context.identity.id if context.identity else None,
                                    context.identity.claims if context.identity else {}),
            "status": context.status,
            "outcome": context.outcome,
            "error_code": context.error_code,
            "first_byte_ms": _ms(context.seconds(context.first_byte)),
            "first_event_ms": _ms(context.seconds(context.first_event)),
            "duration_ms": _ms(context.duration),
            "input_tokens": usage.input_tokens if usage else None,
            "output_tokens": usage.output_tokens if usage else None,
            # server/tool.name:outcome of each server-side tool call, in the order they ended
            "tool_calls": ",".join(f"{c.server}/{c.tool}:{c.outcome}" for c in context.tool_calls)
            if context.tool_calls else None,
            "pid": self._pid,
        }
        if self.debug_content:
            for name in ("request_body", "response_body"):
                data = getattr(context, name)
                if data is not None:
                    fields[name] = self._redact(bytes(data).decode("utf-8", "replace"))
        return {k: v for k, v in fields.items() if v is not None}

    def write(self, context: RequestContext) -> None:
        if not self.enabled or not self._log.isEnabledFor(logging.INFO):
            return
        fields = self.fields(context)
        self._log.info(logfmt(fields), extra={"fields": fields})


def logfmt(fields: dict[str, Any]) -> str:
    """``key=value`` pairs; values with spaces, quotes or control characters JSON-quoted."""
    parts = []
    for key, value in fields.items():
        text = str(value)
        parts.append(f"{key}={text}" if _BARE.fullmatch(text) else f"{key}={json.dumps(text)}")
    return " ".join(parts)


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and an access line's fields.

    It writes the record as the redacting filter left it (``serving/log_redaction.py``: message, arguments,
    fields and traceback redacted), the traceback from ``exc_text`` rather than formatted again.
    """

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["message"] = record.getMessage()
        if record.exc_info or record.exc_text:
            out["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, default=str)


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def logging_config(config: LoggingConfig, level: str | None = None) -> dict[str, Any]:
    """The ``dictConfig`` of the proxy's and uvicorn's loggers.

    Access lines go to stdout (like uvicorn's own access log, which the CLI turns off: it would
    log each request twice, and with its query string); everything else to stderr.
    """
    formatter: dict[str, Any] = ({"()": f"{__name__}.JSONFormatter"} if config.format == "json"
                                 else {"format": PLAIN_FORMAT})
    level_name = (level or config.level).upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"},
            "stdout": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "agui_proxy": {"handlers": ["stderr"], "level": level_name, "propagate": False},
            # The access log is written at INFO whatever the level (turn it off with access_log).
            ACCESS_LOGGER: {"handlers": ["stdout"], "level": "INFO", "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level_name, "propagate": False},
            "uvicorn.access": {"handlers": ["stdout"], "level": level_name, "propagate": False},
            # httpx logs every upstream request at INFO with its whole URL (a query string may hold
            # a key, e.g. an Azure deployment's); the access line says what an operator needs.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
        "root": {"handlers": ["stderr"], "level": level_name},
    }


def configured(logger_name: str = ACCESS_LOGGER) -> bool:
    """Whether a handler will take the logger's lines (its own or an ancestor's)."""
    return logging.getLogger(logger_name).hasHandlers()


def ensure_log_output(config: LoggingConfig) -> str:
    """Give the proxy's own loggers somewhere to write where the server configured nothing for them.

    The CLI configures every logger (:func:`logging_config`); under another server (plain
    ``uvicorn app:app``, an app that mounts the proxy) the access lines would reach no handler
    but Python's last resort, which drops INFO.  A logger that already has a handler (the app's
    own logging) is left as it is, except that the access logger is raised to INFO so that
    ``logging.access_log`` keeps its word.  Returns where the access lines go, for the start line.
    """
    if not config.access_log:
        return "off (logging.access_log: false)"
    formatter: logging.Formatter = JSONFormatter() if config.format == "json" else logging.Formatter(PLAIN_FORMAT)
    access = logging.getLogger(ACCESS_LOGGER)
    where = "the handlers the app configured"
    if not access.hasHandlers():
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(formatter)
        access.addHandler(handler)
        access.propagate = False
        where = "stdout"
    if not access.isEnabledFor(logging.INFO):
        access.setLevel(logging.INFO)
    proxy = logging.getLogger("agui_proxy")
    if not proxy.hasHandlers():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter)
        proxy.addHandler(handler)
        proxy.setLevel(config.level.upper())
        proxy.propagate = False
    return where
