"""``forward_identity``: tell an upstream who the end user is, for the provider's abuse detection.

As a request header (``header: x-user-id``), and/or in the provider's own body field
(``provider_field: true``): OpenAI's ``user`` (Chat Completions and Responses), Anthropic's
``metadata.user_id`` (config/identity.py, PROVIDER_USER_FIELDS).  Providers ask for an id that does
not identify the person outright; what is sent is the identity the proxy logs (a keyed hash with
``logging.identity: hash``).  The client's own value of the field, if it sent one through
``body``, is replaced: the proxy, not the browser, says who the user is.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from ..config import ForwardIdentityConfig
from ..config.identity import PROVIDER_USER_FIELDS
from ..providers import ProviderRequest, UpstreamRequest


def with_identity(request: ProviderRequest, provider: str, forward: ForwardIdentityConfig,
                  identity: str) -> ProviderRequest:
    """``request`` carrying ``identity`` as ``forward`` asks; the request itself is not changed (a
    recording, which nobody receives, is returned as it is)."""
    if not isinstance(request, UpstreamRequest):
        return request
    headers = request.headers
    body = request.body
    if forward.header is not None:
        headers = {**headers, forward.header: identity}
    field = PROVIDER_USER_FIELDS.get(provider) if forward.provider_field else None
    if field is not None:
        document: dict[str, Any] = orjson.loads(body)
        place = document
        for name in field[:-1]:
            inner = place.get(name)
            place[name] = place = dict(inner) if isinstance(inner, dict) else {}
        place[field[-1]] = identity
        body = orjson.dumps(document)
    return dataclasses.replace(request, headers=headers, body=body)
