"""What a new upstream connection costs the proxy when the provider speaks TLS, as they all do.

The bench's fake upstream speaks plain HTTP on loopback, where a new connection is nearly free;
a real provider is an HTTPS origin, and a request that cannot reuse a pooled connection pays a TCP
and a TLS handshake.  This measures the client side of that handshake on this machine (CPU time
and wall time, loopback, TLS 1.3, a P-256 certificate verified against its own CA), with httpx,
the proxy's client: a connection per request (no keep-alive) versus requests on one pooled connection.

    python -m bench.tls_cost
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REQUESTS = 200


def make_cert(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def serve(cert: Path, key: Path) -> tuple[asyncio.Server, int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    return server, server.sockets[0].getsockname()[1]


async def timed(cert: Path, port: int, pooled: bool) -> tuple[float, float]:
    """(CPU ms, wall ms) per request; the server runs in this process too, so CPU counts both ends."""
    url = f"https://127.0.0.1:{port}/"
    verify = ssl.create_default_context(cafile=str(cert))
    # The same client either way; without keep-alive every request opens (and closes) its own connection.
    limits = httpx.Limits(max_keepalive_connections=100 if pooled else 0)
    async with httpx.AsyncClient(verify=verify, trust_env=False, limits=limits) as client:
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(REQUESTS):
            (await client.get(url)).raise_for_status()
    return ((time.process_time() - cpu) * 1e3 / REQUESTS, (time.perf_counter() - wall) * 1e3 / REQUESTS)


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        cert, key = make_cert(Path(folder))
        server, port = await serve(cert, key)
        async with server:
            await timed(cert, port, True)  # warm up
            new = await timed(cert, port, False)
            pooled = await timed(cert, port, True)
    print(f"new TLS connection per request: {new[0]:.2f} ms CPU (both ends), {new[1]:.2f} ms wall")
    print(f"pooled connection:              {pooled[0]:.2f} ms CPU (both ends), {pooled[1]:.2f} ms wall")
    print(f"a handshake costs {new[0] - pooled[0]:.2f} ms CPU on loopback, before any network round trip")


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
