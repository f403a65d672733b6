"""``GET /playground``: one page to chat through the configured routes and watch the AG-UI stream.

The page ships in the package (``server/static/playground.html``, ``.css``, ``.js``; no build
step).  It is assembled once per app into a single HTML document: the stylesheet and the script
inlined where the HTML links them, and the route paths as a JSON data block, so the browser
fetches nothing else from anywhere.  The three files also work as they are from any static server
(a frontend developer's own): the page then has no route list and its base URL field says where
the proxy is.

The response carries a Content-Security-Policy that allows exactly the two inline blocks (by
their SHA-256) and ``fetch()`` to any origin (the base URL field may name another proxy; whether
that works is up to that proxy's CORS).  The page holds no secret: the bearer token is typed by
the person using it and sent only with their own requests.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from starlette.types import Receive, Scope, Send

from ..config import REPLAY, Config

_CSS_LINK = '<link rel="stylesheet" href="playground.css">'
_JS_TAG = '<script src="playground.js"></script>'
_CONFIG_MARK = "<!-- server config -->"
STATIC_DIR = Path(__file__).parent / "static"


def _static(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page_settings(config: Config) -> dict[str, object]:
    """What the page is told about this proxy: the route paths, their provider, whether a token is needed.

    Never a key, a token, an upstream URL or a header value.
    """
    routes = []
    for route in config.routes:
        upstream = config.upstreams[route.upstream]
        provider = f"{REPLAY} ({upstream.format})" if upstream.provider == REPLAY else upstream.provider
        routes.append({"path": route.path, "provider": provider})
    return {"routes": routes, "auth": bool(config.auth.bearer_tokens)}


def render_page(settings: dict[str, object]) -> tuple[bytes, str]:
    """The whole page, and the Content-Security-Policy that lets exactly its inline code run."""
    html, css, js = _static("playground.html"), _static("playground.css"), _static("playground.js")
    for mark in (_CSS_LINK, _JS_TAG, _CONFIG_MARK):
        if html.count(mark) != 1:  # the packaged files are broken: fail at startup, not in a browser
            raise RuntimeError(f"static/playground.html must contain {mark!r} exactly once")
    # "<" escaped so that no value can close the data block ("</script>") or open a comment.
    data = json.dumps(settings, separators=(",", ":")).replace("<", "\\u003c")
    html = (html.replace(_CSS_LINK, f"<style>{css}</style>")
            .replace(_JS_TAG, f"<script>{js}</script>")
            .replace(_CONFIG_MARK, f'<script type="application/json" id="playground-config">{data}</script>'))
    csp = "; ".join([
        "default-src 'none'",
        f"script-src {_csp_hash(js)}",
        f"style-src {_csp_hash(css)}",
        "connect-src *",  # POSTs to the route, here or at the base URL the person typed
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])
    return html.encode(), csp


class PlaygroundPage:
    """The ASGI handler of ``GET``/``HEAD /playground``; the page is built once, here."""

    def __init__(self, config: Config) -> None:
        self.body, csp = render_page(page_settings(config))
        self.headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(self.body)).encode()),
            (b"content-security-policy", csp.encode()),
            (b"cache-control", b"no-cache"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            payload = json.dumps({"error": {"type": "method_not_allowed",
                                            "message": f"{scope['path']} takes GET"}}).encode()
            await send({"type": "http.response.start", "status": 405,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(payload)).encode()), (b"allow", b"GET, HEAD")]})
            await send({"type": "http.response.body", "body": payload})
            return
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else self.body})
