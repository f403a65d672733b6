"""Secrets out of every message: whole keys, echoed pieces of them, and anything key-shaped.

The guarantee checked by the properties: outside the ``[redacted]`` markers, no eight characters
of a secret appear in a row, whatever text surrounds them and however they were echoed; text
with nothing of a secret in it comes out unchanged.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agui_proxy.core.redact import REDACTED, redact

KEY = "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl"
WINDOW = 8


def leaks(text: str, secret: str) -> list[str]:
    """The windows of ``secret`` still in ``text`` outside the markers (a marker breaks a run)."""
    plain = text.replace(REDACTED, "\x00")
    return [secret[i:i + WINDOW] for i in range(len(secret) - WINDOW + 1) if secret[i:i + WINDOW] in plain]


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param(f"Incorrect API key provided: {KEY}.", "Incorrect API key provided: [redacted].", id="whole-key"),
    pytest.param("Incorrect API key provided: sk-proj-****Kl90. See docs.", "Incorrect API key provided: "
                 "[redacted]. See docs.", id="openai-masked-echo"),
    pytest.param("invalid x-api-key: Ab12Cd34Ef56Gh", "invalid x-api-key: [redacted]", id="middle-piece"),
    pytest.param("key ends ...Gh78Ij90Kl (check it)", "key ends ...[redacted] (check it)", id="tail-piece"),
    pytest.param("Authorization: Bearer abcdef.ghijkl", "Authorization: [redacted]", id="bearer-header"),
    pytest.param("API key not valid: AIzaSyA-1234567890abcdef", "API key not valid: [redacted]",
                 id="google-key-shape"),
    pytest.param("sk-ant-api03-zzzzzzzz", "[redacted]", id="anthropic-key-shape"),
    pytest.param(f"{KEY}{KEY}", "[redacted]", id="twice-adjacent"),
    pytest.param("rate limited: 3 requests per min, retry in 20 s", "rate limited: 3 requests per min, retry in 20 s",
                 id="nothing-secret"),
])
def test_redact(text: str, expected: str) -> None:
    assert redact(text, [KEY]) == expected


def test_seven_characters_of_a_key_are_left_alone() -> None:
    """Eight is the line: fewer shared characters are too common to mean anything ("Ef56Gh7")."""
    assert redact("code Ef56Gh7 here", [KEY]) == "code Ef56Gh7 here"


def test_short_secrets_only_as_whole_values() -> None:
    """Under eight characters a secret cannot be told from a word inside text (test_redact_short.py)."""
    assert redact("the token tok42 and tok4", ["tok42"]) == "the token tok42 and tok4"
    assert redact("tok42", ["tok42"]) == REDACTED


def test_several_secrets_overlapping_in_the_text() -> None:
    other = "TOKEN-zyxwvutsrq-9876"
    text = f"got {KEY[:14]}{other[5:]} and {other}"
    out = redact(text, [KEY, other])
    assert not leaks(out, KEY) and not leaks(out, other)
    assert out.startswith("got ") and " and " in out


def test_empty_secrets_and_text() -> None:
    assert redact("", [KEY]) == ""
    assert redact("plain", ["", ""]) == "plain"


# -- properties --------------------------------------------------------------------------------------

_KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
_secrets = st.text(alphabet=_KEY_CHARS, min_size=WINDOW, max_size=60)
_filler = st.text(max_size=30)


@st.composite
def echoes(draw: st.DrawFn, secret: str) -> str:
    """Text around any pieces of the secret, the way providers and routers echo keys back."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        parts.append(draw(_filler))
        start = draw(st.integers(0, len(secret) - WINDOW))
        end = draw(st.integers(start + WINDOW, len(secret)))
        piece = secret[start:end]
        masked = draw(st.sampled_from(["plain", "masked-middle", "quoted"]))
        if masked == "masked-middle":  # "sk-proj-****Kl90": head and tail around stars
            piece = piece[:WINDOW] + "****" + secret[-4:]
        elif masked == "quoted":
            piece = f"'{piece}'"
        parts.append(piece)
    parts.append(draw(_filler))
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(_secrets, st.data())
def test_property_no_eight_characters_of_a_secret_survive(secret: str, data: st.DataObject) -> None:
    text = data.draw(echoes(secret))
    out = redact(text, [secret])
    assert not leaks(out, secret), (text, out)


@settings(max_examples=200, deadline=None)
@given(st.lists(_secrets, min_size=1, max_size=3), st.data())
def test_property_every_secret_of_several(secrets: list[str], data: st.DataObject) -> None:
    text = "".join(data.draw(echoes(s)) for s in secrets)
    out = redact(text, secrets)
    for secret in secrets:
        assert not leaks(out, secret), (secret, text, out)


@settings(max_examples=300, deadline=None)
@given(_secrets, _filler)
def test_property_innocent_text_is_unchanged(secret: str, text: str) -> None:
    """Text that shares no eight characters with the secret and holds nothing key-shaped."""
    if leaks(text, secret) or "sk-" in text or "AIza" in text or "earer" in text:
        return
    assert redact(text, [secret]) == text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=3), st.text(max_size=200))
def test_property_any_text_any_secrets_never_raises_and_is_stable(secrets: list[str], text: str) -> None:
    once = redact(text, secrets)
    assert isinstance(once, str)
    for secret in secrets:
        if len(secret) >= WINDOW:
            assert not leaks(once, secret)
        elif secret and secret == text.strip():
            assert once == REDACTED  # a short secret is matched only as the whole value
    # Redacting again changes nothing, unless a secret is itself part of the marker's text.
    in_marker = [s for s in secrets if s and (s in REDACTED or any(s[i:i + WINDOW] in REDACTED
                                                                   for i in range(len(s) - WINDOW + 1)))]
    if not in_marker:
        assert redact(once, secrets) == once
