"""The playground in headless Chromium: the provider's own tools with their results, and the
citations under the text as numbered links (an AG-UI body, OpenAI Responses' web and file search
from tests/providers/provider_tool_streams.py), then a second turn after them."""

from __future__ import annotations

import pytest

from ..providers import provider_tool_streams as transcripts
from ..support.proxy import ProxyProcess, ProxySetup
from ..support.upstream import SSE_HEADERS, ScriptedUpstream, Status, split
from .browser import PlaygroundPage

pytestmark = pytest.mark.integration

KEY = "sk-test-PLAYGROUND-TOOLS-9f8e7d6c5b4a"
QUESTION = "Weather in Paris?"


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    return ProxySetup({
        "upstreams": {"gpt": {"provider": "openai-responses", "base_url": "${UPSTREAM_URL}/v1",
                              "api_key": "${TEST_UPSTREAM_KEY}", "model": "gpt-4.1", "retries": 0}},
        "routes": [{"path": "/api/agent", "upstream": "gpt"}],
        "playground": True,
    }, env={"TEST_UPSTREAM_KEY": KEY, "UPSTREAM_URL": upstream.url})


def test_provider_tools_and_numbered_citations(tab: PlaygroundPage, proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, SSE_HEADERS), split(transcripts.responses_web_search(), 211))
    tab.open(f"{proxy.url}/playground")
    tab.choose_body("agui")
    tab.send(QUESTION)
    assert tab.wait_state("finished", "error") == "finished"

    card = f'.tool-call[data-tool-call-id="{transcripts.WS_ID}"]'
    assert tab.texts(f"{card} .tool-name") == ["web_search"]
    assert tab.texts(f"{card} .badge") == ["run by the provider"]
    [shown] = tab.texts(f"{card} .tool-output")
    assert all(source["url"] in shown for source in transcripts.SEARCH_SOURCES)
    assert tab.texts(f'.tool-call[data-tool-call-id="{transcripts.FS_ID}"] .tool-name') == ["file_search"]
    assert tab.texts(".tool-result") == [], "a provider-run call asks for no result"

    assert tab.last_reply(".text") == [transcripts.RESPONSES_TEXT]
    links = tab.page.eval_on_selector_all(".citations li a", "nodes => nodes.map(n => [n.href, n.textContent])")
    assert links == [[url, title] for url, title, _ in transcripts.RESPONSES_CITED]
    assert tab.texts(".citations li .file") == [transcripts.FILE_CITED[1]]
    numbers = tab.page.eval_on_selector_all(".citations li", "nodes => nodes.map(n => n.parentElement.tagName)")
    assert numbers == ["OL"] * 3  # numbered: 1, 2, 3

    # The next turn: the searches went back marked as the provider's own, so Responses gets only the words.
    up.script(Status(200, SSE_HEADERS), split(transcripts.sse([
        {"type": "response.output_text.delta", "item_id": "msg_2", "output_index": 0, "content_index": 0,
         "delta": "Tomorrow: 20 °C."},
        {"type": "response.completed", "response": {"status": "completed", "model": "gpt-4.1"}}], named=True), 50))
    tab.send("And tomorrow?")
    assert tab.wait_state("finished", "error") == "finished"
    sent = up.requests[-1].json()["input"]
    assert sent == [{"role": "user", "content": QUESTION},
                    {"role": "assistant", "content": transcripts.RESPONSES_TEXT},
                    {"role": "user", "content": "And tomorrow?"}]
