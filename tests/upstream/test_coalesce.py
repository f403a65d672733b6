"""Frames ready together leave in one send; frames that come one at a time leave at once.

:class:`CoalescingSender` is driven with sources whose items are either ready (an async iterator
that never waits) or arrive later (it sleeps), and a ``send`` that records what it is given and
when, relative to the reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from agui_proxy.upstream.coalesce import CoalescingSender, _BeforeSuspending


class Recorder:
    def __init__(self) -> None:
        self.log: list[Any] = []

    async def send(self, body: bytes) -> None:
        self.log.append(body)


async def items(*steps: bytes | float) -> AsyncIterator[bytes]:
    """Bytes are yielded at once; a float is a pause (the read waits) before the next one."""
    for step in steps:
        if isinstance(step, float):
            await asyncio.sleep(step)
        else:
            yield step


async def pump(sender: CoalescingSender, source: AsyncIterator[bytes], log: list[Any]) -> None:
    async for item in sender.read(source):
        log.append(("read", item))
        sender.queue(item.upper())
    await sender.flush()


def run(*steps: bytes | float) -> list[Any]:
    recorder = Recorder()
    asyncio.run(pump(CoalescingSender(recorder.send), items(*steps), recorder.log))
    return recorder.log


def test_items_ready_together_are_sent_together() -> None:
    assert run(b"a", b"b", b"c") == [("read", b"a"), ("read", b"b"), ("read", b"c"), b"ABC"]


def test_each_item_is_sent_before_the_read_waits() -> None:
    assert run(b"a", 0.01, b"b", 0.01, b"c") == [("read", b"a"), b"A", ("read", b"b"), b"B", ("read", b"c"), b"C"]


def test_a_burst_after_a_wait() -> None:
    assert run(b"a", 0.01, b"b", b"c", 0.01, b"d") == [
        ("read", b"a"), b"A", ("read", b"b"), ("read", b"c"), b"BC", ("read", b"d"), b"D"]


def test_send_sends_what_is_queued_first() -> None:
    recorder = Recorder()

    async def main() -> None:
        sender = CoalescingSender(recorder.send)
        sender.queue(b"1")
        sender.queue(b"")
        await sender.send(b"2")
        await sender.send(b"")
        await sender.flush()

    asyncio.run(main())
    assert recorder.log == [b"12"]


def test_errors_from_the_source_pass_through_with_the_queue_kept() -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield b"a"
        raise OSError("gone")

    recorder = Recorder()

    async def main() -> None:
        sender = CoalescingSender(recorder.send)
        with pytest.raises(OSError, match="gone"):
            async for item in sender.read(failing()):
                sender.queue(item)
        await sender.send(b"error frame")

    asyncio.run(main())
    assert recorder.log == [b"aerror frame"]


def test_a_cancelled_read_is_cancelled_inside_and_nothing_more_is_sent() -> None:
    recorder = Recorder()
    reached_inner_finally = []

    async def slow() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            await asyncio.sleep(10)
            yield b"never"
        finally:
            reached_inner_finally.append(True)

    async def main() -> None:
        sender = CoalescingSender(recorder.send)
        source = slow()
        with anyio.move_on_after(0.05) as scope:
            async for item in sender.read(source):
                sender.queue(item)
        assert scope.cancelled_caught
        await source.aclose()

    asyncio.run(main())
    assert recorder.log == [b"a"]  # flushed before the read waited; nothing after the cancellation
    assert reached_inner_finally == [True]


def test_the_awaitable_result_and_a_synchronous_result() -> None:
    calls: list[str] = []

    async def before() -> None:
        calls.append("before")

    async def immediate() -> int:
        return 1

    async def waits() -> int:
        await asyncio.sleep(0)
        return 2

    async def main() -> tuple[int, int]:
        return await _BeforeSuspending(immediate(), before), await _BeforeSuspending(waits(), before)

    assert asyncio.run(main()) == (1, 2)
    assert calls == ["before"]  # only the one that suspended


def test_an_error_in_before_closes_the_read() -> None:
    async def before() -> None:
        raise RuntimeError("send failed")

    async def waits() -> int:
        await asyncio.sleep(0)
        return 2

    async def main() -> None:
        awaitable = waits()
        with pytest.raises(RuntimeError, match="send failed"):
            await _BeforeSuspending(awaitable, before)
        assert awaitable.cr_frame is None  # closed, not left suspended

    asyncio.run(main())
