"""Audio, video and documents (AG-UI user content) in each provider's request, or a clear 422."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agui_proxy.core.conversation import Conversation, MediaPart, Message, TextPart
from agui_proxy.errors import InboundError

from ..support.harness import provider

PDF = MediaPart("document", data="JVBERi0=", mime_type="application/pdf", filename="a.pdf")
PDF_URL = MediaPart("document", url="https://example.test/a.pdf", mime_type="application/pdf")
AUDIO = MediaPart("audio", data="UklGRg==", mime_type="audio/wav")
VIDEO_URL = MediaPart("video", url="https://example.test/v.mp4", mime_type="video/mp4")


def user_content(name: str, part: MediaPart) -> Any:
    conv = Conversation(messages=[Message("user", [TextPart("look"), part])])
    body = json.loads(provider(name).build_request(conv).body)
    if name == "anthropic":
        return body["messages"][0]["content"][1]
    if name == "gemini":
        return body["contents"][0]["parts"][1]
    return body["input"][0]["content"][1]


def test_anthropic_documents() -> None:
    assert user_content("anthropic", PDF) == {
        "type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}
    assert user_content("anthropic", PDF_URL) == {
        "type": "document", "source": {"type": "url", "url": "https://example.test/a.pdf"}}


def test_gemini_takes_every_kind() -> None:
    assert user_content("gemini", AUDIO) == {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}}
    assert user_content("gemini", VIDEO_URL) == {
        "fileData": {"fileUri": "https://example.test/v.mp4", "mimeType": "video/mp4"}}


def test_responses_documents() -> None:
    assert user_content("openai-responses", PDF) == {
        "type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}
    assert user_content("openai-responses", PDF_URL) == {"type": "input_file",
                                                         "file_url": "https://example.test/a.pdf"}


@pytest.mark.parametrize(("name", "part"), [
    ("anthropic", AUDIO), ("anthropic", VIDEO_URL), ("openai-responses", AUDIO), ("openai-responses", VIDEO_URL),
])
def test_media_a_provider_cannot_take_is_a_422(name: str, part: MediaPart) -> None:
    with pytest.raises(InboundError) as caught:
        user_content(name, part)
    assert caught.value.status == 422 and part.kind in caught.value.message
