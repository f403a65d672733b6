"""The Gemini request built from a conversation, against the recorded real ones."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from agui_proxy.core.inbound import read_request
from agui_proxy.providers.base import UpstreamRequest

from ..support.harness import built_request, provider, run_events
from ..support.recordings import recorded_file, recorded_request

KEY = "AIzaSyTEST-0123456789abcdefghij"
BASE = "https://generativelanguage.googleapis.com/v1beta"


def request_for(params: dict[str, Any], **settings: Any) -> UpstreamRequest:
    settings.setdefault("base_url", BASE)
    settings.setdefault("model", "gemini-2.0-flash")
    request = built_request("gemini", {"params": params}, api_key=KEY, **settings)
    # The key goes in a header only: never ?key= in the URL, which ends up in logs.
    assert KEY not in request.url and KEY not in json.dumps(request.params)
    assert request.headers["x-goog-api-key"] == KEY
    return request


def build(params: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return dict(json.loads(request_for(params, **settings).body))


def full_url(request: UpstreamRequest) -> str:
    return f"{request.url}?{urlencode(request.params)}"


def as_history(contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A recorded Gemini history told the way a BranderUX client tells it: OpenAI-style tool calls
    with their ids, and tool messages with the result text."""
    messages: list[dict[str, Any]] = []
    for turn in contents:
        for part in turn["parts"]:
            if "text" in part:
                messages.append({"role": "user" if turn["role"] == "user" else "assistant", "content": part["text"]})
            elif "functionCall" in part:
                call = part["functionCall"]
                wire = {"id": call["id"], "type": "function",
                        "function": {"name": call["name"], "arguments": json.dumps(call["args"])}}
                if "thoughtSignature" in part:
                    wire["encryptedValue"] = part["thoughtSignature"]
                messages.append({"role": "assistant", "content": None, "tool_calls": [wire]})
            else:
                response = part["functionResponse"]
                messages.append({"role": "tool", "tool_call_id": response["id"],
                                 "content": response["response"]["return_value"]})
    return messages


