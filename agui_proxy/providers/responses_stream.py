"""The OpenAI Responses stream into a run (FORMATS.md section 3).

Each event is ``event: <type>`` + ``data: {"type": <type>, ...}``; dispatch is on ``data.type``,
because OpenRouter's Responses endpoint sends the data lines only (and appends a ``data: [DONE]``
the protocol does not have).  What is mapped:

- ``response.output_text.delta`` and ``response.refusal.delta``: text (a refusal is what the model
  says instead of an answer; ``result.stopReason`` is then ``refusal``).
- Function calls: ``response.output_item.added`` with a ``function_call`` item starts the call, its
  ``call_id`` is the tool-call id (what the client sends back with the result);
  ``response.function_call_arguments.delta`` are its arguments; ``.done`` or the item's
  ``output_item.done`` ends it.  Deltas name their item by ``item_id`` (and ``output_index``),
  so parallel calls, even interleaved, each keep their own arguments.
- Reasoning: ``response.reasoning_summary_text.delta`` (OpenAI's summaries) and
  ``response.reasoning_text.delta`` (raw reasoning: open-weight models, OpenRouter) as REASONING
  events.  One reasoning *item* is one AG-UI reasoning message: its summary parts are the
  markdown sections of one summary (each starts with its own bold title), so they are joined by a
  blank line rather than split into messages, and the item's ``encrypted_content`` (which covers
  the whole item, and is what a client sends back) is that message's REASONING_ENCRYPTED_VALUE.
  The message's id is the item's own ``rs_...`` id, which the request side needs back with it.
- The end: ``response.completed`` (usage), ``response.incomplete`` (max tokens: RUN_FINISHED with
  stopReason ``max_tokens``; content filter: RUN_ERROR ``content_filtered``), ``response.failed``
  and ``error`` events: RUN_ERROR.  The recorded ``error`` event nests ``{code, message}`` under
  ``error``; the published schema puts them at the top level: both are read.

- Tools OpenAI runs itself: a ``web_search_call``, ``file_search_call`` or
  ``code_interpreter_call`` item is a tool call (``web_search``, ...) from its ``output_item.added``
  to its ``output_item.done``, where the run shows provider tools.  Its arguments are what it
  did (the search's ``action`` without its sources, the queries, the code) and, the stream having
  no separate result, its ``TOOL_CALL_RESULT`` is what the done item reports: status, action with
  sources, results or outputs where given.
- ``response.output_text.annotation.added``: ``url_citation`` (and ``container_file_citation``)
  with ``start_index`` / ``end_index`` in the content part's characters, and ``file_citation``
  (a file, by id and name): citations of the text message.

Every other event family is ignored.  A ``.done``
event whose part streamed no deltas supplies the part's whole text, for servers that skip deltas.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.events import Citation, TokenUsage
from ..core.offsets import utf16_len
from ..core.provider_tools import provider_tool_value
from ..core.run import END_TURN, MAX_TOKENS, TOOL_USE, RunBuilder
from ..core.sse import SSEEvent
from ..errors import ContentFiltered, UpstreamTruncated
from .base import count, parse_json_event
from .translator_base import TranslatorBase, handles, token_usage

REFUSAL = "refusal"
# Between two summary (or reasoning-text) parts of one reasoning item: the parts are sections.
PART_SEPARATOR = "\n\n"

Part = tuple[str, str, int]  # (item key, "text" | "refusal" | "summary" | "reasoning", part index)

# The items of the tools OpenAI runs itself -> (the tool's name, what its arguments are, what its
# result is: the item's fields).
PROVIDER_CALLS = {
    "web_search_call": ("web_search", ("action",), ("status", "action")),
    "file_search_call": ("file_search", ("queries",), ("status", "queries", "results")),
    "code_interpreter_call": ("code_interpreter", ("code",), ("status", "outputs")),
}


class ResponsesTranslator(TranslatorBase):
    end_marker = "response.completed"

    def __init__(self, run: RunBuilder, *, model: str) -> None:
        super().__init__(run, model=model)
        self._item_at: dict[int, str] = {}  # output_index -> item key, from output_item.added
        self._calls: dict[str, bool] = {}  # function-call item key -> still open
        self._streamed: set[Part | str] = set()  # parts (and call items) that had deltas
        # The reasoning part the open reasoning message last grew from; None once anything else
        # (text, a tool call, another item) has closed that message in the run.
        self._reasoning_at: Part | None = None
        self._called_tools = False
        self._refused = False
        self._part_at: dict[Part, int] = {}  # text parts: where each starts in the message (characters)

    def feed(self, event: SSEEvent) -> None:
        if event.data == "[DONE]":
            # OpenRouter's addition after the terminal event; here it means the response never ended.
            raise UpstreamTruncated("the upstream stream ended (data: [DONE]) before response.completed")
        payload = parse_json_event(event)
        kind = payload.get("type")
        self.dispatch(kind if isinstance(kind, str) else event.event, payload)

    # -- items ----------------------------------------------------------------------------------

    def _key(self, event: dict[str, Any]) -> str:
        """The item an event is about: its ``item_id``, else the item added at its ``output_index``."""
        item_id = event.get("item_id")
        if isinstance(item_id, str) and item_id:
            return item_id
        index = event.get("output_index")
        if isinstance(index, int):
            return self._item_at.get(index, f"#{index}")
        return "#0"

    def _item_key(self, event: dict[str, Any], item: dict[str, Any]) -> str:
        if isinstance(item.get("id"), str) and item["id"]:
            return str(item["id"])
        return self._key(event)

    @handles("response.created", "response.in_progress")
    def _response_info(self, event: dict[str, Any]) -> None:
        response = event.get("response")
        if isinstance(response, dict):
            self.saw_model(response.get("model"))

    @handles("response.output_item.added")
    def _item_added(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            return
        key = self._item_key(event, item)
        if isinstance(event.get("output_index"), int):
            self._item_at[event["output_index"]] = key
        if item.get("type") == "function_call":
            self._start_call(key, item)
        elif item.get("type") == "reasoning":
            self._run.end_reasoning()  # a new reasoning item is a new reasoning message
            self._reasoning_at = None
        elif item.get("type") in PROVIDER_CALLS:
            self._run.provider_tool_start(("provider", key), _provider_id(key), PROVIDER_CALLS[item["type"]][0])
            self._reasoning_at = None

    @handles("response.output_item.done")
    def _item_done(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            return
        key = self._item_key(event, item)
        if item.get("type") == "function_call":
            if key not in self._calls:  # never announced by output_item.added: the whole call is here
                self._start_call(key, item)
            self._end_call(key, item.get("arguments"))
        elif item.get("type") == "reasoning":
            encrypted = item.get("encrypted_content")
            if isinstance(encrypted, str) and encrypted:
                self._run.reasoning_signature(encrypted, item_id=_provider_id(key))
            self._run.end_reasoning()
            self._reasoning_at = None
        elif item.get("type") in PROVIDER_CALLS:
            self._provider_call_done(key, item)

    def _provider_call_done(self, key: str, item: dict[str, Any]) -> None:
        name, argument_fields, result_fields = PROVIDER_CALLS[item["type"]]
        run, tool = self._run, ("provider", key)
        if not run.tool_is_open(tool):
            call_id = run.provider_tool_start(tool, _provider_id(key), name)
            if call_id is None:
                return  # not shown in this run
        arguments = {f: item[f] for f in argument_fields if item.get(f) is not None}
        action = arguments.get("action")
        if isinstance(action, dict):  # the search's sources are what it found: the result
            arguments["action"] = {k: v for k, v in action.items() if k != "sources"}
        call_id = run.tool_id(tool)
        run.tool_args(tool, json.dumps(arguments, ensure_ascii=False))
        run.tool_end(tool)
        result = {f: item[f] for f in result_fields if item.get(f) is not None}
        run.tool_result(call_id, json.dumps(result, ensure_ascii=False), provider_tool_value("openai"))

    # -- function calls -------------------------------------------------------------------------

    def _start_call(self, key: str, item: dict[str, Any]) -> None:
        call_id = item.get("call_id") if isinstance(item.get("call_id"), str) else None
        name = item.get("name") if isinstance(item.get("name"), str) else ""
        self._run.tool_start(("call", key), call_id or None, name or "")
        self._calls[key] = True
        self._called_tools = True
        self._reasoning_at = None
        arguments = item.get("arguments")
        if isinstance(arguments, str) and arguments:  # a server that sends them with the item
            self._streamed.add(key)
            self._run.tool_args(("call", key), arguments)

    @handles("response.function_call_arguments.delta")
    def _arguments_delta(self, event: dict[str, Any]) -> None:
        key, delta = self._key(event), event.get("delta")
        if self._calls.get(key) and isinstance(delta, str) and delta:
            self._streamed.add(key)
            self._run.tool_args(("call", key), delta)

    @handles("response.function_call_arguments.done")
    def _arguments_done(self, event: dict[str, Any]) -> None:
        self._end_call(self._key(event), event.get("arguments"))

    def _end_call(self, key: str, arguments: Any) -> None:
        if not self._calls.get(key):
            return
        if key not in self._streamed and isinstance(arguments, str) and arguments:
            self._run.tool_args(("call", key), arguments)
        self._calls[key] = False
        self._run.tool_end(("call", key))

    # -- text and reasoning ---------------------------------------------------------------------

    @handles("response.output_text.delta")
    def _text_delta(self, event: dict[str, Any]) -> None:
        self._text(event, "text", event.get("delta"))

    @handles("response.output_text.done")
    def _text_done(self, event: dict[str, Any]) -> None:
        self._text(event, "text", event.get("text"), done=True)

    @handles("response.refusal.delta")
    def _refusal_delta(self, event: dict[str, Any]) -> None:
        self._text(event, REFUSAL, event.get("delta"))

    @handles("response.refusal.done")
    def _refusal_done(self, event: dict[str, Any]) -> None:
        self._text(event, REFUSAL, event.get("refusal"), done=True)

    @handles("response.reasoning_summary_text.delta")
    def _summary_delta(self, event: dict[str, Any]) -> None:
        self._reasoning(event, "summary", "summary_index", event.get("delta"))

    @handles("response.reasoning_summary_text.done")
    def _summary_done(self, event: dict[str, Any]) -> None:
        self._reasoning(event, "summary", "summary_index", event.get("text"), done=True)

    @handles("response.reasoning_text.delta")
    def _reasoning_delta(self, event: dict[str, Any]) -> None:
        self._reasoning(event, "reasoning", "content_index", event.get("delta"))

    @handles("response.reasoning_text.done")
    def _reasoning_done(self, event: dict[str, Any]) -> None:
        self._reasoning(event, "reasoning", "content_index", event.get("text"), done=True)

    def _text(self, event: dict[str, Any], kind: str, text: Any, *, done: bool = False) -> None:
        part = (self._key(event), kind, _index(event, "content_index"))
        if not isinstance(text, str) or not text or (done and part in self._streamed):
            return
        if part not in self._streamed and kind != REFUSAL:
            self._part_at[part] = len(self._run.message_text())
        self._streamed.add(part)
        if kind == REFUSAL:
            self._refused = True
        self._reasoning_at = None
        self._run.text(text)

    @handles("response.output_text.annotation.added")
    def _annotation(self, event: dict[str, Any]) -> None:
        annotation = event.get("annotation")
        if not isinstance(annotation, dict):
            return
        kind = annotation.get("type")
        url, file_id = _str(annotation.get("url")) or None, _str(annotation.get("file_id")) or None
        if kind == "url_citation" and url:
            title = _str(annotation.get("title")) or url
        elif kind in ("file_citation", "container_file_citation") and file_id:
            title = _str(annotation.get("filename")) or file_id
        else:
            return  # file_path (a file the model made) and kinds to come: not a source
        span = self._span(event, annotation)
        self._run.citation(Citation(url=url, title=title, file_id=None if url else file_id,
                                    start=span[0] if span else None, end=span[1] if span else None))

    def _span(self, event: dict[str, Any], annotation: dict[str, Any]) -> tuple[int, int] | None:
        """The annotation's ``start_index`` / ``end_index`` (characters of its content part) as
        UTF-16 offsets into the run's text message."""
        start, end = annotation.get("start_index"), annotation.get("end_index")
        part = (self._key(event), "text", _index(event, "content_index"))
        if not isinstance(start, int) or not isinstance(end, int) or part not in self._part_at:
            return None
        text, at = self._run.message_text(), self._part_at[part]
        return utf16_len(text[:at + start]), utf16_len(text[:at + end])

    def _reasoning(self, event: dict[str, Any], kind: str, index_field: str, text: Any, *,
                   done: bool = False) -> None:
        item = self._key(event)
        part = (item, kind, _index(event, index_field))
        if not isinstance(text, str) or not text or (done and part in self._streamed):
            return
        self._streamed.add(part)
        at = self._reasoning_at
        if at is not None and at[0] == item and at != part:
            text = PART_SEPARATOR + text
        self._reasoning_at = part
        self._run.reasoning(text, item_id=_provider_id(item))

    # -- the end --------------------------------------------------------------------------------

    @handles("response.completed")
    def _completed(self, event: dict[str, Any]) -> None:
        response = _response(event)
        stop = REFUSAL if self._refused else TOOL_USE if self._called_tools else END_TURN
        status = response.get("status")
        self._finish(response, stop, status if isinstance(status, str) and status else "completed")

    @handles("response.incomplete")
    def _incomplete(self, event: dict[str, Any]) -> None:
        response = _response(event)
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        if reason == "content_filter":
            raise ContentFiltered("the provider's content filter stopped the response")
        if reason == "max_output_tokens":
            self._finish(response, MAX_TOKENS, reason)
        else:  # a reason this translator does not know: passed through as it is
            raw = reason if isinstance(reason, str) and reason else "incomplete"
            self._finish(response, raw, raw)

    def _finish(self, response: dict[str, Any], stop: str, provider_stop: str) -> None:
        self._response_info({"response": response})
        usage = response.get("usage")
        self._run.finish(stop_reason=stop, provider_stop_reason=provider_stop,
                         usage=responses_usage(usage, self._model) if isinstance(usage, dict)
                         else None)

    @handles("response.failed")
    def _failed(self, event: dict[str, Any]) -> None:
        error = _response(event).get("error")
        self.reported_error(describe_error(error) or "the response failed")

    @handles("error")
    def _error(self, event: dict[str, Any]) -> None:
        nested = event.get("error")
        error = nested if isinstance(nested, dict) else event
        self.reported_error(describe_error(error) or "no details")


