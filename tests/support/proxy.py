"""The real proxy as a subprocess (through its CLI), and a client that reads its streams.

:func:`start_proxy` writes a YAML config, runs ``python -m agui_proxy --config <file> --port
<free port>`` on 127.0.0.1, waits until it accepts connections and hands back a
:class:`ProxyProcess` whose :meth:`~ProxyProcess.stop` ends it (terminate, then kill).  Its stdout
and stderr go to files, so a test can read everything it logged (:meth:`~ProxyProcess.output`).

:func:`post` sends one request with httpx and reads the whole response; :class:`Reply` splits an
SSE body into its AG-UI events with :func:`tests.agui_check.parse_frames` (which fails on anything
but LF-only ``data: <one-line json>\\n\\n`` frames).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from .agui_check import assert_valid_run, parse_frames

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 20.0
T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def child_env(env: Mapping[str, str] | None = None, *, drop: Iterable[str] = ()) -> dict[str, str]:
    """The test process's environment, unbuffered output, plus ``env``, minus ``drop``."""
    out = {k: v for k, v in os.environ.items() if k not in set(drop)}
    out["PYTHONUNBUFFERED"] = "1"
    out.update(env or {})
    return out


def write_config(directory: Path, config: Mapping[str, Any] | str, name: str = "agui-proxy.yaml") -> Path:
    path = directory / name
    text = config if isinstance(config, str) else yaml.safe_dump(dict(config), sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "agui_proxy", *args]


