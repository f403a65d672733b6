"""Transcripts of provider-run tools and citations, written from the providers' documented events
where no recording has them (the recordings with them are used from ``../shared``).

- Responses: a ``web_search_call`` item (``response.web_search_call.*`` progress events, the done
  item's ``action`` with its ``sources``), a ``file_search_call`` item, then a message whose text
  carries ``url_citation`` and ``file_citation`` annotations
  (``response.output_text.annotation.added``; indexes in characters of the content part).
- Chat Completions: a search model's ``delta.annotations`` (``url_citation`` with indexes in the
  message's characters), and an OpenAI-compatible server's top-level ``citations`` URL list,
  repeated on every chunk (Perplexity).
- Gemini: the code execution tool's ``executableCode`` and ``codeExecutionResult`` parts.

Each text has characters beyond the BMP and accented ones, so UTF-16 offsets differ from
character and byte offsets.  ``*_TEXT`` and the ``*_CITED`` spans are what the tests check
against, read from the transcript's own strings.
"""

from __future__ import annotations

import json
from typing import Any


def sse(events: list[dict[str, Any]], *, named: bool = False, done: bool = False) -> bytes:
    out = []
    for event in events:
        head = f"event: {event['type']}\n" if named else ""
        out.append(f"{head}data: {json.dumps(event, ensure_ascii=False)}\n\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


# -- OpenAI Responses: web search, file search, url and file citations --------------------------------

WS_ID, FS_ID, MSG_ID = "ws_68c1f0a1b2c3d4e5", "fs_68c1f0a1b2c3d4e6", "msg_68c1f0a1b2c3d4e7"
SEARCH_SOURCES = [{"type": "url", "url": "https://meteofrance.com/previsions-meteo-france/paris/75000"},
                  {"type": "url", "url": "https://www.bbc.com/weather/2988507"}]
RESPONSES_PIECES = ["Paris is mild today 🌤️: 18 °C ",
                    "([Météo‑France](https://meteofrance.com/previsions-meteo-france/paris/75000?utm_source=openai)). ",
                    "Rain is unlikely ([BBC Weather](https://www.bbc.com/weather/2988507?utm_source=openai)); ",
                    "your notes agree 📝."]
RESPONSES_TEXT = "".join(RESPONSES_PIECES)
RESPONSES_CITED = [
    ("https://meteofrance.com/previsions-meteo-france/paris/75000?utm_source=openai", "Prévisions Paris – Météo‑France",
     "[Météo‑France](https://meteofrance.com/previsions-meteo-france/paris/75000?utm_source=openai)"),
    ("https://www.bbc.com/weather/2988507?utm_source=openai", "Paris - BBC Weather",
     "[BBC Weather](https://www.bbc.com/weather/2988507?utm_source=openai)"),
]
FILE_CITED = ("file-4Qk2aXnC8tR9", "weather-notes.pdf")


def _responses_annotations() -> list[dict[str, Any]]:
    annotations: list[dict[str, Any]] = []
    for url, title, link in RESPONSES_CITED:
        start = RESPONSES_TEXT.index(link)  # characters of the content part, as the API counts
        annotations.append({"type": "url_citation", "start_index": start, "end_index": start + len(link),
                            "url": url, "title": title})
    annotations.append({"type": "file_citation", "file_id": FILE_CITED[0], "filename": FILE_CITED[1],
                        "index": len(RESPONSES_TEXT) - 1})
    return annotations


def responses_web_search() -> bytes:
    response = {"id": "resp_68c1f0a0", "object": "response", "created_at": 1757540000, "status": "in_progress",
                "model": "gpt-4.1-2025-04-14", "output": []}
    action = {"type": "search", "query": "Paris weather today", "sources": SEARCH_SOURCES}
    done_search = {"id": WS_ID, "type": "web_search_call", "status": "completed", "action": action}
    results = [{"file_id": FILE_CITED[0], "filename": FILE_CITED[1], "score": 0.91, "text": "Mild, dry week."}]
    done_files = {"id": FS_ID, "type": "file_search_call", "status": "completed",
                  "queries": ["Paris weather notes"], "results": results}
    annotations = _responses_annotations()
    part = {"item_id": MSG_ID, "output_index": 2, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response},
        {"type": "response.in_progress", "response": response},
        {"type": "response.output_item.added", "output_index": 0,
         "item": {"id": WS_ID, "type": "web_search_call", "status": "in_progress"}},
        {"type": "response.web_search_call.in_progress", "output_index": 0, "item_id": WS_ID},
        {"type": "response.web_search_call.searching", "output_index": 0, "item_id": WS_ID},
        {"type": "response.web_search_call.completed", "output_index": 0, "item_id": WS_ID},
        {"type": "response.output_item.done", "output_index": 0, "item": done_search},
        {"type": "response.output_item.added", "output_index": 1,
         "item": {"id": FS_ID, "type": "file_search_call", "status": "in_progress", "queries": [], "results": None}},
        {"type": "response.file_search_call.in_progress", "output_index": 1, "item_id": FS_ID},
        {"type": "response.file_search_call.searching", "output_index": 1, "item_id": FS_ID},
        {"type": "response.file_search_call.completed", "output_index": 1, "item_id": FS_ID},
        {"type": "response.output_item.done", "output_index": 1, "item": done_files},
        {"type": "response.output_item.added", "output_index": 2,
         "item": {"id": MSG_ID, "type": "message", "status": "in_progress", "role": "assistant", "content": []}},
        {"type": "response.content_part.added", **part,
         "part": {"type": "output_text", "text": "", "annotations": []}},
    ]
    for i, piece in enumerate(RESPONSES_PIECES):
        events.append({"type": "response.output_text.delta", **part, "delta": piece, "logprobs": []})
        if i in (1, 2):  # each url citation right after the text it annotates, as the API sends them
            events.append({"type": "response.output_text.annotation.added", **part, "annotation_index": i - 1,
                           "annotation": annotations[i - 1]})
    events += [
        {"type": "response.output_text.annotation.added", **part, "annotation_index": 2, "annotation": annotations[2]},
        {"type": "response.output_text.done", **part, "text": RESPONSES_TEXT, "logprobs": []},
        {"type": "response.content_part.done", **part,
         "part": {"type": "output_text", "text": RESPONSES_TEXT, "annotations": annotations}},
        {"type": "response.output_item.done", "output_index": 2,
         "item": {"id": MSG_ID, "type": "message", "status": "completed", "role": "assistant",
                  "content": [{"type": "output_text", "text": RESPONSES_TEXT, "annotations": annotations}]}},
        {"type": "response.completed", "response": {
            **response, "status": "completed", "output": [done_search, done_files],
            "usage": {"input_tokens": 312, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 61,
                      "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 373}}},
    ]
    return sse([{**e, "sequence_number": n} for n, e in enumerate(events)], named=True)


# -- Chat Completions: a search model's annotations, a compatible server's URL list -------------------

CHAT_PIECES = ["Lyon: 21 °C and sunny ☀️ ", "([Le Progrès](https://www.leprogres.fr/meteo?utm_source=openai)).",
               " Tomorrow 𝟐𝟑 °C ([Météo‑France](https://meteofrance.com/lyon?utm_source=openai))."]
CHAT_TEXT = "".join(CHAT_PIECES)
CHAT_CITED = [("https://www.leprogres.fr/meteo?utm_source=openai", "Météo Lyon - Le Progrès",
               "[Le Progrès](https://www.leprogres.fr/meteo?utm_source=openai)"),
              ("https://meteofrance.com/lyon?utm_source=openai", "Lyon – Météo‑France",
               "[Météo‑France](https://meteofrance.com/lyon?utm_source=openai)")]


def chunk(delta: dict[str, Any], finish: str | None = None, **top: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-BxSearch01", "object": "chat.completion.chunk", "created": 1757540100,
            "model": "gpt-4o-search-preview-2025-03-11", "choices": [{"index": 0, "delta": delta,
                                                                      "finish_reason": finish}], **top}


def chat_annotations() -> bytes:
    annotations = []
    for url, title, link in CHAT_CITED:
        start = CHAT_TEXT.index(link)
        annotations.append({"type": "url_citation", "url_citation": {
            "start_index": start, "end_index": start + len(link), "title": title, "url": url}})
    chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
    chunks += [chunk({"content": piece}) for piece in CHAT_PIECES]
    chunks += [chunk({"annotations": annotations}), chunk({}, "stop")]
    return sse(chunks, done=True)


URL_LIST = ["https://www.timeanddate.com/weather/france/nice", "https://www.meteo-nice.fr/"]
URL_LIST_PIECES = ["Nice is 24 °C", " and clear [1][2] 🌊."]


def chat_url_list() -> bytes:
    """Perplexity's shape: the whole list on every chunk, from the first."""
    chunks = [{**chunk({"role": "assistant", "content": piece}), "model": "sonar", "citations": URL_LIST}
              for piece in URL_LIST_PIECES]
    chunks.append({**chunk({}, "stop"), "model": "sonar", "citations": URL_LIST,
                   "usage": {"prompt_tokens": 9, "completion_tokens": 14, "total_tokens": 23}})
    return sse(chunks, done=True)


# -- Gemini: code execution ---------------------------------------------------------------------------

GEMINI_CODE = "print(sum(range(1, 101)))\n"
GEMINI_OUTPUT = "5050\n"
GEMINI_ANSWER = "The sum of 1 to 100 is 5050 ✅."


def gemini_code_execution() -> bytes:
    def event(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        return {"candidates": [candidate], "modelVersion": "gemini-2.5-flash",
                "usageMetadata": {"promptTokenCount": 21, "candidatesTokenCount": 40, "totalTokenCount": 61}}

    return sse([
        event([{"text": "Let me compute it."}]),
        event([{"executableCode": {"language": "PYTHON", "code": GEMINI_CODE}}]),
        event([{"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": GEMINI_OUTPUT}}]),
        event([{"text": GEMINI_ANSWER}], "STOP"),
    ])
