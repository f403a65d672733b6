"""Request ids, the access line's fields, and the plain and JSON log formats."""

from __future__ import annotations

import json
import logging
import logging.config
from typing import Any

import pytest

from agui_proxy.config import LoggingConfig
from agui_proxy.core.events import TokenUsage
from agui_proxy.core.redact import Redactor
from agui_proxy.errors import http_error
from agui_proxy.middleware.access_log import ACCESS_LOGGER, AccessLog, JSONFormatter, logfmt, logging_config
from agui_proxy.middleware.context import MAX_REQUEST_ID, RequestContext, request_id_from

from .test_metrics import new_stream

KEY = "sk-test-SECRET-abcdefghijklmnop"


def scope(*headers: tuple[bytes, bytes], method: str = "POST", path: str = "/api/agent") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "headers": list(headers)}


@pytest.mark.parametrize("incoming", [
    "abc-123",
    "4bf92f3577b34da6a3ce929d0e0e4736",
    "01J9Z3K6Q2V5N8W4X7Y0A1B2C3",
    "gateway/7f3a:1@edge+0=",
    "x" * MAX_REQUEST_ID,
])
def test_a_safe_request_id_is_kept(incoming: str) -> None:
    assert request_id_from(scope((b"x-request-id", incoming.encode()))) == incoming


@pytest.mark.parametrize("incoming", [
    b"",
    b"x" * (MAX_REQUEST_ID + 1),
    b"has space",
    b'quote"d',
    b"new\nline",
    b"trailing-newline\n",
    b"tab\there",
    b"caf\xc3\xa9",
    b"key=value; other",
])
def test_an_unsafe_request_id_is_replaced(incoming: bytes) -> None:
    made = request_id_from(scope((b"x-request-id", incoming)))
    assert made != incoming.decode("latin-1")
    assert len(made) == 32 and int(made, 16) >= 0


def test_a_request_id_is_made_when_none_comes() -> None:
    first, second = request_id_from(scope()), request_id_from(scope())
    assert first != second and len(first) == 32


def finished_exchange() -> RequestContext:
    ex = RequestContext("req-1", "POST", "/api/agent", "/api/agent", "openai", started=10.0)
    ex.status = 200
    ex.run = new_stream()
    ex.run.run.finish(usage=TokenUsage(input_tokens=31, output_tokens=9))
    ex.first_byte, ex.first_event, ex.ended = 10.25, 10.3, 12.0
    return ex


def test_the_fields_of_a_finished_stream() -> None:
    fields = AccessLog(LoggingConfig()).fields(finished_exchange())
    pid = fields.pop("pid")
    assert isinstance(pid, int)
    assert fields == {"request_id": "req-1", "method": "POST", "path": "/api/agent", "route": "/api/agent",
                      "upstream": "openai", "status": 200, "outcome": "ok", "first_byte_ms": 250,
                      "first_event_ms": 300, "duration_ms": 2000, "input_tokens": 31, "output_tokens": 9}


def test_the_fields_of_a_failed_stream_and_of_a_refusal() -> None:
    log = AccessLog(LoggingConfig())
    failed = RequestContext("req-2", "POST", "/api/agent", "/api/agent", "openai", started=0.0, ended=0.5, status=200)
    failed.run = new_stream()
    failed.run.fail(http_error(429, "Rate limit reached"))
    fields = log.fields(failed)
    assert (fields["outcome"], fields["error_code"]) == ("error", "upstream_rate_limited")
    assert "input_tokens" not in fields and "first_byte_ms" not in fields

    refused = RequestContext("req-3", "POST", "/api/agent", "/api/agent", "openai", started=0.0, ended=0.001,
                       status=413, error="body_too_large")
    fields = log.fields(refused)
    assert (fields["status"], fields["outcome"], fields["error_code"]) == (413, "rejected", "body_too_large")


def test_content_only_with_debug_content_and_never_a_secret() -> None:
    ex = finished_exchange()
    ex.request_body = bytearray(f'{{"params":{{"messages":[{{"role":"user","content":"my key is {KEY}"}}]}}}}'.encode())
    ex.response_body = bytearray(b'data: {"type":"TEXT_MESSAGE_CONTENT","delta":"Bonjour"}\n\n')
    assert "request_body" not in AccessLog(LoggingConfig()).fields(ex)
    fields = AccessLog(LoggingConfig(debug_content=True), redactor=Redactor([KEY])).fields(ex)
    assert "my key is [redacted]" in fields["request_body"]
    assert "Bonjour" in fields["response_body"]
    assert KEY not in json.dumps(fields)


def test_logfmt_quotes_what_needs_it() -> None:
    line = logfmt({"a": "plain-value/1", "b": 'two words "quoted"', "c": "new\nline", "d": 7})
    assert line == 'a=plain-value/1 b="two words \\"quoted\\"" c="new\\nline" d=7'


@pytest.mark.parametrize("value", ["/api/agent\n", "/api/agent\nlevel=ERROR"])
def test_a_value_ending_in_a_newline_stays_on_its_line(value: str) -> None:
    """A path ending in %0A (decoded to a newline) must not split the access line."""
    line = logfmt({"path": value, "status": 404})
    assert "\n" not in line and line == f"path={json.dumps(value)} status=404"


def test_the_json_format_of_an_access_line_and_of_other_records() -> None:
    formatter = JSONFormatter()
    access = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, "ignored", None, None)
    access.fields = {"request_id": "req-1", "status": 200}
    out = json.loads(formatter.format(access))
    assert set(out) == {"time", "level", "logger", "request_id", "status"}
    assert (out["level"], out["logger"], out["request_id"], out["status"]) == ("INFO", ACCESS_LOGGER, "req-1", 200)
    assert out["time"].endswith("+00:00")

    other = logging.LogRecord("agui_proxy", logging.WARNING, __file__, 1, "no tokens for %s", ("/api",), None)
    assert json.loads(formatter.format(other))["message"] == "no tokens for /api"


def test_one_line_per_request_through_the_logging_config(capsys: pytest.CaptureFixture[str]) -> None:
    """The dictConfig the CLI gives uvicorn: access lines on stdout as JSON, the rest on stderr."""
    loggers = [logging.getLogger(name) for name in (ACCESS_LOGGER, "agui_proxy", "uvicorn", "uvicorn.access")]
    previous = [(logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    logging.config.dictConfig(logging_config(LoggingConfig(format="json"), "warning"))
    try:
        AccessLog(LoggingConfig()).write(finished_exchange())
        logging.getLogger("agui_proxy").info("an info line the warning level drops")
        logging.getLogger("agui_proxy").warning("a warning")
        out, err = capsys.readouterr()
    finally:
        for logger, (handlers, level, propagate) in zip(loggers, previous, strict=True):
            logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate
    (line,) = out.splitlines()
    assert json.loads(line)["request_id"] == "req-1"
    (warning,) = err.splitlines()
    assert json.loads(warning)["message"] == "a warning"


def test_the_access_log_can_be_turned_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        AccessLog(LoggingConfig(access_log=False)).write(finished_exchange())
        assert caplog.records == []
        AccessLog(LoggingConfig()).write(finished_exchange())
        (record,) = caplog.records
        assert record.getMessage().startswith("request_id=req-1 method=POST path=/api/agent")
