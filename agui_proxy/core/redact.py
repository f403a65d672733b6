"""Keeping secrets out of messages: keys, tokens and the parts of them providers echo back.

Providers quote part of a rejected key in their error bodies ("Incorrect API key provided:
sk-proj-****abcd"), so removing the exact key is not enough: any run of eight or more
characters of a secret is removed, and so is anything shaped like a provider key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
_WINDOW = 8
# OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), Google (AIza...), bearer values, and masked echoes.
_KEY_SHAPED = re.compile(r"\b(?:sk-[\w\-*]{4,}|AIza[\w\-]{10,}|[Bb]earer\s+[\w\-.~+/=*]{6,})")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if not secret:
            continue
        if len(secret) < _WINDOW:
            text = text.replace(secret, REDACTED)
            continue
        text = text.replace(secret, REDACTED)
        for start in range(len(secret) - _WINDOW + 1):
            piece = secret[start:start + _WINDOW]
            if piece in text:
                text = _remove_around(text, secret, piece)
    return _KEY_SHAPED.sub(REDACTED, text)


def _remove_around(text: str, secret: str, piece: str) -> str:
    # Grow each occurrence of ``piece`` to the longest run of the secret around it.
    out = []
    i = 0
    while (at := text.find(piece, i)) != -1:
        end = at + len(piece)
        while end < len(text) and text[at:end + 1] in secret:
            end += 1
        start = at
        while start > 0 and text[start - 1:end] in secret:
            start -= 1
        out.append(text[i:start])
        out.append(REDACTED)
        i = end
    out.append(text[i:])
    return "".join(out)
