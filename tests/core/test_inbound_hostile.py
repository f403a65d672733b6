"""Hostile bodies: the inbound reader refuses each with a 4xx that names the problem, never a 500.

Properties drive :func:`read_request` (and the upstream request built from what it accepted, since
a body that reads fine but cannot be sent on would fail after the 200) with generated bodies:
random bytes, random JSON, and JSON shaped like the real thing with wrong types, unknown roles,
odd numbers and strings planted anywhere.  A few of these also go through the real proxy in
``tests/integration/test_hostile_input.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agui_proxy.core.inbound import MAX_JSON_DEPTH, MAX_NUMBER_DIGITS, read_request
from agui_proxy.errors import InboundError

from ..support.harness import provider

OPENAI = provider("openai-chat", api_key="sk-test-hostile-0123456789")


def outcome(body: bytes) -> InboundError | None:
    """``None`` when the body is accepted and its upstream request builds; the refusal otherwise.

    Anything else raised (KeyError, TypeError, UnicodeEncodeError, ...) fails the test: the
    proxy would answer it with a 500.
    """
    try:
        request = read_request(body)
    except InboundError as exc:
        assert 400 <= exc.status < 500, (exc.status, exc.message)
        assert exc.message and exc.type, exc
        return exc
    upstream = OPENAI.build_request(request.conversation)
    json.loads(upstream.body)  # what goes upstream is valid JSON (no NaN, no lone surrogate)
    upstream.body.decode("utf-8")
    return None


# -- named cases ---------------------------------------------------------------------------------


def msg(**fields: Any) -> bytes:
    return json.dumps({"params": {"messages": [{"role": "user", "content": "hi", **fields}]}}).encode()


@pytest.mark.parametrize(("body", "status", "words"), [
    pytest.param(b'{"params": {"system": "caf\xe9"}}', 400, ["UTF-8", "byte"], id="invalid-utf8"),
    pytest.param(b"\xff\xfe{}", 400, ["UTF-8"], id="utf16-bom"),
    pytest.param(b'{"params": {"messages": [], "max_tokens": NaN}}', 400, ["NaN"], id="nan"),
    pytest.param(b'{"params": {"messages": [], "max_tokens": -Infinity}}', 400, ["Infinity"], id="infinity"),
    pytest.param(b'{"params": {"messages": [], "max_tokens": 1e999}}', 400, ["out of range"], id="float-overflow"),
    pytest.param(b'{"params": {"messages": [], "max_tokens": ' + b"9" * 5000 + b"}}", 400,
                 [f"{MAX_NUMBER_DIGITS} digits"], id="5000-digit-integer"),
    pytest.param(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), 400, ["deeper"], id="too-deep"),
    pytest.param(b"[" * 100_000, 400, ["deeper"], id="unclosed-nesting"),
    pytest.param(msg(role="wizard"), 422, ["params.messages[0].role", "wizard"], id="unknown-role"),
    pytest.param(msg(role=None), 422, ["params.messages[0].role"], id="no-role"),
    pytest.param(msg(role=["user"]), 422, ["params.messages[0].role"], id="role-list"),
    pytest.param(msg(content=12), 422, ["params.messages[0].content"], id="content-number"),
    pytest.param(msg(content=[{"type": "video", "url": "x"}]), 422, ["params.messages[0].content[0].type"],
                 id="unknown-part"),
    pytest.param(msg(tool_calls="call"), 422, ["params.messages[0].tool_calls"], id="tool-calls-string"),
    pytest.param(json.dumps({"params": {"messages": "hi"}}).encode(), 422, ["params.messages"], id="messages-string"),
    pytest.param(json.dumps({"params": {"messages": [], "system": {"a": 1}}}).encode(), 422, ["params.system"],
                 id="system-object"),
    pytest.param(json.dumps({"params": {"messages": [], "max_tokens": True}}).encode(), 422, ["params.max_tokens"],
                 id="max-tokens-bool"),
    pytest.param(json.dumps({"params": {"messages": [], "model": 5}}).encode(), 422, ["params.model"],
                 id="model-number"),
    pytest.param(json.dumps({"params": {"messages": [], "model": "m" * 300}}).encode(), 422, ["params.model"],
                 id="model-huge"),
    pytest.param(json.dumps({"params": {"messages": [], "tools": {"openai": [{"type": "function"}]}}}).encode(),
                 422, ["params.tools.openai[0]"], id="tool-without-function"),
    pytest.param(json.dumps({"params": 7}).encode(), 422, ["params"], id="params-number"),
    pytest.param(b"null", 422, ["JSON object"], id="null"),
])
def test_named_hostile_body(body: bytes, status: int, words: list[str]) -> None:
    error = outcome(body)
    assert error is not None, "accepted"
    assert error.status == status, (error.status, error.message)
    for word in words:
        assert word in error.message, error.message


def test_huge_strings_within_the_body_cap_are_accepted_and_sent_on() -> None:
    """A long text is a long prompt, not an attack: the body cap (413, tested through the proxy)
    is what bounds it, and the reader neither chokes on it nor truncates it."""
    text = "é" * 2_000_000
    assert outcome(msg(content=text)) is None
    assert read_request(msg(content=text)).conversation.messages[0].text == text


@pytest.mark.parametrize(("escaped", "text"), [
    pytest.param(b"\\ud83d", "\ufffd", id="high-half-of-an-emoji"),
    pytest.param(b"a\\ud83db", "a\ufffdb", id="inside-text"),
    pytest.param(b"\\ude00\\ud83d", "\ufffd\ufffd", id="halves-in-the-wrong-order"),
    pytest.param(b"\\ud83d\\ude00\\ud83d", "\U0001f600\ufffd", id="a-pair-then-a-half"),
    pytest.param(b"\\uDBFF", "\ufffd", id="upper-case-hex"),
])
def test_a_lone_surrogate_becomes_the_replacement_character_and_the_request_goes_on(
        escaped: bytes, text: str) -> None:
    """A frontend that cut an emoji in half with ``.slice()`` sends ``"\\ud83d"``; refusing it would
    fail every later turn of the thread (the history is resent whole), so it is U+FFFD."""
    body = b'{"params": {"messages": [{"role": "user", "content": "' + escaped + b'"}]}}'
    assert outcome(body) is None
    assert read_request(body).conversation.messages[0].text == text
    sent = json.loads(OPENAI.build_request(read_request(body).conversation).body)
    assert sent["messages"][-1]["content"] == text


def test_a_lone_surrogate_in_a_key_or_an_agui_body_is_replaced_too() -> None:
    keyed = read_request(b'{"params": {"messages": [{"role": "user", "content": "x"}], "\\udfff": 1}}')
    assert keyed.conversation.messages[0].text == "x"
    agui = read_request(b'{"threadId": "t", "runId": "r", "messages": [{"id": "u1", "role": "user", '
                        b'"content": "caf\\u00e9 \\ud83d"}]}')
    assert agui.conversation.messages[0].text == "caf\u00e9 \ufffd"


def test_paired_surrogate_escapes_are_one_character() -> None:
    request = read_request(b'{"params": {"messages": [{"role": "user", "content": "\\ud83d\\ude00"}]}}')
    assert request.conversation.messages[0].text == "😀"


# -- properties ------------------------------------------------------------------------------------

_KEYS = ["params", "messages", "role", "content", "system", "tools", "max_tokens", "tool_choice", "model",
         "type", "text", "image_url", "url", "source", "data", "media_type", "tool_calls", "tool_call_id",
         "toolCallId", "id", "function", "name", "arguments", "input", "tool_use_id", "is_error", "openai",
         "anthropic", "gemini", "parameters", "input_schema", "functionDeclarations", "description",
         "threadId", "runId", "value", "mimeType", "x"]
_WORDS = ["user", "assistant", "system", "developer", "tool", "wizard", "", "text", "image_url", "image",
          "tool_use", "tool_result", "thinking", "function", "auto", "any", "none", "required", "base64", "url",
          "data:image/png;base64,AAAA", "{}", "{\"a\":", "\u2028", "\x00", "😀"]

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(_WORDS), st.text(max_size=20),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(_KEYS), inner, max_size=5),
    ),
    max_leaves=12,
)


@st.composite
def plausible_bodies(draw: st.DrawFn) -> Any:
    """Bodies shaped like BranderUX requests, with any field swapped for something else."""
    message = st.fixed_dictionaries(
        {"role": st.one_of(st.sampled_from(["user", "assistant", "system", "developer", "tool"]), _scalars)},
        optional={"content": _json, "tool_calls": _json, "tool_call_id": _json, "name": _json},
    )
    params = draw(st.fixed_dictionaries(
        {"messages": st.one_of(st.lists(st.one_of(message, _json), max_size=4), _json)},
        optional={"system": _json, "tools": _json, "max_tokens": _json, "tool_choice": _json, "model": _json},
    ))
    return draw(st.sampled_from([{"params": params}, params, {"params": params, "threadId": "t"}]))


# Generating nested bodies is what costs here: a hundred of each kind keeps the file to seconds.
_settings = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_property_random_bytes_never_500(body: bytes) -> None:
    outcome(body)


@_settings
@given(_json)
def test_property_random_json_never_500(value: Any) -> None:
    outcome(json.dumps(value).encode())


@_settings
@given(plausible_bodies())
def test_property_plausible_bodies_never_500(value: Any) -> None:
    outcome(json.dumps(value).encode())


@_settings
@given(plausible_bodies(), st.data())
def test_property_mangled_bytes_never_500(value: Any, data: st.DataObject) -> None:
    """Valid bodies with bytes cut out or replaced: broken JSON, broken UTF-8, lone escapes."""
    raw = bytearray(json.dumps(value, ensure_ascii=data.draw(st.booleans())).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        if not raw:
            break
        at = data.draw(st.integers(0, len(raw) - 1))
        replacement = data.draw(st.sampled_from([b"", b"\xff", b"\\ud800", b"NaN", b"1e999", b"[", b'"', b"\xc3"]))
        raw[at:at + data.draw(st.integers(0, 3))] = replacement
    outcome(bytes(raw))
