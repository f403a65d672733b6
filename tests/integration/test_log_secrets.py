"""Secrets in the JSON logs: a client that sends its own token where the proxy logs a value (its
``X-Request-ID``) finds it redacted in the JSON access line as in the plain one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..proxy import ProxyProcess, eventually, post, sse_events, start_proxy
from ..upstream import ScriptedUpstream, sse_response
from .openai_chat_streams import MODEL, text_transcript

pytestmark = pytest.mark.integration

TOKEN = "agui-log-token-0f3b9d27c1e8"
KEY = "sk-log-test-KEY-5a8c0e2f4b6d"
BODY = {"params": {"messages": [{"role": "user", "content": "Hi"}]}}


@pytest.fixture(scope="module", params=["json", "plain"])
def proxy(request: pytest.FixtureRequest, upstream: ScriptedUpstream,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    config = {
        "auth": {"bearer_tokens": [TOKEN]},
        "logging": {"format": request.param},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": KEY,
                                 "model": MODEL}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    }
    with start_proxy(tmp_path_factory.mktemp("log-secrets"), config) as running:
        yield running


def windows(secret: str) -> list[str]:
    return [secret[i:i + 8] for i in range(len(secret) - 7)]


def test_a_token_sent_as_the_request_id_is_not_logged(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(sse_response(text_transcript()))
    for request_id in (TOKEN, KEY):
        if request_id == KEY:
            up.script(sse_response(text_transcript()))
        reply = post(proxy.url + "/api/agent", BODY, headers={"authorization": f"Bearer {TOKEN}",
                                                              "x-request-id": request_id})
        sse_events(reply)
    # Both access lines were written, each with its request id redacted.
    output = eventually(proxy.output, lambda text: text.count("[redacted]") >= 2, "two redacted access lines")
    for secret in (TOKEN, KEY):
        for window in windows(secret):
            assert window not in output, f"{window!r} is in the proxy's log"
