"""The Chat Completions streams the fake upstream sends, and what a client must get back.

Every stream is deterministic: token ``i`` of a stream is ``token_text(i)``, so the load client
knows the exact text each contender must deliver and checks it for every stream.  The first
token is ``FIRST_TOKEN``, a word no later token contains, so the client can time the first token
by finding it in the raw bytes, whatever framing the contender wraps it in.

The chunks copy what OpenAI sends (recordings in ``openai-chat/text-basic-gpt4o.sse``): a role
chunk, one chunk per token, a finish chunk, a usage chunk when ``stream_options.include_usage``
asked for it, then ``data: [DONE]``.

What the upstream does is set by the request itself, so every contender passes it on unchanged:
the last user message reads ``bench mode=<burst|paced|hold|held> tokens=<n> interval_ms=<ms>``
(``held``: paced, a token every ``interval_ms``, but its last token and end wait for
``POST /release``, so the bench decides how long thousands of paced streams stay open).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

FIRST_TOKEN = "Bench"
# A few shapes a real answer has: plain words, punctuation, quotes and a backslash (escaped in
# JSON), non-ASCII (escaped by json.dumps' defaults, UTF-8 in agui-proxy's frames).
_VOCABULARY = (" the", " proxy", " streams", " tokens", ",", " to", " a", " \"quoted\"", " user", ".",
               " interface", " é", " and", " back\\slash", " 日本", " model", "\n")

MODES = ("burst", "paced", "hold", "held")

_CHUNK_HEAD = ('{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1727346168,'
               '"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":')


def token_text(i: int) -> str:
    return FIRST_TOKEN if i == 0 else _VOCABULARY[(i * 7) % len(_VOCABULARY)]


def expected_text(tokens: int) -> str:
    return "".join(token_text(i) for i in range(tokens))


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """What one request asks the fake upstream for."""

    mode: str = "burst"
    tokens: int = 100
    interval_ms: float = 10.0

    def prompt(self) -> str:
        return f"bench mode={self.mode} tokens={self.tokens} interval_ms={self.interval_ms:g}"

    @classmethod
    def parse(cls, prompt: str) -> StreamSpec:
        fields = dict(part.split("=", 1) for part in prompt.split()[1:] if "=" in part)
        spec = cls(fields.get("mode", "burst"), int(fields.get("tokens", 100)),
                   float(fields.get("interval_ms", 10)))
        if spec.mode not in MODES or spec.tokens < 1:
            raise ValueError(f"bad bench prompt {prompt!r}")
        return spec

    @property
    def text(self) -> str:
        return expected_text(self.tokens)


def _sse(payload_json: str) -> bytes:
    return f"data: {payload_json}\n\n".encode()


def role_chunk() -> bytes:
    return _sse(_CHUNK_HEAD + '{"role":"assistant","content":"","refusal":null},"logprobs":null,'
                '"finish_reason":null}]}')


def token_chunk(i: int) -> bytes:
    content = json.dumps(token_text(i), ensure_ascii=False)
    return _sse(_CHUNK_HEAD + '{"content":' + content + '},"logprobs":null,"finish_reason":null}]}')


def finish_chunks(tokens: int, include_usage: bool) -> bytes:
    out = _sse(_CHUNK_HEAD + '{},"logprobs":null,"finish_reason":"stop"}]}')
    if include_usage:
        out += _sse('{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1727346168,'
                    '"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_bench","choices":[],'
                    f'"usage":{{"prompt_tokens":14,"completion_tokens":{tokens},"total_tokens":{tokens + 14},'
                    '"completion_tokens_details":{"reasoning_tokens":0}}}')
    return out + b"data: [DONE]\n\n"


def request_body_openai(spec: StreamSpec, model: str = "gpt-4o") -> bytes:
    """The body a client sends to an OpenAI-in contender (the passthrough, LiteLLM, the upstream)."""
    return json.dumps({"model": model, "stream": True, "max_tokens": 4000,
                       "messages": [{"role": "user", "content": spec.prompt()}]}).encode()


def request_body_branderux(spec: StreamSpec) -> bytes:
    """The body BranderUX's ``sseStream`` sends (agui-proxy and the docs server)."""
    return json.dumps({"params": {"system": "You are a benchmark.", "max_tokens": 4000,
                                  "messages": [{"role": "user", "content": spec.prompt()}],
                                  "tools": {"anthropic": [], "openai": [], "gemini": []}}}).encode()