def run_cli(directory: Path, args: Sequence[str], *, env: Mapping[str, str] | None = None,
            drop_env: Iterable[str] = (), timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run the CLI to its end (for the ones that must exit at once, such as config errors)."""
    return subprocess.run(cli_command(*args), cwd=directory, env=child_env(env, drop=drop_env),
                          capture_output=True, text=True, timeout=timeout, check=False)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """End a child process: terminate, then kill if it has not gone within 5 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


class ProxyProcess:
    """A running ``agui_proxy`` CLI; a context manager that stops it on exit."""

    def __init__(self, args: Sequence[str], port: int, directory: Path, env: dict[str, str],
                 preexec_fn: Callable[[], None] | None = None) -> None:
        self.port = port
        self.args = list(args)
        self._stdout_path = directory / f"proxy-{port}.stdout"
        self._stderr_path = directory / f"proxy-{port}.stderr"
        with open(self._stdout_path, "wb") as out, open(self._stderr_path, "wb") as err:
            self.process = subprocess.Popen(cli_command(*args), cwd=directory, env=env, stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, preexec_fn=preexec_fn)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def stdout(self) -> str:
        return self._stdout_path.read_text("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self._stderr_path.read_text("utf-8", "replace")

    def output(self) -> str:
        """Everything the process wrote so far, stdout then stderr."""
        return self.stdout + self.stderr

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        if self.workers > 1:
            timeout *= 2  # several workers build their apps at once, on a machine that may be busy
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"the proxy exited with {self.process.returncode} before accepting "
                                     f"connections: {self.args}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), timeout=0.5):
                if self.workers_started() >= self.workers:
                    return
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the proxy did not accept connections on {HOST}:{self.port} with "
                                     f"{self.workers} worker(s) started within {timeout} s: {self.args}\n"
                                     f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}")
            time.sleep(0.02)

    @property
    def workers(self) -> int:
        """How many worker processes the command line asks for (``--workers N``; else one)."""
        if "--workers" in self.args[:-1]:
            return int(self.args[self.args.index("--workers") + 1])
        return 1

    def workers_started(self) -> int:
        """Workers that have finished their start-up: with several, the parent listens before any
        worker has built its app, so a connection being accepted says nothing about the workers."""
        if self.workers == 1:
            return 1
        return self.output().count("Application startup complete")

    def stop(self) -> None:
        stop_process(self.process)

    def __enter__(self) -> ProxyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class ProxySetup:
    """How a test module's proxy runs: what its ``proxy_setup`` fixture gives the shared ``proxy``
    fixture (tests/integration/conftest.py), which starts it once for the module."""

    config: Mapping[str, Any] | str | None
    env: Mapping[str, str] | None = None
    extra_args: Sequence[str] = ()


# Which upstream transport every proxy a test starts runs on (``upstream_transport``), unless the
# test's config names one: CI runs the integration and fault tests once per transport.
TRANSPORT_ENV = "AGUI_TEST_UPSTREAM_TRANSPORT"


def with_test_transport(config: Mapping[str, Any] | str) -> Mapping[str, Any] | str:
    """``config`` with ``upstream_transport`` from :data:`TRANSPORT_ENV` when set and not given."""
    transport = os.environ.get(TRANSPORT_ENV)
    if not transport:
        return config
    if isinstance(config, str):
        loaded = yaml.safe_load(config)
        if not isinstance(loaded, dict) or "upstream_transport" in loaded:
            return config  # not a mapping (a test of a broken config) or it chose already
        return config.rstrip("\n") + f"\nupstream_transport: {transport}\n"
    return config if "upstream_transport" in config else {**config, "upstream_transport": transport}


def start_proxy(directory: Path, config: Mapping[str, Any] | str | None, *, env: Mapping[str, str] | None = None,
                drop_env: Iterable[str] = (), extra_args: Sequence[str] = (),
                preexec_fn: Callable[[], None] | None = None) -> ProxyProcess:
    """Start the CLI on a free port (``config=None``: no ``--config``, the embedded default);
    ``preexec_fn`` runs in the child before the CLI (a resource limit, say)."""
    port = free_port()
    args = ["--port", str(port), *extra_args]
    if config is not None:
        args = ["--config", str(write_config(directory, with_test_transport(config))), *args]
    proxy = ProxyProcess(args, port, directory, child_env(env, drop=drop_env), preexec_fn)
    proxy.wait_ready()
    return proxy


# -- the client side ----------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def frames(self) -> tuple[list[dict[str, Any]], bool]:
        """The AG-UI events and whether the body ended with ``data: [DONE]``.

        Every event is checked against the official models and the run's ordering rules on the
        way (:func:`tests.agui_check.assert_valid_run`), so no test reads an invalid stream.
        """
        events, done = parse_frames(self.body)
        assert_valid_run(events)
        return events, done

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.frames[0]

    @property
    def done(self) -> bool:
        return self.frames[1]

    def json(self) -> Any:
        return json.loads(self.body)


SECRET_WINDOW = 8  # redaction promises that no 8 characters of a secret in a row survive (core/redact.py)


def assert_no_secret(text: str | bytes, *secrets: str) -> None:
    """No window of :data:`SECRET_WINDOW` characters of any of ``secrets`` is in ``text``."""
    plain = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for secret in secrets:
        for i in range(max(1, len(secret) - SECRET_WINDOW + 1)):
            window = secret[i:i + SECRET_WINDOW]
            assert window not in plain, f"{window!r} (of a secret) is in: ...{plain[-2000:]}"


# A body of one-line ``data:`` frames, each ended by one blank line, LF only; and the same with an
# ``event: <TYPE>`` line before each (a route's ``event_lines``; ``data: [DONE]`` has none).
DATA_FRAMES = re.compile(rb"(?:data: [^\r\n]+\n\n)+")
EVENT_FRAMES = re.compile(rb"(?:event: [A-Z_]+\ndata: [^\r\n]+\n\n)+(?:data: \[DONE\]\n\n)?")


def sse_events(reply: Reply, *secrets: str, done: bool = True, event_lines: bool = False) -> list[dict[str, Any]]:
    """The events of a 200 SSE reply, after checking its headers, its framing and its run: the
    check every provider's integration tests read their streams through.

    The headers a proxied stream needs (no caching, no buffering by nginx), LF-only one-line
    frames (``event_lines``: each with its ``event:`` line) ending in ``data: [DONE]`` exactly
    when ``done``, a valid run that ended, and none of ``secrets`` anywhere.
    """
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "text/event-stream"
    assert reply.headers["cache-control"] == "no-cache"
    assert reply.headers["x-accel-buffering"] == "no"
    framing = EVENT_FRAMES if event_lines else DATA_FRAMES
    assert framing.fullmatch(reply.body), f"not LF-only one-line frames: {reply.body[:500]!r}"
    events, saw_done = reply.frames
    assert saw_done is done, f"data: [DONE] {'missing' if done else 'sent'}: {reply.body[-200:]!r}"
    assert reply.body.endswith(b"data: [DONE]\n\n") is done
    assert_valid_run(events)
    assert_no_secret(reply.body, *secrets)
    return events


def sse_run_error(reply: Reply, code: str, *parts: str, secrets: Iterable[str] = ()) -> list[dict[str, Any]]:
    """:func:`sse_events` of a run that ended with ``RUN_ERROR`` ``code``, its message holding ``parts``
    (and nothing but the type, the message, the code and the timestamp)."""
    events = sse_events(reply, *secrets)
    last = events[-1]
    assert last["type"] == "RUN_ERROR", [e["type"] for e in events]
    assert set(last) == {"type", "message", "code", "timestamp"}, last
    assert last["code"] == code, last
    for part in parts:
        assert part in last["message"], last
    return events


def wait_for_output(proxy: ProxyProcess, text: str, seen: int = 0, timeout: float = 5.0) -> str:
    """The proxy's output once ``text`` is in it more than ``seen`` times (the log line of this test)."""
    return eventually(proxy.output, lambda output: output.count(text) > seen,
                      f"the proxy logging {text!r} (again)", timeout)


def new_client(timeout: float = 10.0) -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(timeout), trust_env=False)


