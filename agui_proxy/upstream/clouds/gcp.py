"""Google Cloud credentials for Vertex AI: Application Default Credentials through google-auth.

google-auth (the ``gcp`` extra) finds them the way every Google client library does: the file
named by ``GOOGLE_APPLICATION_CREDENTIALS`` (a service account key, or an external account for
workload identity federation), gcloud's application-default file, then the metadata server (GCE,
GKE workload identity, Cloud Run).  The access token has the ``cloud-platform`` scope; it is
refreshed before it expires (google-auth counts a token that expires within minutes as invalid)
and once more when Vertex answers 401.  google-auth is synchronous: its refresh runs in a worker
thread, through a transport made of a synchronous httpx client (so no ``requests`` is needed),
and one refresh at a time.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import anyio
import anyio.to_thread
import google.auth
import google.auth.exceptions
import google.auth.transport
import httpx

from ...errors import ConfigError, UpstreamAuthFailed, UpstreamUnavailable
from ...providers import UpstreamRequest
from .base import CredentialsInfo

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
LOOKED_FOR = ("GOOGLE_APPLICATION_CREDENTIALS (a service account key or an external account file), gcloud's "
              "application-default credentials file (gcloud auth application-default login) and the metadata "
              "server (GCE, GKE workload identity, Cloud Run)")
TOKEN_TIMEOUT = 30.0  # seconds for one call of the token endpoint or the metadata server


class _Response(google.auth.transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Any:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class Transport(google.auth.transport.Request):
    """google-auth's HTTP transport over a synchronous httpx client, called in worker threads."""

    def __init__(self) -> None:
        self._client = httpx.Client(timeout=TOKEN_TIMEOUT)

    def __call__(self, url: str, method: str = "GET", body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float | None = None, **kwargs: Any) -> _Response:
        try:
            response = self._client.request(method, url, content=body, headers=headers,
                                            timeout=timeout or TOKEN_TIMEOUT)
        except httpx.HTTPError as exc:
            message = f"{type(exc).__name__} calling {url.split('?')[0]}"
            raise google.auth.exceptions.TransportError(message) from None  # type: ignore[no-untyped-call]
        return _Response(response)

    def close(self) -> None:
        self._client.close()


def gcp_authorizer(name: str) -> GCPAuthorizer:
    """The Application Default Credentials, found now; a :class:`ConfigError` naming the upstream
    when there are none."""
    transport = Transport()
    try:
        credentials, _project = google.auth.default(scopes=[SCOPE], request=transport)
    except google.auth.exceptions.GoogleAuthError as exc:
        transport.close()
        found = str(exc).split("\n")[0] if "File" in str(exc) else ""
        raise ConfigError(f"no Google Cloud credentials found for Vertex AI; looked for {LOOKED_FOR}"
                          + (f" ({found})" if found else ""), field=f"upstreams.{name}") from None
    return GCPAuthorizer(credentials, transport, CredentialsInfo("Google OAuth access token", _source(credentials)))


def _source(credentials: Any) -> str:
    module = type(credentials).__module__
    named = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    where = f" ({named}, from GOOGLE_APPLICATION_CREDENTIALS)" if named else " (gcloud's application-default file)"
    if module.startswith("google.auth.compute_engine"):
        return "the metadata server"
    if module.startswith("google.oauth2.service_account"):
        return "a service account key" + where
    if module.startswith(("google.auth.external_account", "google.auth.identity_pool", "google.auth.aws",
                          "google.auth.pluggable")):
        return "workload identity federation" + where
    if module.startswith("google.auth.impersonated_credentials"):
        return "service account impersonation" + where
    return "user credentials" + where


class GCPAuthorizer:
    def __init__(self, credentials: Any, transport: Transport, info: CredentialsInfo) -> None:
        self._credentials = credentials
        self._transport = transport
        self._lock: anyio.Lock | None = None
        self._stale: str | None = None  # a token Vertex refused: refreshed even if not expired
        self.info = info

    async def authorize(self, request: UpstreamRequest, client: httpx.AsyncClient) -> UpstreamRequest:
        token = await self._token()
        return dataclasses.replace(request, headers={**request.headers, "authorization": f"Bearer {token}"})

    async def _token(self) -> str:
        credentials = self._credentials
        if not self._usable():
            if self._lock is None:
                self._lock = anyio.Lock()
            async with self._lock:
                if not self._usable():  # another request may have refreshed it meanwhile
                    await anyio.to_thread.run_sync(self._refresh)
                    self._stale = None
        token: str = credentials.token
        return token

    def _usable(self) -> bool:
        credentials = self._credentials
        return bool(credentials.valid) and credentials.token != self._stale

    def _refresh(self) -> None:
        try:
            self._credentials.refresh(self._transport)
        except google.auth.exceptions.TransportError as exc:
            raise UpstreamUnavailable(f"could not reach Google's token endpoint ({exc})") from None
        except google.auth.exceptions.GoogleAuthError as exc:
            detail = str(exc.args[0]) if exc.args else type(exc).__name__
            raise UpstreamAuthFailed(401, f"the Google credentials could not be refreshed: {detail[:200]}") from None

    async def rejected(self, sent: UpstreamRequest) -> bool:
        token = sent.headers.get("authorization", "").removeprefix("Bearer ")
        self._stale = token
        return True

    def close(self) -> None:
        self._transport.close()
