"""Secrets too short to match in pieces (under 8 characters): matched only as whole values, so a
key such as Ollama's conventional ``ollama`` never wrecks the text around it (issue 15 item 7).

A whole value is a string that is the secret and nothing else (a log argument, a header value, an
access line's field, a message); inside longer text a short secret is left alone (it cannot be told
from an ordinary word), which is why the config refuses inbound tokens under 8 characters and warns
about such provider keys (tests/config/test_config_secrets.py).
"""

from __future__ import annotations

import pytest

from agui_proxy.core.redact import REDACTED, redact


def test_a_short_key_leaves_the_words_that_contain_it() -> None:
    text = "upstream=ollama route=/api/ollama status=200"
    assert redact(text, ["ollama"]) == text


@pytest.mark.parametrize("secret", ["a", "e", "x1", "tok42"])
def test_a_short_secret_inside_text_is_left_alone(secret: str) -> None:
    text = f"the upstream took {secret}longer than expected; a tok42x came"
    assert redact(text, [secret]) == text


@pytest.mark.parametrize("secret", ["ollama", "a", "tok42"])
def test_a_short_secret_as_the_whole_value_is_redacted(secret: str) -> None:
    assert redact(secret, [secret]) == REDACTED


def test_a_short_secret_padded_with_spaces_is_still_a_whole_value() -> None:
    assert redact(" tok42\n", ["tok42"]) == REDACTED


def test_long_secrets_still_match_in_pieces_around_short_ones() -> None:
    key = "sk-long-key-0123456789abcdef"
    assert redact(f"upstream=ollama echoed {key[4:20]}", ["ollama", key]) == "upstream=ollama echoed [redacted]"
