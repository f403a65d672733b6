"""Frames that are ready together leave in one ``send``.

Providers write every event as its own HTTP chunk, and httpx hands each chunk over on its own.
When they come one at a time (a model generating), each gets its send at once, as before.  When
several are already received (events that piled up: a slow loop, a network that batched them, a
provider that flushed a backlog), reading the next one does not wait, and the frames of all of them
are joined and sent when the next read would wait, or at the end.  Each send is a write system
call on the client's socket and, on loopback, the wake-up of the reader: the bench measured 73.8 ->
51.2 us per token with such bursts (bench/OPTIMISATIONS.md), and nothing is held back, since the
frames go out the moment the proxy would otherwise sit idle.

The moment "the next read would wait" is known exactly, with no timer: :class:`_BeforeSuspending`
drives the read's coroutine one step itself, and if that step suspends (the read waits for the
network) it flushes first, then hands the suspension to the event loop as ``await`` would.

So a flush runs while the read it follows is suspended, inside whatever the read entered (httpcore
reads inside an anyio cancel scope).  When the flush is interrupted (a timeout or a shutdown
cancels it while the client is slow to take the bytes), the read is unwound first, by throwing
the same exception into it, so the scopes it entered exit innermost first, before the exception
goes on up.  Abandoning it instead (``close()`` on the awaitable) leaves an async generator's
frame suspended with its scope still entered, and the caller's scope then fails to exit
("Attempted to exit a cancel scope that isn't the current task's current cancel scope"): that
was a stream cut with no ``RUN_ERROR`` (issue 15).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


Write = Callable[[bytes], Awaitable[None]]


class CoalescingSender:
    """Queues body bytes and writes them (one ``http.response.body`` message each), joined when
    ready together."""

    __slots__ = ("_pending", "_write")

    def __init__(self, write: Write) -> None:
        self._write = write
        self._pending: list[bytes] = []

    def queue(self, data: bytes) -> None:
        if data:
            self._pending.append(data)

    async def send(self, data: bytes) -> None:
        """Queue ``data`` and send everything queued now."""
        self.queue(data)
        await self.flush()

    async def flush(self) -> None:
        if self._pending:
            body = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending.clear()
            await self._write(body)

    def read(self, source: AsyncIterable[T]) -> AsyncIterator[T]:
        """``source``'s items; what is queued is sent whenever reading the next item would wait."""
        return _Reading(source.__aiter__(), self.flush)


class CoalescedBody:
    """An upstream body read from an iterator of chunks (httpx's stock transport, a body inflated
    anyway, a recording), seen as every body is (``call.UpstreamBody``): :meth:`receive` gives the
    next chunk (``b""`` at the end), :meth:`write` queues frames, and what is queued goes out in
    one write whenever the next read would wait, or at :meth:`flush`."""

    __slots__ = ("_chunks", "_sender", "flush")

    whole = False

    def __init__(self, chunks: AsyncIterator[bytes], write: Write) -> None:
        self._chunks = chunks
        self._sender = CoalescingSender(write)
        self.flush = self._sender.flush

    async def receive(self) -> bytes:
        chunks, flush = self._chunks, self._sender.flush
        while True:
            try:
                chunk = await _BeforeSuspending(chunks.__anext__(), flush)
            except StopAsyncIteration:
                return b""
            if chunk:
                return chunk

    async def write(self, data: bytes) -> None:
        self._sender.queue(data)


class _Reading(Generic[T]):
    """An async iterator, not an async generator: nothing to finalise when the reader stops early."""

    __slots__ = ("_before", "_items")

    def __init__(self, items: AsyncIterator[T], before: Callable[[], Awaitable[None]]) -> None:
        self._items = items
        self._before = before

    def __aiter__(self) -> _Reading[T]:
        return self

    def __anext__(self) -> Awaitable[T]:
        return _BeforeSuspending(self._items.__anext__(), self._before)


class _BeforeSuspending(Generic[T]):
    """Await ``awaitable``; if it suspends, await ``before()`` first (the coroutine protocol, by hand).

    ``await`` on this object steps the awaitable once: if it finishes at once, that is the result;
    if it yields (it waits for something), ``before()`` runs, then the yielded value goes to the
    event loop and every later ``send`` / ``throw`` (a result, a cancellation) is passed on, as
    ``yield from`` would.
    """

    __slots__ = ("_awaitable", "_before")

    def __init__(self, awaitable: Awaitable[T], before: Callable[[], Awaitable[None]]) -> None:
        self._awaitable = awaitable
        self._before = before

    def __await__(self) -> Generator[Any, Any, T]:
        steps = self._awaitable.__await__()
        try:
            suspension = steps.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            yield from self._before().__await__()
        except BaseException as interrupted:
            yield from _unwind(steps, interrupted)
            raise
        while True:
            try:
                value = yield suspension
            except BaseException as exc:  # a cancellation (or any error) thrown in by the loop
                try:
                    suspension = steps.throw(exc)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]
            else:
                try:
                    suspension = steps.send(value)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]


def _unwind(steps: Generator[Any, Any, Any], exc: BaseException) -> Generator[Any, Any, None]:
    """End the suspended read ``steps`` by throwing ``exc`` into it, and drive whatever cleanup it
    awaits (httpcore closes its connection under a shielded scope) to its end.  Whatever the read
    raises or returns is dropped: ``exc`` is what stopped the flush, and the caller raises it."""
    try:
        suspension = steps.throw(exc)
        while True:
            try:
                value = yield suspension
            except BaseException as again:
                suspension = steps.throw(again)
            else:
                suspension = steps.send(value)
    except BaseException:  # StopIteration (it returned), exc itself, or the read's own error
        return