def _content(body: Mapping[str, Any] | bytes | str) -> bytes:
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def post(url: str, body: Mapping[str, Any] | bytes | str | Iterable[bytes], *,
         headers: Mapping[str, str] | None = None, method: str = "POST", timeout: float = 10.0) -> Reply:
    """Send one request and read the whole (streamed) response.

    An iterable of bytes is sent chunked, with no ``Content-Length``.
    """
    all_headers = {"content-type": "application/json", **(headers or {})}
    content: Any = body if isinstance(body, Iterator) else _content(body)  # type: ignore[arg-type]
    with new_client(timeout) as client, client.stream(method, url, content=content, headers=all_headers) as r:
        return Reply(r.status_code, r.headers, b"".join(r.iter_raw()))


class EventReader:
    """Reads a streamed proxy response one AG-UI frame at a time, as the frames arrive."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._chunks = response.iter_raw()
        self._buffer = b""
        self.raw = b""
        self.events: list[dict[str, Any]] = []
        self.done = False

    def next(self) -> dict[str, Any] | None:
        """The next event; ``None`` after ``data: [DONE]`` or at the end of the body."""
        while b"\n\n" not in self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return None
            self._buffer += chunk
            self.raw += chunk
        frame, self._buffer = self._buffer.split(b"\n\n", 1)
        if frame == b": ping":  # the keep-alive comment: clients skip it
            return self.next()
        payload = frame.decode().removeprefix("data: ")
        if payload == "[DONE]":
            self.done = True
            return None
        event: dict[str, Any] = json.loads(payload)
        self.events.append(event)
        return event

    def until(self, kind: str) -> dict[str, Any]:
        """Read up to and including the first event of type ``kind``."""
        while (event := self.next()) is not None:
            if event["type"] == kind:
                return event
        raise AssertionError(f"the stream ended without {kind}: {[e['type'] for e in self.events]}")

    def rest(self) -> bytes:
        """Read to the end; the whole body read so far."""
        for chunk in self._chunks:
            self.raw += chunk
        return self.raw


@contextlib.contextmanager
def open_stream(url: str, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None,
                timeout: float = 10.0) -> Iterator[EventReader]:
    all_headers = {"content-type": "application/json", **(headers or {})}
    with new_client(timeout) as client, client.stream("POST", url, content=_content(body), headers=all_headers) as r:
        yield EventReader(r)


class RawStream:
    """A request on a bare socket, so a test can leave mid-response by closing the connection."""

    def __init__(self, url: str, path: str, body: Mapping[str, Any], headers: Mapping[str, str] | None = None,
                 timeout: float = 10.0) -> None:
        parsed = httpx.URL(url)
        assert parsed.host == HOST
        self.sock = socket.create_connection((HOST, parsed.port or 80), timeout=timeout)
        data = _content(body)
        head = [f"POST {path} HTTP/1.1", f"host: {HOST}:{parsed.port}", "content-type: application/json",
                f"content-length: {len(data)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        self.received = b""

    def read_until(self, marker: bytes) -> bytes:
        """Read until ``marker`` is in what was received (status line and headers included)."""
        while marker not in self.received:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"the proxy closed the connection before {marker!r}: {self.received!r}")
            self.received += chunk
        return self.received

    def close(self) -> float:
        """Close the connection; the ``time.monotonic()`` just before."""
        now = time.monotonic()
        self.sock.close()
        return now

    def __enter__(self) -> RawStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def eventually(read: Callable[[], T], done: Callable[[T], bool], what: str, timeout: float = 5.0) -> T:
    """``read()`` once ``done`` holds for it, polling (a request's metrics and log line follow its last byte)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened; last: {value!r}")
        time.sleep(0.02)


class SlowReader:
    """A client on a bare socket with a small receive buffer that reads when, and as fast as, the
    test says: it can stop reading for a while (the proxy's sends then block) or read at a rate.

    :meth:`response` de-chunks what was read into a :class:`Reply`, so the body is checked like any
    other.
    """

    RCVBUF = 8192

    def __init__(self, url: str, path: str, body: Mapping[str, Any] | bytes,
                 headers: Mapping[str, str] | None = None, timeout: float = 30.0, mss: int | None = None) -> None:
        parsed = httpx.URL(url)
        assert parsed.host == HOST
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connecting, so the window the proxy may fill is small from the start.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RCVBUF)
        if mss is not None:
            # An internet-sized segment (loopback's is 64 KB): the kernel then sizes the proxy's
            # send buffer for this connection at about a hundred KB instead of megabytes, so a
            # client that stops reading stalls the proxy's writes after little data.
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        self.sock.settimeout(timeout)
        self.sock.connect((HOST, parsed.port or 80))
        data = _content(body)
        head = [f"POST {path} HTTP/1.1", f"host: {HOST}:{parsed.port}", "content-type: application/json",
                f"content-length: {len(data)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        self.received = bytearray()
        self.eof = False

    def read_until(self, marker: bytes) -> None:
        while marker not in self.received:
            if not self._recv(65536):
                raise AssertionError(f"the connection ended before {marker!r}: {bytes(self.received[-300:])!r}")

    def _recv(self, size: int) -> bool:
        chunk = self.sock.recv(size)
        if not chunk:
            self.eof = True
            return False
        self.received += chunk
        return True

    def read_at(self, bytes_per_second: float, until: bytes = b"0\r\n\r\n") -> None:
        """Read at most ``bytes_per_second`` until the chunked body's last chunk (or the end)."""
        started = time.monotonic()
        read = 0
        while not self.received.endswith(until) and not self.eof:
            ahead = read / bytes_per_second - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)  # pacing the reader is the fault under test, not synchronisation
            before = len(self.received)
            self._recv(4096)
            read += len(self.received) - before

    def read_to_end(self) -> None:
        while not self.received.endswith(b"0\r\n\r\n") and self._recv(65536):
            pass

    def stall(self, seconds: float) -> None:
        """Stop reading for ``seconds``: the fault under test (the proxy's sends block), not a wait."""
        time.sleep(seconds)

    def response(self) -> Reply:
        """The response read so far (status, headers, de-chunked body)."""
        head, _, rest = bytes(self.received).partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = httpx.Headers([tuple(line.split(": ", 1)) for line in lines])  # type: ignore[misc]
        body = bytearray()
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            body += rest[:size]
            rest = rest[size + 2:]
        return Reply(int(status_line.split(" ")[1]), headers, bytes(body))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> SlowReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
