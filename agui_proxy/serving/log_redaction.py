"""No log line of a process carries a key or a token, whoever logs it (httpx, uvicorn, ours)."""

from __future__ import annotations

import logging

from ..core.redact import Redactor


class RedactingFilter(logging.Filter):
    """Takes the config's keys and tokens out of every log record."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self.redact
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            # Argument by argument: formatters such as uvicorn's access log unpack them.
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):  # an access line's fields, which the JSON format writes as they are
            record.fields = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        if record.exc_info and not record.exc_text:
            # Both formats write this text (a formatter formats exc_info only when exc_text is unset).
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(redactor: Redactor) -> None:
    """Put a :class:`RedactingFilter` on every handler configured so far (ours, uvicorn's, the root's)."""
    redacting = RedactingFilter(redactor)
    named = [logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)]
    loggers = [logging.getLogger(), *named]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(redacting)
