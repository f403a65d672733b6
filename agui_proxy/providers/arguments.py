"""A tool call's arguments as the JSON object Anthropic and Gemini want back."""

from __future__ import annotations

import json
from typing import Any


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
    except (ValueError, RecursionError):  # not JSON, or nested past the parser: kept as text
        value = None
    return value if isinstance(value, dict) else {"invalid_arguments": arguments}
