"""The CORS policy on its own: preflights granted and refused, grants on actual responses."""

from __future__ import annotations

import re
from typing import Any

import pytest

from agui_proxy.config import CORSConfig
from agui_proxy.middleware.cors import CORSPolicy, is_preflight

APP = "https://app.example.com"


def scope(method: str = "OPTIONS", **headers: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": "/api/agent",
            "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]}


def preflight(**headers: str) -> dict[str, Any]:
    return scope("OPTIONS", access_control_request_method="POST", **headers)


def policy(**config: Any) -> CORSPolicy:
    return CORSPolicy(CORSConfig(**{"allow_origins": [APP], **config}))


def test_what_is_a_preflight() -> None:
    assert is_preflight(preflight(origin=APP))
    assert not is_preflight(scope("OPTIONS", origin=APP))  # no Access-Control-Request-Method
    assert not is_preflight(scope("OPTIONS", access_control_request_method="POST"))  # no Origin
    assert not is_preflight(scope("POST", origin=APP, access_control_request_method="POST"))


def test_a_granted_preflight() -> None:
    answer = policy().preflight(preflight(origin=APP, access_control_request_headers="Authorization, Content-Type"),
                                ("POST",))
    assert answer.error is None and answer.status == 204
    headers = dict(answer.headers)
    assert headers[b"access-control-allow-origin"] == APP.encode()
    assert headers[b"access-control-allow-methods"] == b"POST"
    assert headers[b"access-control-allow-headers"] == b"authorization, content-type"
    assert headers[b"access-control-max-age"] == b"600"
    assert b"Origin" in headers[b"vary"]
    assert b"access-control-allow-credentials" not in headers


@pytest.mark.parametrize(("config", "headers", "methods", "reason"), [
    ({"allow_origins": []}, {"origin": APP}, ("POST",), "cors.allow_origins is empty"),
    ({}, {"origin": "https://evil.example"}, ("POST",), "origin 'https://evil.example' is not in cors.allow_origins"),
    ({}, {"origin": "https://app.example.com:8443"}, ("POST",), "is not in cors.allow_origins"),
    ({}, {"origin": "http://app.example.com"}, ("POST",), "is not in cors.allow_origins"),
    ({}, {"origin": "null"}, ("POST",), "origin 'null' is not in cors.allow_origins"),
    ({}, {"origin": APP}, ("GET", "HEAD"), "this endpoint takes GET, HEAD, not 'POST'"),
    ({}, {"origin": APP, "access_control_request_headers": "content-type, x-debug"}, ("POST",),
     "request header(s) x-debug not in cors.allow_headers"),
    ({"allow_headers": ["content-type"]}, {"origin": APP, "access_control_request_headers": "authorization"},
     ("POST",), "request header(s) authorization not in cors.allow_headers"),
])
def test_a_refused_preflight(config: dict[str, Any], headers: dict[str, str], methods: tuple[str, ...],
                             reason: str) -> None:
    answer = policy(**config).preflight(preflight(**headers), methods)
    assert answer.status == 403
    assert answer.error is not None and reason in answer.error
    assert b"access-control-allow-origin" not in dict(answer.headers)


def test_origins_match_without_regard_to_case() -> None:
    assert policy().preflight(preflight(origin="https://APP.example.com"), ("POST",)).error is None
    assert CORSConfig(allow_origins=["https://App.Example.com"]).allow_origins == [APP]


def test_any_origin() -> None:
    any_origin = policy(allow_origins=["*"])
    answer = any_origin.preflight(preflight(origin="https://elsewhere.example"), ("POST",))
    assert dict(answer.headers)[b"access-control-allow-origin"] == b"*"
    assert dict(any_origin.response_headers(scope("POST", origin="https://x.example")))[
        b"access-control-allow-origin"] == b"*"


def test_any_header_still_names_authorization() -> None:
    """Browsers never let a "*" grant Authorization: the names asked for are echoed instead."""
    answer = policy(allow_headers=["*"]).preflight(
        preflight(origin=APP, access_control_request_headers="authorization, x-anything"), ("POST",))
    assert dict(answer.headers)[b"access-control-allow-headers"] == b"authorization, x-anything"


def test_credentials_need_the_origin_itself() -> None:
    with_credentials = policy(allow_origins=["*"], allow_credentials=True)
    headers = dict(with_credentials.response_headers(scope("POST", origin=APP)))
    assert headers[b"access-control-allow-origin"] == APP.encode()
    assert headers[b"access-control-allow-credentials"] == b"true"
    assert headers[b"vary"] == b"Origin"


def test_grants_on_actual_responses() -> None:
    allowed = dict(policy().response_headers(scope("POST", origin=APP)))
    assert allowed == {b"access-control-allow-origin": APP.encode(), b"vary": b"Origin",
                       b"access-control-expose-headers": b"x-request-id, x-run-id"}
    assert policy().response_headers(scope("POST", origin="https://evil.example")) == []
    assert policy().response_headers(scope("POST")) == []  # not a browser, or the same origin


@pytest.mark.parametrize(("origins", "message"), [
    (["https://app.example.com/"], "ends with '/'"),
    (["app.example.com"], "is not scheme://host[:port]"),
    (["https://app.example.com/chat"], "is not scheme://host[:port]"),
])
def test_origins_are_checked(origins: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        CORSConfig(allow_origins=origins)
