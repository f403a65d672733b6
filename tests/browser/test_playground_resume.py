"""The playground's "Drop connection" on a resumable route, in headless Chromium, against the real
proxy (its CLI): the page loses its connection mid-run, reattaches with ``Last-Event-ID`` and
finishes the run, showing every delta once."""

from __future__ import annotations

import threading

import pytest

from ..support.openai_chat_streams import TEXT, text_transcript
from ..support.proxy import ProxyProcess, ProxySetup
from ..support.upstream import SSE_HEADERS, Chunk, End, ScriptedUpstream, Status, WaitFor, sse_event
from . import showcase
from .browser import WAIT_MS, PlaygroundPage

pytestmark = pytest.mark.integration

KEY = "sk-test-PLAYGROUND-RESUME-4f3e2d1c"


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    config = showcase.proxy_config("${UPSTREAM_URL}")
    config["routes"] = [{"path": "/api/agent", "upstream": "deepseek", "resumable": {"linger": 30}}]
    return ProxySetup(config, env={"TEST_UPSTREAM_KEY": KEY, "UPSTREAM_URL": upstream.url})


@pytest.mark.parametrize("body", ["branderux", "agui"])
def test_drop_connection_reattaches_and_finishes_the_run(tab: PlaygroundPage, proxy: ProxyProcess,
                                                         up: ScriptedUpstream, body: str) -> None:
    release = threading.Event()
    events = [sse_event(c) for c in text_transcript()]
    up.script(Status(200, SSE_HEADERS), Chunk(b"".join(events[:3])), WaitFor(release, timeout=20),
              Chunk(b"".join(events[3:]) + b"data: [DONE]\n\n"), End())
    tab.open(f"{proxy.url}/playground")
    tab.choose_body(body)
    tab.send("Quel temps fait-il à Paris ?")
    tab.wait_log("TEXT_MESSAGE_CONTENT")
    tab.page.wait_for_selector("#drop:not([disabled])", timeout=WAIT_MS)
    tab.page.click("#drop")
    tab.page.wait_for_selector('body[data-reattached="1"]', timeout=WAIT_MS)
    release.set()  # the rest of the run comes after the page reattached
    assert tab.wait_state("finished", "error") == "finished"
    assert tab.last_reply(".text") == [TEXT]
    types = [e["type"] for e in tab.log_events()]
    assert types.count("RUN_STARTED") == 1 and types[-1] == "RUN_FINISHED"
    assert types.count("TEXT_MESSAGE_CONTENT") == 5, "every delta once: none lost, none repeated"
    assert "reattached after event" in tab.page.text_content("#resume-info")
    done_rows = [row for row in tab.log() if row.type == "[DONE]"]
    assert len(done_rows) == (1 if body == "branderux" else 0)
