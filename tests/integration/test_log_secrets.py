"""Secrets in the JSON logs: a client that sends its own token where the proxy logs a value (its
``X-Request-ID``) finds it redacted in the JSON access line as in the plain one."""

from __future__ import annotations

import pytest

from ..support.openai_chat_streams import MODEL, text_transcript
from ..support.proxy import ProxyProcess, ProxySetup, assert_no_secret, eventually, post, sse_events
from ..support.upstream import ScriptedUpstream, sse_response

pytestmark = pytest.mark.integration

TOKEN = "agui-log-token-0f3b9d27c1e8"
KEY = "sk-log-test-KEY-5a8c0e2f4b6d"
BODY = {"params": {"messages": [{"role": "user", "content": "Hi"}]}}


@pytest.fixture(scope="module", params=["json", "plain"])
def proxy_setup(request: pytest.FixtureRequest, upstream: ScriptedUpstream) -> ProxySetup:
    return ProxySetup({
        "auth": {"bearer_tokens": [TOKEN]},
        "logging": {"format": request.param},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": KEY,
                                 "model": MODEL}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
    })


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
    assert_no_secret(output, TOKEN, KEY)