def _provider_id(key: str) -> str | None:
    """The item's own id (``rs_...``), which names the run's reasoning message; ``None`` for a
    key made up from an ``output_index``.  The client sends the message back under that id, and
    a ``reasoning`` input item needs it beside its ``encrypted_content``."""
    return None if key.startswith("#") else key


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _index(event: dict[str, Any], field: str) -> int:
    value = event.get(field)
    return value if isinstance(value, int) else 0


def _response(event: dict[str, Any]) -> dict[str, Any]:
    response = event.get("response")
    return response if isinstance(response, dict) else {}


def describe_error(error: Any) -> str:
    """``message (code)`` from a Responses error object; the type ``error`` itself says nothing."""
    if not isinstance(error, dict):
        return str(error)[:300] if error else ""
    message = error.get("message")
    code = error.get("code") or (error.get("type") if error.get("type") != "error" else None)
    text = message if isinstance(message, str) and message else ""
    if isinstance(code, str) and code:
        return f"{text} ({code})" if text else code
    return text


def responses_usage(usage: dict[str, Any], model: str) -> TokenUsage:
    """``input_tokens`` includes the cached ones and ``output_tokens`` the reasoning ones, as AG-UI counts."""
    input_details = usage.get("input_tokens_details")
    output_details = usage.get("output_tokens_details")
    return token_usage(
        "openai", model,
        input_tokens=count(usage.get("input_tokens")),
        output_tokens=count(usage.get("output_tokens")),
        reported_total=count(usage.get("total_tokens")),
        reasoning_tokens=count(output_details.get("reasoning_tokens")) if isinstance(output_details, dict) else None,
        cached_input_tokens=count(input_details.get("cached_tokens")) if isinstance(input_details, dict) else None,
    )
