"""Small helpers the request builders share: config extras merged in, arguments as an object."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def merge_body(body: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` merged into ``body`` in place: nested objects key by key, anything else replaced.

    Gemini nests its settings (``generationConfig.thinkingConfig`` beside the
    ``generationConfig.maxOutputTokens`` the request carries; ``toolConfig.functionCallingConfig``
    beside the mode the tool choice sets), so a plain ``dict.update`` would drop what the
    request needs.  The config wins wherever both set the same leaf.
    """
    for key, value in extra.items():
        current = body.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            body[key] = merge_body(dict(current), value)
        else:
            body[key] = value
    return body


def with_headers(headers: dict[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with the config's ``extra`` on top.  Names compare case-insensitively, so a
    configured ``Anthropic-Version`` replaces the default instead of being sent beside it."""
    configured = {name.lower() for name in extra}
    out = {k: v for k, v in headers.items() if k.lower() not in configured}
    out.update(extra)
    return out


def arguments_object(arguments: str) -> dict[str, Any]:
    """A call's JSON arguments as the object Anthropic's ``tool_use.input`` and Gemini's
    ``functionCall.args`` must be.

    Arguments that are not a JSON object (a call cut off by max_tokens) are kept under
    ``invalid_arguments`` rather than dropped, so the model sees what it produced.
    """
    if not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"invalid_arguments": arguments}
