"""The whole sans-I/O pipeline of one run: upstream bytes in, AG-UI frames out.

    bytes ──SSEDecoder──▶ SSE events ──Translator──▶ RunBuilder ──EventEncoder──▶ frames

The shell calls :meth:`RunStream.start` once, :meth:`feed` with each chunk of the upstream body,
and :meth:`close` at its end, or :meth:`fail` when the upstream fails.  Each returns the bytes to
send (possibly empty).  Once :attr:`ended` is true the run is over (``RUN_FINISHED`` or
``RUN_ERROR`` and the terminator were produced) and the shell stops reading the upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import UpstreamError
from .encoder import DONE_FRAME, EventEncoder
from .redact import redact
from .run import RunBuilder
from .sse import DEFAULT_MAX_EVENT_SIZE, SSEDecoder
from .translator import Translator


class RunStream:
    def __init__(
        self,
        run: RunBuilder,
        make_translator: Callable[[RunBuilder], Translator],
        encoder: EventEncoder,
        *,
        done_frame: bool = True,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        secrets: Sequence[str] = (),
    ) -> None:
        self.run = run
        self._translator = make_translator(run)
        self._encoder = encoder
        self._decoder = SSEDecoder(max_event_size)
        self._done_frame = done_frame
        self._secrets = secrets
        self.error: UpstreamError | None = None

    @property
    def ended(self) -> bool:
        return self.run.ended

    def start(self) -> bytes:
        return self._flush()

    def feed(self, chunk: bytes) -> bytes:
        if self.run.ended:
            return b""
        try:
            for event in self._decoder.feed(chunk):
                if event.data:  # a bare "data:" line carries nothing (some servers' keep-alive)
                    self._translator.feed(event)
                    if self.run.ended:
                        break
        except UpstreamError as exc:
            self._fail(exc)
        return self._flush()

    def close(self) -> bytes:
        """The upstream body ended."""
        if not self.run.ended:
            try:
                for event in self._decoder.close():
                    if event.data:
                        self._translator.feed(event)
                        if self.run.ended:
                            break
                if not self.run.ended:
                    self._translator.close(self._decoder.truncated)
            except UpstreamError as exc:
                self._fail(exc)
        return self._flush()

    def fail(self, error: UpstreamError) -> bytes:
        """The upstream failed (HTTP error, connection lost, timeout): end the run with RUN_ERROR."""
        self._fail(error)
        return self._flush()

    def _fail(self, error: UpstreamError) -> None:
        if not self.run.ended:
            # Every error message passes here on its way to the client: providers echo keys back.
            error.message = redact(error.message, self._secrets)
            self.error = error
            self.run.fail(error.message, error.code)

    def _flush(self) -> bytes:
        events = self.run.take()
        if not events:
            return b""
        data = self._encoder.encode_many(events)
        if self.run.ended and self._done_frame:
            data += DONE_FRAME
        return data
