"""Driving the sans-I/O pipeline directly: a provider's translator fed recorded bytes.

Ids and timestamps are made deterministic so that the output of the same input, split
differently, can be compared byte for byte.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from agui_proxy.core.encoder import EventEncoder
from agui_proxy.core.inbound import read_request
from agui_proxy.core.pipeline import RunPipeline
from agui_proxy.core.run import RunBuilder
from agui_proxy.providers import SOURCES, HTTPProvider, Provider, UpstreamRequest

from .agui_check import assert_valid_run, parse_frames
from .recordings import split_offsets


def provider(name: str, **settings: Any) -> Provider:
    settings.setdefault("base_url", "http://127.0.0.1:9/v1")
    settings.setdefault("model", "test-model")
    cls = SOURCES[name]  # the SSE formats and Bedrock (Vertex is built from its config: tests/providers)
    assert issubclass(cls, HTTPProvider), name
    return cls(cls.settings_class(**settings))


def built_request(name: str, client_body: dict[str, Any], **settings: Any) -> UpstreamRequest:
    """The upstream request provider ``name`` builds for a client body (BranderUX's or AG-UI's)."""
    conversation = read_request(json.dumps(client_body).encode()).conversation
    request = provider(name, **settings).build_request(conversation)
    assert isinstance(request, UpstreamRequest) and request.method == "POST", request
    return request


def counter_ids() -> Callable[[str], str]:
    numbers = itertools.count(1)
    return lambda prefix: f"{prefix}_{next(numbers)}"


def run_bytes(prov: Provider, chunks: Iterable[bytes], *, reasoning: bool = True, citations: bool = True,
              provider_tools: bool = True) -> bytes:
    """The whole response body the proxy would send for an upstream body arriving as ``chunks``
    (by default as for an AG-UI client: provider tools shown, citations carried)."""
    run = RunBuilder("thread_1", "run_1", reasoning=reasoning, id_factory=counter_ids(), citations=citations,
                     provider_tools=provider_tools)
    stream = RunPipeline(run, prov.translator, EventEncoder(clock=lambda: 1_700_000_000.0), done_frame=True,
                         make_decoder=prov.decoder)
    out = [stream.start()]
    for chunk in chunks:
        out.append(stream.feed(chunk))
        if stream.ended:
            break
    if not stream.ended:
        out.append(stream.close())
    return b"".join(out)


def run_events(prov: Provider, data: bytes, **kw: Any) -> list[dict[str, Any]]:
    """Events for ``data`` fed whole; checked valid, terminated by [DONE]."""
    events, done = parse_frames(run_bytes(prov, [data], **kw))
    assert done, "no data: [DONE] at the end"
    assert_valid_run(events)
    return events


def assert_split_invariant(prov: Provider, data: bytes) -> bytes:
    """Whole, byte by byte and split in two at every (or a sample of) offset: identical output."""
    whole = run_bytes(prov, [data])
    assert run_bytes(prov, [data[i:i + 1] for i in range(len(data))]) == whole, "byte-by-byte differs"
    for at in split_offsets(len(data)):
        assert run_bytes(prov, [data[:at], data[at:]]) == whole, f"split at {at} differs"
    return whole


def sse_payloads(path: Path) -> list[tuple[str, Any]]:
    """A simple reference reading of a recording: (event name, JSON or raw data) per event.

    Independent of the project's decoder on purpose (normalise line ends, split on blank lines).
    """
    text = path.read_bytes().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    out: list[tuple[str, Any]] = []
    for block in text.split("\n\n"):
        name, data = "", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data:
            raw = "\n".join(data)
            try:
                out.append((name, json.loads(raw)))
            except ValueError:
                out.append((name, raw))
    return out


def parsed_args(text: str) -> Any:
    return json.loads(text) if text.strip() else {}
