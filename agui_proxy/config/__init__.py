"""The configuration: one validated, frozen :class:`Config`, built once from YAML.

The modules, by what they hold:

- ``load.py``: :func:`load_config` (a YAML file), :func:`config_from_dict`, :func:`default_config`;
  ``interpolation.py``: ``${VAR}`` from the environment; ``problems.py``: every problem at once.
- ``model.py``: :class:`Config` and the checks across its sections; ``strict.py``: the strict
  frozen model and the field checks every section shares.
- The sections: ``serving.py`` (server, limits, streams), ``upstreams.py`` (one typed model per
  provider, timeouts, retries), ``routes.py``, ``auth.py`` (bearer tokens, JWT),
  ``identity.py`` (forward_identity), ``secret_length.py`` (secrets too short to redact),
  ``operations.py`` (probes, metrics, logging, CORS), ``store.py``, ``quotas.py``, ``runs.py``
  (resumable runs), ``tracing.py``, ``transport.py`` (upstream_transport, upstream_tls).

What other code imports is re-exported here: ``from agui_proxy.config import Config``.
"""

from __future__ import annotations

from .auth import AuthConfig, JWTConfig, NamedToken
from .identity import ForwardIdentityConfig
from .load import config_from_dict, default_config, load_config
from .model import PLAYGROUND_PATH, Config
from .operations import CORSConfig, LoggingConfig, MetricsConfig, ProbesConfig
from .quotas import PlansConfig, QuotaLimits, QuotasConfig
from .routes import RouteConfig
from .runs import ResumableConfig, RunsConfig
from .serving import LimitsConfig, ListenConfig, StreamsConfig
from .store import StoreConfig
from .tracing import TracingConfig
from .transport import UpstreamTLSConfig, UpstreamTransport
from .upstreams import (
    BUILTIN_RECORDING,
    AnthropicUpstream,
    GeminiUpstream,
    OpenAIChatUpstream,
    OpenAIResponsesUpstream,
    ReplayUpstream,
    RetriesConfig,
    TimeoutsConfig,
    UpstreamConfig,
)

__all__ = [
    "BUILTIN_RECORDING", "PLAYGROUND_PATH", "AnthropicUpstream", "AuthConfig", "CORSConfig", "Config",
    "ForwardIdentityConfig", "GeminiUpstream", "JWTConfig", "LimitsConfig", "ListenConfig", "LoggingConfig",
    "MetricsConfig", "NamedToken", "OpenAIChatUpstream", "OpenAIResponsesUpstream", "PlansConfig", "ProbesConfig",
    "QuotaLimits", "QuotasConfig", "ReplayUpstream", "ResumableConfig", "RetriesConfig", "RouteConfig",
    "RunsConfig", "StoreConfig", "StreamsConfig", "TimeoutsConfig", "TracingConfig", "UpstreamConfig",
    "UpstreamTLSConfig", "UpstreamTransport", "config_from_dict", "default_config", "load_config",
]
