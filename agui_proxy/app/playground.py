"""``GET /playground``: one page to chat through the configured routes and watch the AG-UI stream.

The page ships in the package (``app/static/``: ``playground.html`` and the stylesheet and
scripts it links; no build step).  It is assembled once per app into a single HTML document: each
linked file inlined where the HTML links it, and the route paths as a JSON data block, so the
browser fetches nothing else from anywhere.  The folder also works as it is from any static server
(a frontend developer's own): the page then has no route list and its base URL field says where
the proxy is.

The response carries a Content-Security-Policy that allows exactly the inlined blocks (by
their SHA-256) and ``fetch()`` to any origin (the base URL field may name another proxy; whether
that works is up to that proxy's CORS).  The page holds no secret: the bearer token is typed by
the person using it and sent only with their own requests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from starlette.types import Receive, Scope, Send

from ..config import Config

# The static HTML links its stylesheet and scripts by file name, so the folder works as it is from
# any static server; when the proxy serves it, each link is replaced by the file's text.
_LINKED = re.compile(r'<link rel="stylesheet" href="([\w.-]+)">|<script src="([\w.-]+)"></script>')
_CONFIG_MARK = "<!-- server config -->"
STATIC_DIR = Path(__file__).parent / "static"


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page_settings(config: Config) -> dict[str, object]:
    """What the page is told about this proxy: the route paths, their provider and whether they are
    resumable, whether a token is needed.

    Never a key, a token, an upstream URL or a header value.
    """
    routes = []
    for route in config.routes:
        routes.append({"path": route.path, "provider": config.upstreams[route.upstream].label,
                       "resumable": route.resumable is not None})
    return {"routes": routes, "auth": config.auth.enabled}


def render_page(settings: dict[str, object], static_dir: Path = STATIC_DIR) -> tuple[bytes, str]:
    """The whole page as one document, and the Content-Security-Policy that lets exactly its inline code run."""
    html = (static_dir / "playground.html").read_text(encoding="utf-8")
    if html.count(_CONFIG_MARK) != 1:  # the packaged files are broken: fail at startup, not in a browser
        raise RuntimeError(f"{static_dir / 'playground.html'} must contain {_CONFIG_MARK!r} exactly once")
    scripts: list[str] = []
    styles: list[str] = []

    def inline(match: re.Match[str]) -> str:
        stylesheet, script = match.groups()
        text = (static_dir / (stylesheet or script)).read_text(encoding="utf-8")
        if "</s" in text.lower():  # "</script" or "</style" would end the inline block early
            raise RuntimeError(f"{static_dir / (stylesheet or script)} contains '</s' and cannot be inlined")
        (styles if stylesheet else scripts).append(_csp_hash(text))
        return f"<style>{text}</style>" if stylesheet else f"<script>{text}</script>"

    html = _LINKED.sub(inline, html)
    # "<" escaped so that no value can close the data block ("</script>") or open a comment.
    data = json.dumps(settings, separators=(",", ":")).replace("<", "\\u003c")
    html = html.replace(_CONFIG_MARK, f'<script type="application/json" id="playground-config">{data}</script>')
    csp = "; ".join([
        "default-src 'none'",
        f"script-src {' '.join(scripts)}",
        f"style-src {' '.join(styles)}",
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
        # GET or HEAD: stack.py puts the methods piece in front.
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self.body})
