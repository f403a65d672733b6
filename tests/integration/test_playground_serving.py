"""GET /playground through the real CLI: served when enabled (and in the embedded default), one
self-contained document whose inline code is exactly what its Content-Security-Policy allows."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
import pytest

from agui_proxy.app.playground import page_settings, render_page
from agui_proxy.config import config_from_dict
from agui_proxy.errors import ConfigError

from ..support.proxy import ProxyProcess, ProxySetup, new_client, start_proxy

pytestmark = pytest.mark.integration

KEY = "sk-test-SERVING-abcdef0123456789"
TOKEN = "serving-token-77c1"
UPSTREAM_URL = "http://127.0.0.1:9/v1"  # never contacted: these tests only fetch the page


def config(playground: bool) -> dict[str, object]:
    return {
        "auth": {"bearer_tokens": [TOKEN]},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": UPSTREAM_URL, "api_key": KEY,
                                 "model": "gpt-4o-mini", "headers": {"OpenAI-Organization": "org-secret-42"}},
                      "demo": {"provider": "replay"}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}, {"path": "/api/demo", "upstream": "demo"}],
        "playground": playground,
    }


@pytest.fixture(scope="module")
def proxy_setup() -> ProxySetup:
    return ProxySetup(config(True))


def get(url: str, method: str = "GET") -> httpx.Response:
    with new_client() as client:
        return client.request(method, url)


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_page_is_one_document_that_fetches_nothing_else(proxy: ProxyProcess) -> None:
    response = get(f"{proxy.url}/playground")  # no token: the page holds no secret
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert html.startswith("<!doctype html>")
    # Nothing linked: no src=, no href= (everything it needs is inline).
    assert not re.search(r"\s(src|href)=", html), re.findall(r"\s(?:src|href)=\S+", html)
    # The Content-Security-Policy allows exactly the inline blocks there are.
    csp = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert len(scripts) == 2 and len(styles) == 1
    assert csp["script-src"].split() == [sha256(s) for s in scripts]
    assert csp["style-src"].split() == [sha256(s) for s in styles]
    assert csp["default-src"] == "'none'" and csp["connect-src"] == "*" and csp["frame-ancestors"] == "'none'"


def test_page_lists_the_routes_and_nothing_secret(proxy: ProxyProcess) -> None:
    html = get(f"{proxy.url}/playground").text
    (data,) = re.findall(r'<script type="application/json" id="playground-config">(.*?)</script>', html)
    assert httpx.Response(200, content=data).json() == {
        "routes": [{"path": "/api/agent", "provider": "openai-chat", "resumable": False},
                   {"path": "/api/demo", "provider": "replay (openai-chat)", "resumable": False}],
        "auth": True,
    }
    for secret in (KEY, TOKEN, UPSTREAM_URL, "127.0.0.1:9", "org-secret-42"):
        assert secret not in html


def test_head_and_other_methods(proxy: ProxyProcess) -> None:
    full = get(f"{proxy.url}/playground")
    head = get(f"{proxy.url}/playground", "HEAD")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(full.content))
    post = get(f"{proxy.url}/playground", "POST")
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
    assert post.json() == {"error": {"type": "method_not_allowed", "message": "/playground takes GET"}}
    assert get(f"{proxy.url}/playground/").status_code == 404


def test_off_unless_enabled(tmp_path: Path) -> None:
    with start_proxy(tmp_path, config(False)) as proxy:
        response = get(f"{proxy.url}/playground")
    assert response.status_code == 404
    assert response.json() == {"error": {"type": "not_found", "message": "no route at /playground"}}


def test_on_in_the_embedded_default(tmp_path: Path) -> None:
    with start_proxy(tmp_path, None) as proxy:
        response = get(f"{proxy.url}/playground")
        stdout = proxy.stdout
    assert response.status_code == 200
    assert ('{"routes":[{"path":"/api/agent","provider":"replay (openai-chat)","resumable":false}],"auth":false}'
            in response.text)
    assert f"{proxy.url}/playground" in stdout


def test_a_route_cannot_take_the_playgrounds_path() -> None:
    data = config(True)
    data["routes"] = [{"path": "/playground", "upstream": "openai"}]
    with pytest.raises(ConfigError) as caught:
        config_from_dict(data, source="agui.yaml")
    assert str(caught.value) == ("agui.yaml: routes[0].path: '/playground' is where the playground is served "
                                 "(choose another path, or set playground: false)")
    data["playground"] = False
    assert config_from_dict(data).routes[0].path == "/playground"
    data["routes"] = config(True)["routes"]
    data["metrics"] = {"path": "/playground"}
    data["playground"] = True
    with pytest.raises(ConfigError, match=r"metrics.path: '/playground' is where the playground is served"):
        config_from_dict(data, source="agui.yaml")


def test_route_paths_cannot_break_out_of_the_data_block() -> None:
    data = config(True)
    data["routes"] = [{"path": "/a</script><script>alert(1)</script><!--", "upstream": "openai"}]
    html = render_page(page_settings(config_from_dict(data)))[0].decode()
    assert "alert(1)</script>" not in html and "<!--" not in html.split("playground-config")[1].split("</script>")[0]
    assert "/a\\u003c/script>\\u003cscript>alert(1)\\u003c/script>\\u003c!--" in html


def test_broken_static_files_fail_at_startup(tmp_path: Path) -> None:
    (tmp_path / "playground.html").write_text('<script src="a.js"></script>')
    (tmp_path / "a.js").write_text("x")
    with pytest.raises(RuntimeError, match="must contain '<!-- server config -->' exactly once"):
        render_page({}, tmp_path)
    (tmp_path / "playground.html").write_text('<!-- server config --><script src="a.js"></script>')
    (tmp_path / "a.js").write_text("document.write('</script>')")
    with pytest.raises(RuntimeError, match="cannot be inlined"):
        render_page({}, tmp_path)
