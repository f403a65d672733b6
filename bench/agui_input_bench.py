"""How long reading a request body takes: an AG-UI RunAgentInput against the same BranderUX body.

A RunAgentInput is validated by the official ``ag-ui-protocol`` models (pydantic) before it is
read into the neutral conversation; a BranderUX body is read by hand.  This measures what that
costs per request, for a short and a long conversation.  Bounded: a fixed number of rounds.

    .venv/bin/python bench/agui_input_bench.py
"""

from __future__ import annotations

import json
import statistics
import time

from agui_proxy.core.inbound import read_request

ROUNDS = 7
CALLS = 300


def conversation(turns: int) -> tuple[bytes, bytes]:
    """The same conversation as a BranderUX body and as a RunAgentInput (with one tool)."""
    text = "Tell me about the weather in Paris this week, and what to wear. " * 4
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"{i}: {text}"} for i in range(turns)]
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    branderux = {"params": {"system": "Be brief.", "messages": messages, "max_tokens": 4000,
                            "tools": {"openai": [{"type": "function", "function": {
                                "name": "get_weather", "description": "Weather", "parameters": schema}}]}}}
    agui = {"threadId": "thread-1", "runId": "run-1", "state": {}, "forwardedProps": {}, "context": [],
            "messages": [{"id": "s", "role": "system", "content": "Be brief."},
                         *({"id": f"m{i}", **m} for i, m in enumerate(messages))],
            "tools": [{"name": "get_weather", "description": "Weather", "parameters": schema}]}
    return json.dumps(branderux).encode(), json.dumps(agui).encode()


def per_call_us(body: bytes) -> float:
    """Median over the rounds of the mean time of one read_request call, in microseconds."""
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(CALLS):
            read_request(body)
        samples.append((time.perf_counter() - start) / CALLS * 1e6)
    return statistics.median(samples)


def main() -> None:
    print(f"read_request per call (median of {ROUNDS} rounds of {CALLS} calls)")
    for turns in (2, 40):
        branderux, agui = conversation(turns)
        b, a = per_call_us(branderux), per_call_us(agui)
        print(f"  {turns:3d} messages: BranderUX {b:7.1f} us ({len(branderux)} B)   "
              f"RunAgentInput {a:7.1f} us ({len(agui)} B)   ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
