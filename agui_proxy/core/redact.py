"""Keeping secrets out of messages: keys, tokens and the parts of them providers echo back.

Providers quote part of a rejected key in their error bodies ("Incorrect API key provided:
sk-proj-****abcd"), so removing the exact key is not enough: any run of eight or more
characters of a secret is removed, and so is anything shaped like a provider key.

A secret shorter than eight characters cannot be matched in pieces, nor even whole inside other
text, without hiding ordinary words: Ollama's conventional key ``ollama`` would take the upstream's
name and route out of every log line, a one-letter token every such letter.  So a short secret is
redacted only as a whole value: a text (a log argument, a header value, a message) that is the
secret and nothing else, surrounding whitespace aside.  The config refuses inbound tokens that
short and warns about such provider keys (docs/reliability.md, "Short secrets").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
_WINDOW = 8  # also the shortest inbound token the config accepts (config/secret_length.py)
# OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), Google (AIza...), bearer values, and masked echoes.
_KEY_SHAPED = re.compile(r"\b(?:sk-[\w\-*]{4,}|AIza[\w\-]{10,}|[Bb]earer\s+[\w\-.~+/=*]{6,})")


class Redactor:
    """Every key and token of one config, and the eight-character windows of each, computed once.

    Built once from the config (``app/secrets.py``) and passed to everything that writes a
    message a person may read: the run's ``RUN_ERROR``, the log lines, the access log.  Calling it
    gives the text with every secret, every run of eight or more characters of one, and anything
    shaped like a provider key replaced by ``[redacted]``; a text that is a short secret whole
    becomes ``[redacted]``.
    """

    __slots__ = ("_short", "_windows", "secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = tuple(dict.fromkeys(s for s in secrets if s))
        # Too short to match in pieces, or inside other text, without hiding ordinary words:
        # matched only as the whole value (the module docstring).
        self._short = frozenset(s for s in self.secrets if len(s) < _WINDOW)
        self._windows = frozenset(s[i:i + _WINDOW] for s in self.secrets if len(s) >= _WINDOW
                                  for i in range(len(s) - _WINDOW + 1))

    def __call__(self, text: str) -> str:
        """Every key-shaped run and every place a secret's window matches is marked on the original
        text first, then each marked run is replaced once: a replacement can never join two halves
        into a new match, nor cut a key-shaped run short (``sk-proj-****abcd`` goes whole)."""
        if self._short and text.strip() in self._short:
            return REDACTED
        marked = bytearray(len(text))
        for match in _KEY_SHAPED.finditer(text):
            marked[match.start():match.end()] = b"\x01" * (match.end() - match.start())
        if self._windows:
            windows = self._windows
            for start in range(len(text) - _WINDOW + 1):
                if text[start:start + _WINDOW] in windows:
                    marked[start:start + _WINDOW] = b"\x01" * _WINDOW
        return _replace_marked(text, marked) if any(marked) else text


NO_SECRETS = Redactor()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` through a :class:`Redactor` of ``secrets`` (for one message; build a Redactor once
    for many)."""
    return Redactor(secrets)(text)


def _replace_marked(text: str, marked: bytearray) -> str:
    out = []
    i = 0
    while i < len(text):
        if marked[i]:
            while i < len(text) and marked[i]:
                i += 1
            out.append(REDACTED)
        else:
            end = marked.find(1, i)
            end = len(text) if end == -1 else end
            out.append(text[i:end])
            i = end
    return "".join(out)
