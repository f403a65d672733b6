"""The tool loops of test_multi_turn.py: per provider, what the upstream answers to each turn and
what its second request must be (the provider's documented request, the recorded one where the
recordings have it).

Each loop's turn 1 is a recorded stream (or, where no recording has the case, one written in the
provider's recorded format) that ends in a tool call; turn 2 is a recorded text answer.  The
expectation is computed from turn 1's own bytes: the signatures and encrypted values it carried,
in order, each beside the call or turn the provider documents it with.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agui_proxy.core.eventstream import EventStreamDecoder
from agui_proxy.core.sse import SSEDecoder

from ..support import eventstream as es
from ..support.recordings import STREAMS

Expect = Callable[["Loop", list[str]], dict[str, Any]]


@dataclass
class Loop:
    """One two-turn loop: ``expect(loop, call_ids)`` is what the second request must hold (its
    conversation field), given the tool-call ids the client received in turn 1."""

    id: str
    provider: str
    turn1: Callable[[], bytes]
    turn2: Callable[[], bytes]
    user: str
    tool: str
    result: str
    field: str  # the request field the conversation is in: messages, input or contents
    expect: Expect
    body: dict[str, Any] = field(default_factory=dict)  # the upstream's ``body:`` (thinking, include, ...)
    reasoning: bool = True  # the route's ``reasoning``
    recorded: str | None = None  # the recorded request the expectation comes from, if any
    signed: bool = False  # whether turn 1 carries signatures or encrypted reasoning
    # Turn 1 ends in an answer after the provider's own tools (a web search): the user asks again
    # with this, instead of the frontend answering tool calls.
    follow_up: str | None = None


def recording(relative: str) -> Callable[[], bytes]:
    return lambda: (STREAMS / relative).read_bytes()


def recorded_body(relative: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((STREAMS / relative).read_text("utf-8"))["body"]
    return body


def payloads(data: bytes) -> list[dict[str, Any]]:
    decoder = SSEDecoder()
    events = decoder.feed(data) + decoder.close()
    return [json.loads(e.data) for e in events if e.data and e.data != "[DONE]"]


def sse(chunks: list[dict[str, Any]], *, named: bool = False, done: bool = False) -> bytes:
    out = b"".join((f"event: {c['type']}\n".encode() if named else b"") + b"data: " + json.dumps(c).encode() + b"\n\n"
                   for c in chunks)
    return out + (b"data: [DONE]\n\n" if done else b"")


# -- Chat Completions ------------------------------------------------------------------------------

def chat_plain(loop: Loop, ids: list[str]) -> dict[str, Any]:
    """The recorded second request, whose call id is the recorded stream's own."""
    return {"messages": recorded_body("openai-chat/text-after-tool-result-include-usage.request.json")["messages"]}


# OpenRouter, Claude behind it: the thinking as reasoning_details (recorded format:
# openai-compatible/openrouter-reasoning-comments.sse), a redacted block, then a tool call.
OPENROUTER_SIGNATURE = ("Et0BCkgIChACGAIqQA2s7h7tA7IG35fbwVkou9PM2hANVJNUwcEM4q12fTRDK6y3v6YoEvJ+7bko8wnW/GLsQFXadaJPAE"
                        "MCpLkhI9ISDLjFkeR1aVUIvdCtyBoMrUTovh0jwk+wpnZWIjANV3e6VVdgbGSsEyyTHO6KMmVtqqs79f9blnVdJmmMIwMy"
                        "Ti6bEtG59+jTU7v1zlsqQ2IKGZILOlr6adh0Aam7zYttvisys+wjyZZXU1y/Srz0nmp1cFgVOJe1BLKQI3SSRrjsqQC0uAEU"
                        "Zy0GX0Rq1AXjvIcYAQ==")
OPENROUTER_REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"
OPENROUTER_THINKING = "The user wants the capital of the UK; the tool gives it."


def openrouter_turn1() -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "gen-1765226419-AGrw", "provider": "Anthropic", "model": "anthropic/claude-sonnet-4.5",
                "object": "chat.completion.chunk", "created": 1765226419,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "native_finish_reason": finish}]}
    fmt = {"format": "anthropic-claude-v1"}
    return sse([
        chunk({"role": "assistant", "content": "", "reasoning": OPENROUTER_THINKING, "reasoning_details": [
            {"type": "reasoning.text", "text": OPENROUTER_THINKING, **fmt, "index": 0}]}),
        chunk({"role": "assistant", "content": "", "reasoning": None, "reasoning_details": [
            {"type": "reasoning.text", "signature": OPENROUTER_SIGNATURE, **fmt, "index": 0}]}),
        chunk({"role": "assistant", "content": "", "reasoning": None, "reasoning_details": [
            {"type": "reasoning.encrypted", "data": OPENROUTER_REDACTED, **fmt, "index": 1}]}),
        chunk({"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, "id": "toolu_vrtx_01Abc", "type": "function",
             "function": {"name": "get_capital", "arguments": ""}}]}),
        chunk({"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, "function": {"arguments": "{\"country\": \"UK\"}"}}]}),
        chunk({}, "tool_calls"),
    ], done=True)


