"""Node for the tests that run JavaScript: its path, or a skip (a failure under CI's
``AGUI_PROXY_REQUIRE_NODE=1``), and the official client installed beside this file."""

from __future__ import annotations

import os
import shutil

import pytest

from .test_official_client import install_client


def node_or_skip(what: str) -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("AGUI_PROXY_REQUIRE_NODE"):
            pytest.fail(f"AGUI_PROXY_REQUIRE_NODE is set but node is not installed: {what} cannot run")
        pytest.skip(f"node is not installed: {what} cannot run")
    return node


def node_with_client(what: str) -> str:
    node = node_or_skip(what)
    install_client(node)
    return node
