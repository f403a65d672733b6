"""Which upstreams get cloud credentials, built once at start."""

from __future__ import annotations

from ...config import BedrockUpstream, Config, VertexUpstream
from ...errors import ConfigError
from .base import Authorizer, CredentialsInfo, quiet_credential_loggers

AWS_EXTRA = "pip install 'agui-proxy[aws]'"
GCP_EXTRA = "pip install 'agui-proxy[gcp]'"


def cloud_authorizers(config: Config) -> dict[str, Authorizer]:
    """An :class:`Authorizer` per upstream whose credentials come from a cloud's chain.

    Raises one :class:`ConfigError` listing every upstream without credentials (naming what was
    looked for) or without its extra installed.
    """
    found: dict[str, Authorizer] = {}
    problems: list[ConfigError] = []
    if any(isinstance(u, (BedrockUpstream, VertexUpstream)) for u in config.upstreams.values()):
        quiet_credential_loggers()  # before the libraries' first line: finding credentials logs too
    for name, upstream in config.upstreams.items():
        try:
            if isinstance(upstream, BedrockUpstream) and upstream.api_key is None:
                found[name] = _aws(name, upstream)
            elif isinstance(upstream, VertexUpstream):
                found[name] = _gcp(name)
        except ConfigError as exc:
            problems.append(exc)
    if problems:
        for authorizer in found.values():
            authorizer.close()
        raise ConfigError.of(problems)
    return found


def _aws(name: str, upstream: BedrockUpstream) -> Authorizer:
    try:
        from .aws import aws_authorizer
    except ImportError:
        raise ConfigError(f"provider bedrock with IAM credentials needs botocore, in the aws extra ({AWS_EXTRA}); "
                          "or set api_key to a Bedrock API key", field=f"upstreams.{name}") from None
    return aws_authorizer(name, upstream.region, upstream.profile)


def _gcp(name: str) -> Authorizer:
    try:
        from .gcp import gcp_authorizer
    except ImportError:
        raise ConfigError(f"provider vertex needs google-auth, in the gcp extra ({GCP_EXTRA})",
                          field=f"upstreams.{name}") from None
    return gcp_authorizer(name)


def describe_credentials(config: Config, authorizers: dict[str, Authorizer]) -> dict[str, CredentialsInfo]:
    """What each cloud upstream authenticates with, for ``agui-proxy check`` and the start log."""
    described: dict[str, CredentialsInfo] = {}
    for name, upstream in config.upstreams.items():
        if name in authorizers:
            described[name] = authorizers[name].info
        elif isinstance(upstream, BedrockUpstream):
            described[name] = CredentialsInfo("a Bedrock API key (Authorization: Bearer)", "the config's api_key")
    return described
