"""Vertex's access tokens from a service account, against a loopback token endpoint: one refresh
for many requests at once, a token refused by Vertex replaced once, refresh failures as run errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

pytest.importorskip("google.auth", reason="the gcp extra (google-auth) is not installed")

from agui_proxy.errors import UpstreamAuthFailed, UpstreamUnavailable
from agui_proxy.providers import UpstreamRequest
from agui_proxy.upstream.clouds.gcp import GCPAuthorizer, gcp_authorizer
from tests.support.gcp import TokenEndpoint, public_pem_of, service_account_file
from tests.support.upstream import ScriptedUpstream, body_response

REQUEST = UpstreamRequest("POST", "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/l/"
                          "publishers/google/models/m:streamGenerateContent", {"content-type": "application/json"},
                          b"{}", {"alt": "sse"})


@pytest.fixture
def endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TokenEndpoint]:
    with ScriptedUpstream() as server:
        tokens = TokenEndpoint(server, b"")
        path, pem = service_account_file(tmp_path, tokens.token_uri)
        tokens.public_pem = public_pem_of(pem)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
        monkeypatch.setenv("NO_GCE_CHECK", "true")
        yield tokens


def authorize_all(authorizer: GCPAuthorizer, count: int) -> list[UpstreamRequest]:
    async def main() -> list[UpstreamRequest]:
        out: list[UpstreamRequest] = []
        async with httpx.AsyncClient() as client, anyio.create_task_group() as group:
            async def one() -> None:
                out.append(await authorizer.authorize(REQUEST, client))
            for _ in range(count):
                group.start_soon(one)
        return out
    return anyio.run(main)


def authorize_once(authorizer: GCPAuthorizer) -> UpstreamRequest:
    async def main() -> UpstreamRequest:
        async with httpx.AsyncClient() as client:
            return await authorizer.authorize(REQUEST, client)
    return anyio.run(main)


def test_many_requests_at_once_share_one_refresh(endpoint: TokenEndpoint) -> None:
    authorizer = gcp_authorizer("vertex")
    try:
        signed = authorize_all(authorizer, 20)
    finally:
        authorizer.close()
    assert endpoint.issued == ["ya29.token-1"]
    assert {r.headers["authorization"] for r in signed} == {"Bearer ya29.token-1"}
    assert all(r.url == REQUEST.url and r.params == {"alt": "sse"} and r.body == b"{}" for r in signed)
    assert "authorization" not in REQUEST.headers  # the built request is never changed


def test_the_refresh_runs_off_the_event_loop(endpoint: TokenEndpoint) -> None:
    authorizer = gcp_authorizer("vertex")
    threads: list[str] = []
    # Where the token request is sent from: an httpx event hook on the transport's own client.
    authorizer._transport._client.event_hooks = {"request": [lambda _: threads.append(
        threading.current_thread().name)]}
    try:
        authorize_all(authorizer, 1)
    finally:
        authorizer.close()
    assert threads and threading.main_thread().name not in threads


def test_a_refused_token_is_replaced_once(endpoint: TokenEndpoint) -> None:
    authorizer = gcp_authorizer("vertex")
    try:
        [first] = authorize_all(authorizer, 1)
        assert anyio.run(authorizer.rejected, first) is True
        [second] = authorize_all(authorizer, 1)
        [third] = authorize_all(authorizer, 1)
    finally:
        authorizer.close()
    assert endpoint.issued == ["ya29.token-1", "ya29.token-2"]
    assert second.headers["authorization"] == third.headers["authorization"] == "Bearer ya29.token-2"


def test_a_refused_grant_is_an_auth_failure(endpoint: TokenEndpoint) -> None:
    endpoint.server.respond_with(lambda request: body_response(400, {"error": "invalid_grant",
                                                                     "error_description": "Invalid JWT Signature."}))
    authorizer = gcp_authorizer("vertex")
    try:
        with pytest.raises(UpstreamAuthFailed, match="invalid_grant: Invalid JWT Signature"):
            authorize_once(authorizer)
    finally:
        authorizer.close()


def test_an_unreachable_token_endpoint_is_unavailable(endpoint: TokenEndpoint) -> None:
    authorizer = gcp_authorizer("vertex")
    endpoint.server.stop()
    try:
        with pytest.raises(UpstreamUnavailable, match="token endpoint"):
            authorize_once(authorizer)
    finally:
        authorizer.close()
