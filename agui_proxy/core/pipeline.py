"""The whole sans-I/O pipeline of one run: upstream bytes in, AG-UI frames out.

    bytes ──SSEDecoder──▶ SSE events ──Translator──▶ RunBuilder ──enrichers──▶ EventEncoder ──▶ frames

The enrichers (:mod:`.enrichers`; by default the citation enricher alone) see the events only
when there is work for them: a run without citations and without enrichers of the operator's own
goes from the run to the encoder directly.

The decoder is the provider's (``make_decoder``): the SSE decoder for every provider but Bedrock,
whose answer is AWS's binary event stream (``eventstream.py``), read into the same events.

The shell calls :meth:`RunPipeline.start` once, :meth:`feed` with each chunk of the upstream body,
and :meth:`close` at its end, or :meth:`fail` when the upstream fails.  Each returns the bytes to
send (possibly empty).  Once :attr:`ended` is true the run is over (``RUN_FINISHED`` or
``RUN_ERROR`` and the terminator were produced) and the shell stops reading the upstream.

A shell that can try again elsewhere (a retry, a fallback upstream) builds the pipeline with
``hold_early_failure``: an error found in the upstream's bytes before anything but
``RUN_STARTED`` was produced is then kept in :attr:`early_failure` instead of ending the run,
and the client never sees that attempt.  Once output has started, errors end the run as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..errors import RunError, UpstreamProtocolError, UpstreamTruncated
from .encoder import DONE_FRAME, EventEncoder
from .enrichers import DEFAULT_ENRICHERS, Enricher, EnricherChain
from .redact import NO_SECRETS, Redactor
from .run import RunBuilder
from .sse import DEFAULT_MAX_EVENT_SIZE, SSEDecoder, SSEEvent
from .translator import EventDecoder, Translator


class RunPipeline:
    def __init__(
        self,
        run: RunBuilder,
        make_translator: Callable[[RunBuilder], Translator],
        encoder: EventEncoder,
        *,
        done_frame: bool = True,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        redactor: Redactor = NO_SECRETS,
        hold_early_failure: bool = False,
        enrichers: Sequence[Enricher] = DEFAULT_ENRICHERS,
        client: str = "agui",
        make_decoder: Callable[[int], EventDecoder] = SSEDecoder,
    ) -> None:
        self.run = run
        self._enrichers = EnricherChain(enrichers, thread_id=run.thread_id, run_id=run.run_id, client=client)
        self._translator = make_translator(run)
        self._encoder = encoder
        self._decoder = make_decoder(max_event_size)
        self._done_frame = done_frame
        self._redact = redactor
        self.error: RunError | None = None
        self._hold_early = hold_early_failure
        self.early_failure: RunError | None = None
        self._output_started = False

    @property
    def ended(self) -> bool:
        """The run is over: ``RUN_FINISHED`` or ``RUN_ERROR`` and the terminator were produced."""
        return self.run.over

    @property
    def stream_ended(self) -> bool:
        """This upstream answer is complete: stop reading it (for a run of one upstream call, the
        run is over too; a run of several goes on with its next call, ``core/steps.py``)."""
        return self.run.ended

    @property
    def output_started(self) -> bool:
        """Whether :meth:`feed` or :meth:`close` produced anything (the upstream's answer began)."""
        return self._output_started

    def start(self) -> bytes:
        return self._flush()

    def feed(self, chunk: bytes) -> bytes:
        if self.run.ended or self.early_failure is not None:
            return b""
        try:
            for event in self._decoder.feed(chunk):
                if event.data:  # a bare "data:" line carries nothing (some servers' keep-alive)
                    self._translator.feed(event)
                    if self.run.ended:
                        break
        except RunError as exc:
            self._upstream_failed(exc)
        return self._output(self._flush())

    def feed_whole(self, body: bytes, to_events: Callable[[bytes], list[SSEEvent]]) -> bytes:
        """A whole non-streamed answer: ``to_events`` gives the events its stream would have been
        (:mod:`agui_proxy.providers.whole_response`), which end the run as that stream would."""
        if self.run.ended or self.early_failure is not None:
            return b""
        try:
            for event in to_events(body):
                self._translator.feed(event)
                if self.run.ended:
                    break
            if not self.run.ended:
                self._translator.close(False)
        except RunError as exc:
            self._upstream_failed(exc)
        return self._output(self._flush())

    def close(self) -> bytes:
        """The upstream body ended."""
        if not self.run.ended and self.early_failure is None:
            try:
                for event in self._decoder.close():
                    if event.data:
                        self._feed_last(event)
                        if self.run.ended:
                            break
                if not self.run.ended:
                    self._translator.close(self._decoder.truncated)
            except RunError as exc:
                self._upstream_failed(exc)
        return self._output(self._flush())

    def _feed_last(self, event: SSEEvent) -> None:
        """The event the body ended on.  Not ended by a blank line, it may be whole (recorded
        streams end so, FORMATS.md section 0) or cut in its middle: when it cannot be read, the
        stream was cut short, like one cut on an event boundary (clients retry on that code)."""
        try:
            self._translator.feed(event)
        except UpstreamProtocolError as exc:
            if not self._decoder.truncated:
                raise
            raise UpstreamTruncated("the upstream stream ended in the middle of an event") from exc

    def _output(self, data: bytes) -> bytes:
        if data:
            self._output_started = True
        return data

    def _upstream_failed(self, error: RunError) -> None:
        if self._hold_early and not self._output_started and not self.run.pending:
            self.early_failure = error
        else:
            self._fail(error)

    def fail(self, error: RunError) -> bytes:
        """The upstream failed (HTTP error, connection lost, timeout): end the run with RUN_ERROR."""
        self._fail(error)
        return self._flush()

    def _fail(self, error: RunError) -> None:
        if not self.run.over:
            # Every error message passes here on its way to the client: providers echo keys back.
            error.message = self._redact(error.message)
            self.error = error
            self.run.fail(error.message, error.code)

    def _flush(self) -> bytes:
        events = self.run.take()
        if self._enrichers.eager or self.run.cited:
            events = self._enrichers.apply(events)
        if not events:
            return b""
        data = self._encoder.encode_many(events)
        if self.run.over and self._done_frame:
            data += DONE_FRAME
        return data