def with_output_key(contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recording's client wrote a result as ``{"return_value": ...}``; Google's reference
    for ``functionResponse.response`` says ``{"output": ...}`` (and ``{"error": ...}``), which is
    what the proxy writes.  Only that key differs."""
    out = json.loads(json.dumps(contents))
    for turn in out:
        for part in turn["parts"]:
            if "functionResponse" in part:
                part["functionResponse"]["response"] = {"output": part["functionResponse"]["response"]["return_value"]}
    return list(out)


def test_tool_round_trip_matches_the_recorded_request() -> None:
    """Two rounds of functionCall -> functionResponse (text-after-function-response), with the
    function name of each result looked up from the call with the same id."""
    record = recorded_request("gemini/text-after-function-response.request.json")
    want = record["body"]
    request = request_for({"system": want["systemInstruction"]["parts"][0]["text"],
                           "messages": as_history(want["contents"]),
                           "tools": {"gemini": want["tools"][0]["functionDeclarations"]}})  # bare, as BranderUX
    body = json.loads(request.body)
    assert full_url(request) == record["uri"]
    assert body["contents"] == with_output_key(want["contents"])
    assert body["systemInstruction"]["parts"] == want["systemInstruction"]["parts"]
    assert body["tools"] == want["tools"]  # the bare declarations wrapped once
    assert body["generationConfig"] == {**want["generationConfig"], "maxOutputTokens": 4000}
    assert set(body) == {"contents", "systemInstruction", "tools", "generationConfig"}


def test_gemini3_thought_signature_goes_back_with_its_call() -> None:
    """Round trip: the call and signature the proxy streamed for
    function-call-thought-signature-gemini3.sse, sent back by the client with the tool result,
    give the recorded follow-up request (text-after-function-response-gemini3.request.json)."""
    stream = recorded_file("gemini/function-call-thought-signature-gemini3.sse")
    record = recorded_request("gemini/text-after-function-response-gemini3.request.json")
    want = record["body"]
    events = run_events(provider("gemini"), stream.read_bytes())
    [sent] = [e for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"]
    [start] = [e for e in events if e["type"] == "TOOL_CALL_START"]
    assert sent["subtype"] == "tool-call" and sent["entityId"] == start["toolCallId"]
    history = as_history(want["contents"])
    history[1]["tool_calls"][0]["encryptedValue"] = sent["encryptedValue"]  # what the client stored
    request = request_for({"messages": history, "tools": {"gemini": want["tools"]}},
                          model="gemini-3-pro-preview", extra_body={"generationConfig": want["generationConfig"]})
    body = json.loads(request.body)
    assert full_url(request) == record["uri"]
    got_call, want_call = body["contents"][1]["parts"][0], want["contents"][1]["parts"][0]
    # The recording's client re-encoded the signature URL-safe; both alphabets are the same bytes.
    assert base64.b64decode(got_call.pop("thoughtSignature")) == base64.urlsafe_b64decode(
        want_call["thoughtSignature"])
    assert got_call == {k: v for k, v in want_call.items() if k != "thoughtSignature"}
    assert body["contents"][0] == want["contents"][0]
    assert body["contents"][2:] == with_output_key(want["contents"][2:])
    assert body["tools"] == want["tools"]  # already wrapped: kept as it is
    # config extras merge into the request's own generationConfig instead of replacing it
    assert body["generationConfig"] == {"responseModalities": ["TEXT"], "maxOutputTokens": 4000}


def test_converted_tools_choice_images_merging_and_results() -> None:
    body = build({
        "messages": [
            {"role": "user", "content": "Look:"},
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                {"type": "image_url", "image_url": {"url": "gs://bucket/cat.jpg"}}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Both."},
                {"type": "tool_use", "id": "toolu_a", "name": "show", "input": {"x": 1}},
                {"type": "tool_use", "id": "toolu_b", "name": "show", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "{\"shown\": true}"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "no screen", "is_error": True},
                {"type": "text", "text": "Thanks"}]},
        ],
        "tools": {"anthropic": [{"name": "show", "description": "Show it",
                                 "input_schema": {"type": "object", "properties": {"x": {"type": "integer"}},
                                                  "additionalProperties": False}}]},
        "tool_choice": {"type": "tool", "name": "show"}, "max_tokens": 77,
    })
    assert body["contents"] == [
        {"role": "user", "parts": [
            {"text": "Look:"}, {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
            {"fileData": {"fileUri": "gs://bucket/cat.jpg"}}]},
        {"role": "model", "parts": [
            {"text": "Both."},
            {"functionCall": {"name": "show", "args": {"x": 1}, "id": "toolu_a"}},
            {"functionCall": {"name": "show", "args": {}, "id": "toolu_b"}}]},
        {"role": "user", "parts": [  # parallel results and the next words: one turn
            {"functionResponse": {"name": "show", "id": "toolu_a", "response": {"shown": True}}},
            {"functionResponse": {"name": "show", "id": "toolu_b", "response": {"error": "no screen"}}},
            {"text": "Thanks"}]},
    ]
    # plain JSON Schema (additionalProperties included) goes in parametersJsonSchema as it is
    assert body["tools"] == [{"functionDeclarations": [{
        "name": "show", "description": "Show it",
        "parametersJsonSchema": {"type": "object", "properties": {"x": {"type": "integer"}},
                                 "additionalProperties": False}}]}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["show"]}}
    assert body["generationConfig"] == {"maxOutputTokens": 77}
    assert "systemInstruction" not in body


def test_native_list_mixing_bare_declarations_and_builtin_tools() -> None:
    body = build({"messages": [{"role": "user", "content": "hi"}], "tool_choice": {"type": "none"},
                  "tools": {"gemini": [{"name": "a"}, {"googleSearch": {}}, {"name": "b", "description": "B"}]}})
    assert body["tools"] == [{"functionDeclarations": [{"name": "a"}, {"name": "b", "description": "B"}]},
                             {"googleSearch": {}}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}


def test_vertex_and_config_extras() -> None:
    """Vertex AI: another base_url, a bearer token from config headers, no api_key; config body
    extras deep-merged (thinking settings beside maxOutputTokens, argument streaming beside the mode)."""
    conv = read_request(json.dumps({"params": {
        "messages": [{"role": "user", "content": "hi"}], "tool_choice": {"type": "auto"},
        "tools": {"openai": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]},
    }}).encode()).conversation
    base = "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google"
    request = provider("gemini", base_url=base, model="models/gemini-3-pro-preview",
                       headers={"Authorization": "Bearer ya29.token"},
                       extra_body={"generationConfig": {"thinkingConfig": {"includeThoughts": True}},
                                   "toolConfig": {"functionCallingConfig": {"streamFunctionCallArguments": True}}},
                       ).build_request(conv)
    body = json.loads(request.body)
    assert request.url == f"{base}/models/gemini-3-pro-preview:streamGenerateContent"
    assert request.params == {"alt": "sse"}
    assert request.headers["Authorization"] == "Bearer ya29.token"
    assert "x-goog-api-key" not in request.headers
    assert body["generationConfig"] == {"maxOutputTokens": 4000, "thinkingConfig": {"includeThoughts": True}}
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO", "streamFunctionCallArguments": True}}
