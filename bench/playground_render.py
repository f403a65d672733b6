"""How fast the playground keeps up with a long stream, against a plain HTTP client reading the same one.

    python -m bench.playground_render [deltas] [rounds]     # defaults: 2000 deltas, 3 rounds

A scripted Chat Completions upstream on 127.0.0.1 sends ``deltas`` one-token text chunks and a
tool call with as many argument fragments / 10, as fast as it can; the real proxy (its CLI)
translates them.  Each round times the same stream read by httpx (bytes only) and by the
playground in headless Chromium (parsed, rendered and logged), from the request to the end of
the run.  Prints the medians and the page's size.  Bounded: at most 20000 deltas and 10 rounds.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser.browser import VIEWPORT, PlaygroundPage, launch, missing_browser
from tests.browser.showcase import burst_transcript, proxy_config
from tests.support.proxy import new_client, post, start_proxy
from tests.support.upstream import ScriptedUpstream, sse_response


def main(argv: list[str]) -> int:
    deltas = min(int(argv[0]) if argv else 2000, 20000)
    rounds = min(int(argv[1]) if len(argv) > 1 else 3, 10)
    reason = missing_browser()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 1
    plain: list[float] = []
    page: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, ScriptedUpstream() as upstream, \
            start_proxy(Path(tmp), proxy_config(upstream.url), env={"TEST_UPSTREAM_KEY": "sk-bench"}) as proxy, \
            sync_playwright() as playwright:
        browser = launch(playwright)
        body = {"params": {"messages": [{"role": "user", "content": "go"}]}}
        with new_client() as client:
            size = len(client.get(f"{proxy.url}/playground").content)
        for _ in range(rounds):
            upstream.script(sse_response(burst_transcript(deltas)))
            start = time.perf_counter()
            reply = post(f"{proxy.url}/api/agent", body, timeout=60)
            plain.append(time.perf_counter() - start)
            events = len(reply.events)

            upstream.script(sse_response(burst_transcript(deltas)))
            tab = PlaygroundPage(browser.new_page(viewport=VIEWPORT))  # type: ignore[arg-type]
            tab.open(f"{proxy.url}/playground")
            tab.page.fill("#message", "go")
            start = time.perf_counter()
            tab.page.click("#send")
            tab.page.wait_for_selector('body[data-state="finished"]', timeout=120_000)
            page.append(time.perf_counter() - start)
            rows = len(tab.log())
            assert rows == events + 1, (rows, events)  # every event logged, plus [DONE]
            tab.page.close()
        browser.close()
    print(f"playground page: {size} bytes")
    print(f"stream: {deltas} text deltas + {max(1, deltas // 10) + 2} argument fragments = {events} AG-UI events")
    print(f"httpx reads it in     {statistics.median(plain) * 1000:8.1f} ms (median of {rounds})")
    print(f"playground renders it {statistics.median(page) * 1000:8.1f} ms (median of {rounds}; every event "
          f"parsed, drawn and logged)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
