"""Headless Chromium for the playground's tests: the system browser (Debian's ``chromium``), never a download.

:func:`chromium_or_skip` gives the reason to skip when Playwright or Chromium is missing;
:class:`PlaygroundPage` drives the playground page the way a person does (fill the fields, press
Send) and reads back what it shows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright

CHROMIUM = os.environ.get("AGUI_PROXY_CHROMIUM", "/usr/bin/chromium")
# Quiet and local: no QUIC, no background fetches, no component updates, no sync.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 860}
WAIT_MS = 10_000  # how long a test waits for the page to show something (a failure, never a timing)


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or ``None`` when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return (f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium) "
                f"or point AGUI_PROXY_CHROMIUM at one")
    return None


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@dataclass(frozen=True)
class LogRow:
    t: float  # ms since the request was sent, as the page shows it
    type: str
    payload: str  # the data: line's text, as received


class PlaygroundPage:
    """The playground page in a browser tab."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []  # uncaught script errors and console errors (a CSP refusal is one)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium logs every non-2xx fetch as "Failed to load resource": expected in the error tests.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def open(self, url: str, *, token: str | None = None) -> PlaygroundPage:
        self.page.goto(url)
        if token is not None:
            self.page.fill("#token", token)
        return self

    def fill(self, **fields: str) -> None:
        """Fill inputs by id (``base_url="..."`` fills ``#base-url``)."""
        for name, value in fields.items():
            self.page.fill("#" + name.replace("_", "-"), value)

    def choose_body(self, kind: str) -> None:
        self.page.check(f'input[name="body-format"][value="{kind}"]')

    def send(self, message: str = "") -> None:
        if message:
            self.page.fill("#message", message)
        self.page.click("#send")

    def wait_state(self, *states: str) -> str:
        selector = ", ".join(f'body[data-state="{s}"]' for s in states)
        self.page.wait_for_selector(selector, timeout=WAIT_MS)
        return str(self.page.get_attribute("body", "data-state"))

    def wait_text(self, selector: str, text: str) -> None:
        """Wait until the last element matching ``selector`` shows exactly ``text``."""
        self.page.wait_for_function(
            "([selector, text]) => { const all = document.querySelectorAll(selector);"
            " return all.length > 0 && all[all.length - 1].textContent === text; }",
            arg=[selector, text], timeout=WAIT_MS)

    def wait_log(self, kind: str) -> None:
        self.page.wait_for_selector(f'#log-body tr[data-type="{kind}"]', state="attached", timeout=WAIT_MS)

    @property
    def state(self) -> str:
        return str(self.page.get_attribute("body", "data-state"))

    def texts(self, selector: str) -> list[str]:
        return [str(t) for t in self.page.eval_on_selector_all(selector, "nodes => nodes.map(n => n.textContent)")]

    def last_reply(self, selector: str) -> list[str]:
        """``selector``'s texts inside the last assistant reply."""
        return self.texts(f"#transcript .turn.assistant:last-child {selector}")

    def log(self) -> list[LogRow]:
        rows = self.page.eval_on_selector_all(
            "#log-body tr",
            "rows => rows.map(r => [r.dataset.t, r.dataset.type, r.querySelector('.payload').textContent])")
        return [LogRow(float(t), kind, payload) for t, kind, payload in rows]

    def log_events(self) -> list[dict[str, Any]]:
        return [json.loads(row.payload) for row in self.log() if row.type != "[DONE]"]
