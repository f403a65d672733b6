"""Text offsets as a browser counts them: UTF-16 code units (JavaScript's ``String.length``).

Citations give the span of text a source supports; providers count in their own units (Gemini in
bytes of UTF-8), the client in UTF-16 units.  Computed only when a citation needs one, never on
the per-token path.
"""

from __future__ import annotations


def utf16_len(text: str) -> int:
    """How many UTF-16 code units ``text`` is: one per character, two beyond the BMP."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def utf8_to_utf16(text: str, byte_offset: int) -> int:
    """The UTF-16 offset in ``text`` of the UTF-8 byte offset ``byte_offset`` (clamped to the
    text; an offset inside a character counts the characters before it)."""
    data = text.encode("utf-8", "surrogatepass")
    head = data[:max(0, min(byte_offset, len(data)))]
    return utf16_len(head.decode("utf-8", "ignore"))