def chat_reasoning_details(loop: Loop, ids: list[str]) -> dict[str, Any]:
    """OpenRouter's documented request: the assistant message carries its reasoning_details back, in
    order, beside its tool_calls (https://openrouter.ai/docs, "Preserving reasoning blocks")."""
    return {"messages": [
        {"role": "user", "content": loop.user},
        {"role": "assistant", "content": None,
         "reasoning_details": [
             {"type": "reasoning.text", "text": OPENROUTER_THINKING, "signature": OPENROUTER_SIGNATURE, "index": 0},
             {"type": "reasoning.encrypted", "data": OPENROUTER_REDACTED, "index": 1}],
         "tool_calls": [{"id": "toolu_vrtx_01Abc", "type": "function",
                         "function": {"name": "get_capital", "arguments": "{\"country\": \"UK\"}"}}]},
        {"role": "tool", "tool_call_id": "toolu_vrtx_01Abc", "content": loop.result},
    ]}


# -- Responses -------------------------------------------------------------------------------------

def responses_plain(loop: Loop, ids: list[str]) -> dict[str, Any]:
    return {"input": recorded_body("openai-responses/text-after-function-output-gpt55.request.json")["input"]}


def responses_reasoning(loop: Loop, ids: list[str]) -> dict[str, Any]:
    """FORMATS.md section 3: with ``store: false`` the reasoning item (id, summary,
    encrypted_content) goes back before the function_call it led to."""
    items = [e["item"] for e in payloads(loop.turn1()) if e["type"] == "response.output_item.done"]
    reasoning, call = items[0], items[1]
    assert reasoning["type"] == "reasoning" and call["type"] == "function_call"
    summary = "\n\n".join(part["text"] for part in reasoning["summary"])
    return {"input": [
        {"role": "user", "content": loop.user},
        {"type": "reasoning", "id": reasoning["id"], "summary": [{"type": "summary_text", "text": summary}],
         "encrypted_content": reasoning["encrypted_content"]},
        {"type": "function_call", "call_id": call["call_id"], "name": call["name"], "arguments": call["arguments"]},
        {"type": "function_call_output", "call_id": call["call_id"], "output": loop.result},
    ]}


# -- Anthropic -------------------------------------------------------------------------------------

def anthropic_plain(loop: Loop, ids: list[str]) -> dict[str, Any]:
    return {"messages": recorded_body("anthropic/text-after-tool-result.request.json")["messages"]}


def anthropic_blocks(data: bytes) -> list[dict[str, Any]]:
    """The turn's content blocks, put together from the stream."""
    blocks: dict[int, dict[str, Any]] = {}
    for event in payloads(data):
        if event["type"] == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif event["type"] == "content_block_delta":
            block, delta = blocks[event["index"]], event["delta"]
            if delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
    return [blocks[i] for i in sorted(blocks)]


def anthropic_thinking(loop: Loop, ids: list[str]) -> dict[str, Any]:
    """FORMATS.md section 4: the thinking block goes back unchanged, signature included, before
    the tool_use, in the assistant turn."""
    thinking, tool_use = anthropic_blocks(loop.turn1())
    assert thinking["type"] == "thinking" and thinking["signature"] and tool_use["type"] == "tool_use"
    return {"messages": [
        {"role": "user", "content": [{"type": "text", "text": loop.user}]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": thinking["thinking"], "signature": thinking["signature"]},
            {"type": "tool_use", "id": tool_use["id"], "name": tool_use["name"], "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": loop.result}]},
    ]}


def redacted_data() -> list[str]:
    return [b["data"] for b in anthropic_blocks((STREAMS / "anthropic/redacted-thinking.sse").read_bytes())
            if b["type"] == "redacted_thinking"]


