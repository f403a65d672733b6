"""Connections per origin: new ones opened through the event loop (TCP, or TLS with SNI), idle ones
kept alive and handed out again in O(1).

Each origin's idle connections are a dict used as an ordered set: taking one (the most recently
used, whose server is likeliest to keep it) and dropping one that the server closed are both
O(1), whatever the number of connections.  A pool that scans every connection at each request's
start and end (httpcore's ``_assign_requests_to_connections``, encode/httpcore#1035) costs O(N)
per request, O(N^2) to open N streams: what kept one process from holding thousands of them.
There is no cap on the number of connections (the proxy's stream gate caps streams); the number
kept idle per origin is capped, and an idle connection is closed after ``keepalive_expiry``.
"""

from __future__ import annotations

import asyncio
import ssl

import httpx

from .connection import Connection

Origin = tuple[bytes, bytes, int]  # (scheme, host, port)


class ConnectionPool:
    def __init__(self, ssl_context: ssl.SSLContext, *, max_idle_per_origin: int = 100,
                 keepalive_expiry: float = 5.0) -> None:
        self._ssl_context = ssl_context
        self._max_idle = max_idle_per_origin
        self._expiry = keepalive_expiry
        self._idle: dict[Origin, dict[Connection, None]] = {}
        self._open: set[Connection] = set()  # every connection not yet closed, to close them at the end

    async def acquire(self, origin: Origin, connect_timeout: float | None) -> Connection:
        """An idle connection to ``origin`` if one is alive, else a new one."""
        idle = self._idle.get(origin)
        while idle:
            conn, _ = idle.popitem()
            if conn.idle_timer is not None:
                conn.idle_timer.cancel()
                conn.idle_timer = None
            conn.on_lost = None
            if not conn.closed:
                return conn
        return await self._connect(origin, connect_timeout)

    def release(self, conn: Connection) -> None:
        """Back to the pool if it can carry another request; closed otherwise."""
        idle = self._idle.setdefault(conn.origin, {})
        if not conn.reusable or len(idle) >= self._max_idle or self._expiry <= 0:
            self.discard(conn)
            return
        idle[conn] = None
        conn.on_lost = self._lost_while_idle
        conn.idle_timer = conn.loop.call_later(self._expiry, self._expire, conn)

    def discard(self, conn: Connection) -> None:
        conn.close()
        self._open.discard(conn)

    def _lost_while_idle(self, conn: Connection) -> None:
        """The server closed a connection that sat in the pool: forget it at once (O(1))."""
        idle = self._idle.get(conn.origin)
        if idle is not None:
            idle.pop(conn, None)
        self._open.discard(conn)

    def _expire(self, conn: Connection) -> None:
        conn.idle_timer = None
        self._lost_while_idle(conn)
        conn.close()

    async def _connect(self, origin: Origin, timeout: float | None) -> Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        hostname = host.decode("ascii")
        tls = scheme == b"https"
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: Connection(loop, origin), hostname, port,
                    ssl=self._ssl_context if tls else None,
                    # SNI and the certificate's name check; ``host`` is bracket-free for IPv6.
                    server_hostname=hostname if tls else None)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"could not connect to {hostname}:{port} within {timeout:g} s") from None
        except ssl.SSLError as exc:  # SSLCertVerificationError included: a wrong or untrusted certificate
            raise httpx.ConnectError(f"TLS with {hostname}:{port} failed: {exc}") from None
        except OSError as exc:
            raise httpx.ConnectError(f"could not connect to {hostname}:{port}: {exc.strerror or exc}") from None
        self._open.add(conn)
        return conn

    def close(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()
