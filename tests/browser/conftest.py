"""Fixtures of the browser tests: one headless Chromium and one scripted upstream per module, a fresh tab per test.

Skipped, with the reason, when Playwright or the system Chromium is missing (CI installs both).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .browser import VIEWPORT, PlaygroundPage, launch, missing_browser

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = missing_browser()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def tab(browser: Browser) -> Iterator[PlaygroundPage]:
    """A new browser context (no cookies, cache or storage from other tests) with one page.

    After the test, the page must have logged no script error (a CSP refusal is one).
    """
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    playground = PlaygroundPage(context.new_page())
    try:
        yield playground
    finally:
        context.close()
    assert not playground.errors, f"the page logged errors: {playground.errors}"