def anthropic_redacted_turn1() -> bytes:
    """The recorded redacted_thinking blocks (anthropic/redacted-thinking.sse), then a tool_use."""
    first, second = redacted_data()[:2]
    return sse([
        {"type": "message_start", "message": {"id": "msg_01Redacted", "type": "message", "role": "assistant",
                                              "model": "claude-3-7-sonnet-20250219", "content": [],
                                              "stop_reason": None, "usage": {"input_tokens": 90, "output_tokens": 3}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "redacted_thinking", "data": first}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking", "data": second}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {
            "type": "tool_use", "id": "toolu_01Redact", "name": "fixed_version", "input": {}}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 60}},
        {"type": "message_stop"},
    ], named=True)


def anthropic_redacted(loop: Loop, ids: list[str]) -> dict[str, Any]:
    first, second = redacted_data()[:2]
    return {"messages": [
        {"role": "user", "content": [{"type": "text", "text": loop.user}]},
        {"role": "assistant", "content": [
            {"type": "redacted_thinking", "data": first}, {"type": "redacted_thinking", "data": second},
            {"type": "tool_use", "id": "toolu_01Redact", "name": "fixed_version", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01Redact", "content": loop.result}]},
    ]}


# -- Gemini ----------------------------------------------------------------------------------------

def standard_base64(value: str) -> str:
    """FORMATS.md section 5: SDKs may echo a thoughtSignature URL-safe; both alphabets are one value."""
    return value.replace("-", "+").replace("_", "/")


def with_call_ids(contents: list[dict[str, Any]], ids: list[str]) -> list[dict[str, Any]]:
    """The recorded contents with the recorder's call ids (``pyd_ai_...``, made up by its client:
    the stream has none) replaced by the ones the proxy gave the calls, in order, and the
    signatures in the stream's base64 alphabet."""
    calls = iter(ids)
    named: dict[str, str] = {}
    out = json.loads(json.dumps(contents))
    for content in out:
        for part in content["parts"]:
            if "functionCall" in part:
                named[part["functionCall"]["id"]] = part["functionCall"]["id"] = next(calls)
            if "functionResponse" in part:
                part["functionResponse"]["id"] = named[part["functionResponse"]["id"]]
            if "thoughtSignature" in part:
                part["thoughtSignature"] = standard_base64(part["thoughtSignature"])
    return out


def gemini_plain(loop: Loop, ids: list[str]) -> dict[str, Any]:
    # The recorded request is the third turn of the same conversation: its first three contents
    # are this second turn.
    recorded = recorded_body("gemini/text-after-function-response.request.json")["contents"][:3]
    return {"contents": with_call_ids(recorded, ids)}


def gemini_signed(loop: Loop, ids: list[str]) -> dict[str, Any]:
    recorded = recorded_body("gemini/text-after-function-response-gemini3.request.json")["contents"]
    return {"contents": with_call_ids(recorded, ids)}


# -- After the provider's own tools (web search, code execution): the user asks again ---------------

FOLLOW_UP = "And tomorrow?"


def answer_text(data: bytes, provider: str) -> list[str]:
    """The text messages turn 1 made, read plainly from its stream (text split by the tool calls)."""
    texts: list[str] = [""]
    for event in payloads(data):
        if provider == "anthropic":
            if event["type"] == "content_block_delta" and event["delta"]["type"] == "text_delta":
                texts[-1] += event["delta"]["text"]
        elif provider == "gemini":
            for part in event["candidates"][0]["content"]["parts"]:
                if "text" in part:
                    texts[-1] += part["text"]
                elif "codeExecutionResult" in part:
                    texts.append("")
        elif provider == "openai-responses":
            if event["type"] == "response.output_text.delta":
                texts[-1] += event["delta"]
        else:
            texts[-1] += "".join(c["delta"].get("content") or "" for c in event["choices"])
    return [t for t in texts if t]


def anthropic_after_search(loop: Loop, ids: list[str]) -> dict[str, Any]:
    """The search goes back as it came, in the assistant turn: the server_tool_use block, then
    the web_search_tool_result block whole (its encrypted_content is what the next turn needs)."""
    blocks: dict[int, dict[str, Any]] = {}
    for event in payloads(loop.turn1()):
        if event["type"] == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif event["type"] == "content_block_delta" and event["delta"]["type"] == "input_json_delta":
            block = blocks[event["index"]]
            block["json"] = block.get("json", "") + event["delta"]["partial_json"]
    (call,) = [b for b in blocks.values() if b["type"] == "server_tool_use"]
    (result,) = [b for b in blocks.values() if b["type"] == "web_search_tool_result"]
    (text,) = answer_text(loop.turn1(), "anthropic")
    return {"messages": [
        {"role": "user", "content": [{"type": "text", "text": loop.user}]},
        {"role": "assistant", "content": [
            {"type": "server_tool_use", "id": call["id"], "name": call["name"], "input": json.loads(call["json"])},
            result, {"type": "text", "text": text}]},
        {"role": "user", "content": [{"type": "text", "text": FOLLOW_UP}]},
    ]}


def gemini_after_tools(loop: Loop, ids: list[str]) -> dict[str, Any]:
    """Grounding and code execution need nothing back: the model's text, then the question."""
    return {"contents": [{"role": "user", "parts": [{"text": loop.user}]},
                         {"role": "model", "parts": [{"text": t} for t in answer_text(loop.turn1(), "gemini")]},
                         {"role": "user", "parts": [{"text": FOLLOW_UP}]}]}


def responses_after_search(loop: Loop, ids: list[str]) -> dict[str, Any]:
    """The search items are not sent back (nothing of theirs is needed): the answer, then the question."""
    (text,) = answer_text(loop.turn1(), "openai-responses")
    return {"input": [{"role": "user", "content": loop.user}, {"role": "assistant", "content": text},
                      {"role": "user", "content": FOLLOW_UP}]}


def chat_after_search(loop: Loop, ids: list[str]) -> dict[str, Any]:
    (text,) = answer_text(loop.turn1(), "openai-chat")
    return {"messages": [{"role": "user", "content": loop.user}, {"role": "assistant", "content": text},
                         {"role": "user", "content": FOLLOW_UP}]}


def provider_tool_loops() -> list[Loop]:
    from ..providers import provider_tool_streams as transcripts  # test data, beside the translator tests

    def loop(id: str, provider: str, turn1: Callable[[], bytes], turn2: str, user: str, field: str,
             expect: Expect, tools: list[dict[str, Any]]) -> Loop:
        return Loop(id, provider, turn1, recording(turn2), user, "unused_tool", "", field, expect,
                    body={"tools": tools}, follow_up=FOLLOW_UP)

    return [
        loop("anthropic-web-search", "anthropic", recording("anthropic/server-tool-web-search-citations.sse"),
             "anthropic/text-basic.sse", "What is the current weather in San Francisco?", "messages",
             anthropic_after_search, [{"type": "web_search_20250305", "name": "web_search"}]),
        loop("gemini-grounding", "gemini", recording("gemini/grounding-web-search.sse"), "gemini/text-basic.sse",
             "What is the weather in San Francisco today?", "contents", gemini_after_tools, [{"googleSearch": {}}]),
        loop("gemini-code-execution", "gemini", transcripts.gemini_code_execution, "gemini/text-basic.sse",
             "What is the sum of 1 to 100?", "contents", gemini_after_tools, [{"codeExecution": {}}]),
        loop("openai-responses-web-search", "openai-responses", transcripts.responses_web_search,
             "openai-responses/text-basic.sse", "Weather in Paris?", "input", responses_after_search,
             [{"type": "web_search"}]),
        loop("openai-chat-search-annotations", "openai-chat", transcripts.chat_annotations,
             "openai-chat/text-basic-gpt4o.sse", "Weather in Lyon?", "messages", chat_after_search, []),
    ]


# -- Bedrock (no recordings: written in the event stream's own encoding, tests/support/eventstream.py) --

def bedrock_turn1() -> bytes:
    return es.converse(es.start(), *es.reasoning_block(0, "The user wants ", "the UK's capital.",
                                                       signature="EqQBCkgIARAB-bedrock-signature=="),
                       *es.tool_block(1, "tooluse_Q1", "get_capital", '{"country":', ' "UK"}'), *es.stop("tool_use"))


def bedrock_turn2() -> bytes:
    return es.converse(es.start(), *es.text_block(0, "London."), *es.stop())


def bedrock_signed(loop: Loop, ids: list[str]) -> dict[str, Any]:
    """The Converse API reference: the reasoning block goes back unchanged, text and signature, before
    the toolUse in the assistant turn; the result is a toolResult in the next user turn."""
    decoder = EventStreamDecoder()
    events = [json.loads(m.payload) for m in decoder.feed(loop.turn1())]
    reasoning = [e["delta"]["reasoningContent"] for e in events if "reasoningContent" in e.get("delta", {})]
    text = "".join(r.get("text", "") for r in reasoning)
    [signature] = [r["signature"] for r in reasoning if "signature" in r]
    [start] = [e["start"]["toolUse"] for e in events if "start" in e]
    return {"messages": [
        {"role": "user", "content": [{"text": loop.user}]},
        {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": text, "signature": signature}}},
            {"toolUse": {"toolUseId": start["toolUseId"], "name": start["name"], "input": {"country": "UK"}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": ids[0], "content": [{"text": loop.result}]}}]},
    ]}


LOOPS = [
    Loop("openai-chat", "openai-chat", recording("openai-chat/tool-call-single-include-usage.sse"),
         recording("openai-chat/text-after-tool-result-include-usage.sse"),
         "What is the capital of the UK? Use the tool, then answer.", "get_capital", "London", "messages",
         chat_plain, recorded="openai-chat/text-after-tool-result-include-usage.request.json"),
    Loop("openai-compatible-reasoning-details", "openai-chat", openrouter_turn1,
         recording("openai-chat/text-after-tool-result-include-usage.sse"),
         "What is the capital of the UK? Use the tool, then answer.", "get_capital", "London", "messages",
         chat_reasoning_details, body={"reasoning": {"max_tokens": 1024}}, signed=True),
    Loop("openai-responses", "openai-responses", recording("openai-responses/function-call-gpt55-sequence-numbers.sse"),
         recording("openai-responses/text-after-function-output-gpt55.sse"),
         "What is 1231 * 2331? Use the multiply tool.", "multiply", "2869461", "input", responses_plain,
         body={"include": ["reasoning.encrypted_content"], "store": False, "reasoning": {"effort": "low"}},
         recorded="openai-responses/text-after-function-output-gpt55.request.json"),
    Loop("openai-responses-encrypted-reasoning", "openai-responses",
         recording("openai-responses/reasoning-summary-then-function-call.sse"),
         recording("openai-responses/text-basic.sse"),
         "Compute ((12 + 7) * 3) * 10 with the calculator.", "calculator", "19", "input", responses_reasoning,
         body={"include": ["reasoning.encrypted_content"], "store": False,
               "reasoning": {"effort": "low", "summary": "auto"}}, signed=True),
    Loop("anthropic", "anthropic", recording("anthropic/tool-use-empty-input.sse"),
         recording("anthropic/text-after-tool-result.sse"),
         "Use the fixed_version tool. Then tell me the version and make one short joke about it.", "fixed_version",
         "0.32a0", "messages", anthropic_plain, recorded="anthropic/text-after-tool-result.request.json"),
    Loop("anthropic-thinking", "anthropic", recording("anthropic/thinking-then-tool-use.sse"),
         recording("anthropic/text-after-tool-result.sse"),
         "Use the fixed_version tool. Then tell me the version and make one short joke about it. Think about it "
         "first.", "fixed_version", "0.32a0", "messages", anthropic_thinking,
         body={"thinking": {"type": "enabled", "budget_tokens": 1024}}, signed=True),
    Loop("anthropic-redacted-thinking", "anthropic", anthropic_redacted_turn1,
         recording("anthropic/text-after-tool-result.sse"),
         "Use the fixed_version tool.", "fixed_version", "0.32a0", "messages", anthropic_redacted,
         body={"thinking": {"type": "enabled", "budget_tokens": 1024}}, signed=True),
    Loop("gemini", "gemini", recording("gemini/function-call.sse"),
         recording("gemini/text-after-function-response.sse"),
         "What is the temperature of the capital of France?", "get_capital", '{"return_value": "Paris"}', "contents",
         gemini_plain, recorded="gemini/text-after-function-response.request.json"),
    Loop("gemini-3-signatures", "gemini", recording("gemini/function-call-thought-signature-gemini3.sse"),
         recording("gemini/text-after-function-response-gemini3.sse"),
         "What is the capital of the user country? Call the tool", "get_country", '{"return_value": "Mexico"}',
         "contents", gemini_signed, recorded="gemini/text-after-function-response-gemini3.request.json", signed=True),
    # reasoning: false hides reasoning, not the calls' own signatures: Gemini 3 still gets them back.
    Loop("gemini-3-signatures-reasoning-off", "gemini", recording("gemini/function-call-thought-signature-gemini3.sse"),
         recording("gemini/text-after-function-response-gemini3.sse"),
         "What is the capital of the user country? Call the tool", "get_country", '{"return_value": "Mexico"}',
         "contents", gemini_signed, reasoning=False,
         recorded="gemini/text-after-function-response-gemini3.request.json", signed=True),
    Loop("bedrock-reasoning", "bedrock", bedrock_turn1, bedrock_turn2, "What is the capital of the UK?",
         "get_capital", "London", "messages", bedrock_signed,
         body={"additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}}}, signed=True),
]
LOOPS += provider_tool_loops()
