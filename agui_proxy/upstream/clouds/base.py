"""What the shell asks of an upstream's cloud credentials."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import httpx

from ...providers import UpstreamRequest


@dataclass(frozen=True, slots=True)
class CredentialsInfo:
    """Which credentials an upstream uses, for a person (``agui-proxy check``, the start log):
    their kind and where they were found, never a value."""

    kind: str  # "AWS IAM credentials", "Google access token", "Bedrock API key"
    source: str  # "environment variables", "service account file /path", ...

    def __str__(self) -> str:
        return f"{self.kind} from {self.source}"


class Authorizer(Protocol):
    """Makes a request acceptable to its cloud: signs it or adds a fresh access token."""

    info: CredentialsInfo

    async def authorize(self, request: UpstreamRequest, client: httpx.AsyncClient) -> UpstreamRequest:
        """``request`` as it is to be sent, now; credentials are refreshed first when they are
        about to expire (off the event loop: the cloud libraries are synchronous)."""

    async def rejected(self, sent: UpstreamRequest) -> bool:
        """The upstream answered 401 to ``sent``, which this authorized: drop those credentials.
        ``True`` when a new try with fresh ones may pass (the shell tries once more, no more)."""

    def close(self) -> None:
        """Release what the credentials hold (a token endpoint's connections)."""


# The cloud libraries' own debug logging writes request and response bodies and the canonical
# request SigV4 signs (botocore.auth: the session token; botocore.parsers: STS's answer with the
# secret key).  Those loggers never log below INFO in this process.
CREDENTIAL_LOGGERS = ("botocore", "boto3", "google.auth", "google.oauth2", "google_auth_httplib2")


def quiet_credential_loggers() -> None:
    for name in CREDENTIAL_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET (inherit) included
            logger.setLevel(logging.INFO)
