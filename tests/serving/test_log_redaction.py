"""Both log formats carry the redacted record: the message, its arguments, an access line's
fields and the traceback (issue 15 item 6)."""

from __future__ import annotations

import logging
import sys

from agui_proxy.core.redact import Redactor
from agui_proxy.middleware.access_log import JSONFormatter
from agui_proxy.serving.log_redaction import RedactingFilter

KEY = "sk-json-log-KEY-0a1b2c3d4e5f"


def windows(secret: str) -> list[str]:
    return [secret[i:i + 8] for i in range(len(secret) - 7)]


def leaked(text: str) -> list[str]:
    return [w for w in windows(KEY) if w in text]


def failing_record() -> logging.LogRecord:
    try:
        raise ValueError(f"upstream said: bad key {KEY}")
    except ValueError:
        return logging.LogRecord("agui_proxy", logging.ERROR, __file__, 1, "failed for %s", (KEY,), sys.exc_info())


def test_a_json_traceback_is_redacted() -> None:
    record = failing_record()
    assert RedactingFilter(Redactor([KEY])).filter(record)
    text = JSONFormatter().format(record)
    assert not leaked(text), text
    assert "bad key [redacted]" in text and "failed for [redacted]" in text


def test_json_access_fields_are_redacted() -> None:
    record = logging.LogRecord("agui_proxy.access", logging.INFO, __file__, 1, "request_id=%s", (KEY,), None)
    record.fields = {"request_id": KEY, "status": 200}
    assert RedactingFilter(Redactor([KEY])).filter(record)
    text = JSONFormatter().format(record)
    assert not leaked(text), text
    assert '"request_id": "[redacted]"' in text and '"status": 200' in text


def test_a_plain_traceback_is_redacted() -> None:
    record = failing_record()
    assert RedactingFilter(Redactor([KEY])).filter(record)
    text = logging.Formatter().format(record)
    assert not leaked(text), text
