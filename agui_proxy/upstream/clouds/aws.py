"""AWS credentials for Bedrock: the standard chain through botocore, and SigV4 on every request.

botocore (the ``aws`` extra) finds the credentials the way every AWS SDK does: environment
variables, the shared credentials and config files (a named profile, ``role_arn`` with
``source_profile``, ``credential_process``, SSO), web identity (``AWS_WEB_IDENTITY_TOKEN_FILE``
with ``AWS_ROLE_ARN``, as EKS sets them), the container endpoint (ECS, EKS Pod Identity) and the
instance metadata service.  Temporary credentials are refreshed by botocore before they expire
(15 minutes ahead); that refresh is blocking I/O, so it runs in a worker thread, never on the
event loop.  Each request is signed with botocore's own SigV4 signer over the exact method, URL,
headers and body that are then sent, at the time it is sent (so a retry is signed anew).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import anyio.to_thread
import botocore.session
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError

from ...errors import ConfigError, UpstreamAuthFailed
from ...providers import UpstreamRequest
from .base import CredentialsInfo

SIGNING_NAME = "bedrock"  # Bedrock runtime's SigV4 service name (its endpoint is bedrock-runtime)

# botocore's Credentials.method: where the credentials were found, for a person.
_SOURCES = {
    "env": "environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
    "shared-credentials-file": "the shared credentials file",
    "config-file": "the shared config file",
    "assume-role": "a role assumed through the shared config (role_arn)",
    "assume-role-with-web-identity": "web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN)",
    "container-role": "the container credentials endpoint",
    "iam-role": "the instance metadata service (the instance's role)",
    "sso": "IAM Identity Center (SSO) through the shared config",
    "custom-process": "a credential_process of the shared config",
}


def looked_for(profile: str | None) -> str:
    return ("environment variables (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), the shared credentials and "
            f"config files (profile {profile or 'from AWS_PROFILE, else default'}), web identity "
            "(AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN), the container credentials endpoint "
            "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI) and the instance metadata service")


def aws_authorizer(name: str, region: str, profile: str | None) -> AWSAuthorizer:
    """The upstream's credentials, found now; a :class:`ConfigError` naming it when there are none."""
    field = f"upstreams.{name}"
    try:
        session = botocore.session.Session(profile=profile)
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # a named profile that does not exist, a broken config file
        raise ConfigError(f"its AWS credentials cannot be loaded: {exc}", field=field) from None
    if credentials is None:
        raise ConfigError(f"no AWS credentials found for Bedrock; looked in {looked_for(profile)} "
                          "(or set api_key to a Bedrock API key)", field=field)
    source = _SOURCES.get(credentials.method, credentials.method)
    if profile and credentials.method in ("shared-credentials-file", "config-file", "assume-role", "sso"):
        source += f", profile {profile}"
    return AWSAuthorizer(credentials, region, CredentialsInfo("AWS IAM credentials (SigV4)", source))


class AWSAuthorizer:
    def __init__(self, credentials: Any, region: str, info: CredentialsInfo) -> None:
        self._credentials = credentials
        self._region = region
        self.info = info

    async def authorize(self, request: UpstreamRequest, client: httpx.AsyncClient) -> UpstreamRequest:
        credentials = self._credentials
        try:
            if isinstance(credentials, RefreshableCredentials):
                # May fetch new ones (STS, the container or instance endpoint): blocking I/O.
                frozen = await anyio.to_thread.run_sync(credentials.get_frozen_credentials)
            else:
                frozen = credentials.get_frozen_credentials()
        except BotoCoreError as exc:
            raise UpstreamAuthFailed(401, "the AWS credentials could not be refreshed "
                                     f"({type(exc).__name__})") from None
        return sign(request, frozen, self._region)

    async def rejected(self, sent: UpstreamRequest) -> bool:
        return False  # botocore refreshes ahead of expiry; a refused signature will not pass on a retry

    def close(self) -> None:
        pass


def sign(request: UpstreamRequest, credentials: Any, region: str, service: str = SIGNING_NAME) -> UpstreamRequest:
    """``request`` signed with SigV4 now: ``X-Amz-Date``, ``X-Amz-Security-Token`` (temporary
    credentials) and ``Authorization`` added.  The query goes into the URL, so what is signed is
    exactly the URL sent."""
    # Encoded as SigV4's canonical form encodes (%20, not +): botocore signs the query as written.
    query = urlencode(request.params, quote_via=quote, safe="-_.~")
    url = request.url + ("?" + query if query else "")
    aws_request = AWSRequest(method=request.method, url=url, data=request.body, headers=dict(request.headers))
    SigV4Auth(credentials, service, region).add_auth(aws_request)
    return UpstreamRequest(request.method, url, dict(aws_request.headers.items()), request.body)
