"""Small Chat Completions transcripts for the integration tests (FORMATS.md section 1)."""

from __future__ import annotations

from typing import Any

MODEL = "gpt-4o-mini"
SERVED_MODEL = "gpt-4o-mini-2024-07-18"
CHAT_ID = "chatcmpl-AbCdEf0123456789"


def chunk(delta: dict[str, Any] | None = None, finish_reason: str | None = None, *,
          usage: dict[str, Any] | None = None, choices: bool = True) -> dict[str, Any]:
    """One ``chat.completion.chunk`` as api.openai.com streams it (2025: ``usage: null`` on each)."""
    out: dict[str, Any] = {
        "id": CHAT_ID, "object": "chat.completion.chunk", "created": 1763683200, "model": SERVED_MODEL,
        "service_tier": "default", "system_fingerprint": "fp_560af6e559",
        "choices": [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}]
        if choices else [],
        "usage": usage,
    }
    if delta is not None or finish_reason is not None:
        out["obfuscation"] = "x1Yz"
    return out


USAGE = {
    "prompt_tokens": 31, "completion_tokens": 9, "total_tokens": 40,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0,
                                  "rejected_prediction_tokens": 0},
}
EXPECTED_USAGE = [{"provider": "openai", "model": SERVED_MODEL, "inputTokens": 31, "outputTokens": 9,
                   "totalTokens": 40, "reasoningTokens": 0, "cachedInputTokens": 0}]

TEXT_PIECES = ["Bonjour", " ! Paris", " est à 12 °C", " aujourd’hui 🌤", ".\nLigne 2: \"quoted\" \\ back"]
TEXT = "".join(TEXT_PIECES)


def text_transcript() -> list[dict[str, Any]]:
    return [
        chunk({"role": "assistant", "content": "", "refusal": None}),
        *(chunk({"content": piece}) for piece in TEXT_PIECES),
        chunk({}, "stop"),
        chunk(usage=USAGE, choices=False),
    ]


TOOL_TEXT = "Let me look that up."
WEATHER_ARGS = '{"city": "Paris", "unit": "celsius"}'
TIME_ARGS = '{"timezone":"Europe/Paris"}'


def tool_transcript() -> list[dict[str, Any]]:
    """Some text, then two parallel tool calls whose arguments stream in fragments."""

    def call(index: int, arguments: str, **first: Any) -> dict[str, Any]:
        fragment: dict[str, Any] = {"index": index, **first, "function": {"arguments": arguments}}
        if "name" in first:
            fragment["function"]["name"] = fragment.pop("name")
        return chunk({"tool_calls": [fragment]})

    return [
        chunk({"role": "assistant", "content": None}),
        chunk({"content": "Let me"}),
        chunk({"content": " look that up."}),
        call(0, "", id="call_W3ath3r0001", type="function", name="get_weather"),
        call(0, '{"city'),
        call(0, '": "Par'),
        call(0, 'is", "unit": '),
        call(0, '"celsius"}'),
        call(1, "", id="call_T1me0002", type="function", name="get_time"),
        call(1, '{"timezone":"Europe/'),
        call(1, 'Paris"}'),
        chunk({}, "tool_calls"),
        chunk(usage=USAGE, choices=False),
    ]


OPENAI_TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                         "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                       "required": ["city"]},
    }},
]
ANTHROPIC_TOOLS = [
    {"name": "get_weather", "description": "Current weather in a city",
     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"name": "get_time", "description": "Current time in a timezone",
     "input_schema": {"type": "object", "properties": {"timezone": {"type": "string"}}}},
]


def openai_error(message: str, type_: str = "server_error", code: str | None = None) -> dict[str, Any]:
    """An error body as OpenAI's API writes one (a whole answer, or one event of a stream)."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}
