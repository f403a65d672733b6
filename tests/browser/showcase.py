"""The showcase run: reasoning, then text, then a tool call, through the real proxy into the page.

The tests use it (``test_playground.py``), and it regenerates the screenshot in the README and docs/playground.md::

    python -m tests.browser.showcase            # writes docs/playground.png

The upstream is a scripted Chat Completions server on 127.0.0.1 streaming a DeepSeek-style
``reasoning_content`` (FORMATS.md section 1), so no key and no network are needed.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from ..support.openai_chat_streams import chunk
from ..support.proxy import start_proxy
from ..support.upstream import SSE_HEADERS, End, Pause, ScriptedUpstream, Status, Step, sse_steps
from .browser import PlaygroundPage

MODEL = "deepseek-reasoner"
QUESTION = "Should I take an umbrella in Paris this afternoon?"
SYSTEM = "You are a concise travel assistant. Use the tools when you need live data."
REASONING = ["The user asks about rain in Paris", " this afternoon. I have no live weather data,",
             " so I should call get_weather for Paris", " and answer from its result."]
TEXT = ["Let me check", " the forecast for Paris", " before I answer."]
ARGS = ['{"city', '": "Par', 'is", "unit": "cel', 'sius", "hours": ["14:00", "', '18:00"]}']
CALL_ID = "call_0_5f7c2d1e-weather"
USAGE = {"prompt_tokens": 96, "completion_tokens": 71, "total_tokens": 167,
         "prompt_tokens_details": {"cached_tokens": 64},
         "completion_tokens_details": {"reasoning_tokens": 38}}
TOOLS_JSON = ('[{"name": "get_weather", "description": "Forecast for a city",\n'
              ' "parameters": {"type": "object", "properties": {"city": {"type": "string"},\n'
              ' "unit": {"type": "string"}, "hours": {"type": "array", "items": {"type": "string"}}},\n'
              ' "required": ["city"]}}]')


def transcript() -> list[dict[str, Any]]:
    call = {"index": 0, "id": CALL_ID, "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    chunks = [
        chunk({"role": "assistant", "content": None, "reasoning_content": ""}),
        *(chunk({"reasoning_content": piece, "content": None}) for piece in REASONING),
        *(chunk({"content": piece}) for piece in TEXT),
        chunk({"tool_calls": [call]}),
        *(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}) for piece in ARGS),
        chunk({}, "tool_calls"),
        chunk(usage=USAGE, choices=False),
    ]
    return [{**c, "model": MODEL} for c in chunks]


def burst_transcript(deltas: int) -> list[dict[str, Any]]:
    """A long answer: ``deltas`` one-word text chunks, then a tool call in ``deltas // 10`` fragments."""
    call = {"index": 0, "id": "call_bench", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    fragments = max(1, deltas // 10)
    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": f" w{i}"}) for i in range(deltas)),
        chunk({"tool_calls": [call]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"n": ['}}]}),
        *(chunk({"tool_calls": [{"index": 0, "function": {"arguments": f"{i}, "}}]}) for i in range(fragments)),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "0]}"}}]}),
        chunk({}, "tool_calls"),
    ]


def response(pause: float = 0.02) -> list[Step]:
    """The transcript as a 200 event stream, one write per event, ``pause`` seconds apart (as a model streams)."""
    steps: list[Step] = [Status(200, SSE_HEADERS)]
    for step in sse_steps(transcript()):
        steps += [Pause(pause), step]
    return [*steps, End()]


def proxy_config(upstream_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "upstreams": {"deepseek": {"provider": "openai-chat", "base_url": f"{upstream_url}/v1",
                                   "api_key": "${TEST_UPSTREAM_KEY}", "model": MODEL,
                                   "retries": 0}},  # one scripted answer per question, errors included
        "routes": [{"path": "/api/agent", "upstream": "deepseek", "reasoning": True}],
        "playground": True,
        **extra,
    }


def run_showcase(tab: PlaygroundPage, proxy_url: str, upstream: ScriptedUpstream, token: str | None = None) -> None:
    """Open the page, fill it in as a person would, send the question; return once the run finished."""
    upstream.script(response())
    tab.open(f"{proxy_url}/playground", token=token)
    tab.fill(system=SYSTEM, tools=TOOLS_JSON)
    tab.send(QUESTION)
    tab.wait_state("finished", "error")


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    from .browser import VIEWPORT, launch, missing_browser

    out = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "docs" / "playground.png"
    reason = missing_browser()
    if reason is not None:
        print(f"cannot take the screenshot: {reason}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp, ScriptedUpstream() as upstream, \
            start_proxy(Path(tmp), proxy_config(upstream.url), env={"TEST_UPSTREAM_KEY": "sk-showcase"}) as proxy, \
            sync_playwright() as playwright:
        browser = launch(playwright)
        tab = PlaygroundPage(browser.new_page(viewport=VIEWPORT))  # type: ignore[arg-type]
        run_showcase(tab, proxy.url, upstream)
        assert tab.state == "finished", tab.texts(".run-error")
        tab.page.eval_on_selector("#tools", "area => { area.scrollTop = 0; }")  # the filled tools from the top
        out.parent.mkdir(parents=True, exist_ok=True)
        tab.page.screenshot(path=str(out))
        browser.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
