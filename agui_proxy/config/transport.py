"""The config of the network layer under the shared upstream client: which transport, which CAs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .strict import Strict

# "lean": the proxy's own HTTP/1.1 transport (agui_proxy/upstream/transport): about a third of httpx's
# stock network layer's CPU per token, and an O(1) connection pool (bench/OPTIMISATIONS.md).
# "httpx": httpx's stock transport (httpcore + h11 + anyio), kept selectable.
UpstreamTransport = Literal["lean", "httpx"]


class UpstreamTLSConfig(Strict):
    """How upstream certificates are checked (both transports)."""

    verify: bool = True  # false: no certificate check at all (a test upstream only, never in production)
    # A PEM bundle of CAs to trust instead of certifi's (a private CA, a corporate TLS proxy);
    # relative to the config file's folder.
    ca_file: Path | None = None
