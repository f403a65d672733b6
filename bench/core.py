"""The sans-I/O core alone: upstream events per second through decoder, translator and encoder.

For every provider registered in ``agui_proxy.providers.PROVIDERS``, its recordings (the shared
corpus, folders mapped to provider names by :data:`FOLDERS`) are run through
:class:`~agui_proxy.core.pipeline.RunPipeline` over and over for a fixed time, fed one chunk per
upstream event as the network hands them over.  Three stages are timed apart, so the report says
where the time goes: the SSE decoder alone, decoder + translator (the run's events built but not
encoded), and the whole pipeline.  The bench's own Chat Completions stream is measured as well
(``bench-stream``): it is what the end-to-end rounds send.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agui_proxy.core.encoder import EventEncoder
from agui_proxy.core.pipeline import RunPipeline
from agui_proxy.core.run import RunBuilder
from agui_proxy.core.sse import SSEDecoder
from agui_proxy.errors import RunError
from agui_proxy.providers import PROVIDERS, Provider, UpstreamSettings

from .streams import finish_chunks, role_chunk, token_chunk

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AGUI_PROXY_SHARED", REPO.parent / "shared"))
STREAMS = SHARED / "fixtures" / "provider-streams"
# Recording folder -> the provider that speaks its format.
FOLDERS = {
    "openai-chat": "openai-chat",
    "openai-compatible": "openai-chat",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "openai-responses": "openai-responses",
}


def event_chunks(data: bytes) -> list[bytes]:
    """The recording cut after each blank line (LF or CRLF): one chunk per upstream event."""
    chunks: list[bytes] = []
    start = i = 0
    while i < len(data):
        if data.startswith(b"\n\n", i):
            end = i + 2
        elif data.startswith(b"\r\n\r\n", i):
            end = i + 4
        else:
            i += 1
            continue
        chunks.append(data[start:end])
        start = i = end
    if start < len(data):
        chunks.append(data[start:])
    return chunks


def bench_stream(tokens: int = 100) -> bytes:
    return role_chunk() + b"".join(token_chunk(i) for i in range(tokens)) + finish_chunks(tokens, True)


@dataclass
class Transcript:
    name: str
    chunks: list[bytes]
    events: int  # upstream SSE events in it

    @property
    def size(self) -> int:
        return sum(map(len, self.chunks))


def _count_events(data: bytes) -> int:
    decoder = SSEDecoder()
    return len(decoder.feed(data)) + len(decoder.close())


def transcripts(provider: str) -> tuple[list[Transcript], list[str]]:
    """The provider's recordings (and, for openai-chat, the bench's own stream); folders not found."""
    found: list[Transcript] = []
    missing: list[str] = []
    for folder, name in FOLDERS.items():
        if name != provider:
            continue
        if not (STREAMS / folder).is_dir():
            missing.append(folder)
            continue
        for path in sorted((STREAMS / folder).glob("*.sse")):
            data = path.read_bytes()
            found.append(Transcript(f"{folder}/{path.stem}", event_chunks(data), _count_events(data)))
    if provider == "openai-chat":
        data = bench_stream()
        found.append(Transcript("bench-stream", event_chunks(data), _count_events(data)))
    return found, missing


def make_provider(name: str) -> Provider:
    return PROVIDERS[name](UpstreamSettings(base_url="http://127.0.0.1:9/v1", model="bench-model"))


class _NoEncoder(EventEncoder):
    """Takes the run's events and writes nothing: decoder + translator, without the encoder."""

    def encode_many(self, events: Any) -> bytes:
        return b""


def _run_pipeline(provider: Provider, transcript: Transcript, encoder: EventEncoder) -> None:
    stream = RunPipeline(RunBuilder("thread_bench", "run_bench"), provider.translator, encoder)
    stream.start()
    for chunk in transcript.chunks:
        stream.feed(chunk)
        if stream.ended:
            return
    stream.close()


def _run_decoder(transcript: Transcript) -> None:
    decoder = SSEDecoder()
    try:
        for chunk in transcript.chunks:
            decoder.feed(chunk)
        decoder.close()
    except RunError:
        pass


def _rate(work: Callable[[], None], events: int, seconds: float) -> float:
    """Upstream events per second of ``work`` (which handles ``events`` events), run for ``seconds``."""
    work()  # warm caches
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        work()
        done += events
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def bench_provider(name: str, seconds: float) -> dict[str, Any]:
    """Every transcript of provider ``name`` through the three stages, ``seconds`` in all."""
    provider = make_provider(name)
    found, missing = transcripts(name)
    rows = []
    per_stage = max(seconds / (3 * max(len(found), 1)), 0.005)
    for t in found:
        rows.append({
            "transcript": t.name,
            "events": t.events,
            "bytes": t.size,
            "decoder": _rate(lambda t=t: _run_decoder(t), t.events, per_stage),
            "translator": _rate(lambda t=t: _run_pipeline(provider, t, _NoEncoder()), t.events, per_stage),
            "pipeline": _rate(lambda t=t: _run_pipeline(provider, t, EventEncoder()), t.events, per_stage),
        })
    return {"provider": name, "transcripts": rows, "missing_folders": missing}


def _harmonic_total(rows: list[dict[str, Any]], key: str) -> float:
    """Events per second over the whole corpus: total events / total time (a harmonic mean)."""
    events = sum(r["events"] for r in rows)
    seconds = sum(r["events"] / r[key] for r in rows if r[key])
    return events / seconds if seconds else 0.0


def run(seconds_per_provider: float) -> dict[str, Any]:
    providers = []
    for name in PROVIDERS:
        result = bench_provider(name, seconds_per_provider)
        rows = [r for r in result["transcripts"] if r["transcript"] != "bench-stream"]
        result["corpus"] = {k: _harmonic_total(rows, k) for k in ("decoder", "translator", "pipeline")} if rows else {}
        providers.append(result)
    unregistered = sorted({p for p in FOLDERS.values() if p not in PROVIDERS})
    return {"providers": providers, "unregistered_formats": unregistered}
