"""The config's rule for secrets too short to keep out of logs (docs/reliability.md).

A secret shorter than :data:`MIN_SECRET_LENGTH` characters is redacted only as a whole value
(``core/redact.py``): inside other text it cannot be told from an ordinary word.  So an inbound
bearer token that short is refused at load (it could be guessed too), and a provider key that
short (Ollama's documented ``api_key: ollama``) is accepted with a warning naming its field.
Neither message ever quotes the secret.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

log = logging.getLogger("agui_proxy")

MIN_SECRET_LENGTH = 8


def check_token_length(token: str, index: int) -> None:
    """Token ``index`` of ``auth.bearer_tokens`` is at least :data:`MIN_SECRET_LENGTH` characters, or a ValueError."""
    if len(token) < MIN_SECRET_LENGTH:
        raise ValueError(f"token {index} is {len(token)} characters; a bearer token needs at least "
                         f"{MIN_SECRET_LENGTH} characters (it could be guessed, and could not be kept "
                         "out of logs; 32 random characters are a good choice)")


def warn_short_keys(keys: Mapping[str, str | None]) -> None:
    """Warn about each upstream (name: its ``api_key``) whose key is under the length."""
    for name, key in keys.items():
        if key and len(key) < MIN_SECRET_LENGTH:
            log.warning("upstreams.%s.api_key is under %d characters: it is redacted only where it is a whole "
                        "value (a log argument, a message), never inside other text, where it cannot be told "
                        "from an ordinary word", name, MIN_SECRET_LENGTH)
