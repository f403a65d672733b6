"""The real proxy (its CLI) in front of a loopback Bedrock that speaks AWS's event stream.

Every request the proxy sends is checked as AWS would: its SigV4 signature recomputed from the
bytes received, with the secret of the access key it names (tests/support/sigv4.py, written from
the spec, sharing no code with the signer).  The credentials come from the AWS chain as in
production: environment variables here, a loopback container credentials endpoint that rotates
them in the rotation test; nothing reaches AWS (the instance metadata service is off, the shared
files point nowhere).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ..support import eventstream as es
from ..support import sigv4
from ..support.agui_check import reasoning_of, text_of, tool_calls_of
from ..support.proxy import (
    ProxyProcess,
    ProxySetup,
    Reply,
    assert_no_secret,
    post,
    sse_events,
    sse_run_error,
    start_proxy,
)
from ..support.upstream import Chunk, End, ScriptedUpstream, Status, body_response, split

pytest.importorskip("botocore", reason="the aws extra (botocore) is not installed")
pytestmark = [pytest.mark.integration, pytest.mark.upstream_read]

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
PATH = "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"
ACCESS_KEY, SECRET_KEY = "ASIATESTACCESSKEY0001", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYTESTSECRET"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN+abcdefghijklmnopqrstuvwxyz0123456789=="
API_KEY = "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxlLWtleS0wMTIzNDU2Nzg5"
SECRETS = (SECRET_KEY, SESSION_TOKEN, API_KEY)
EVENT_STREAM = {"content-type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "req-1"}
# The AWS chain, kept on loopback: no shared files, no instance metadata service.
NO_AWS = {"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/nonexistent/aws-config",
          "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials"}
AWS_ENV_NAMES = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]


def bedrock_config(upstream_url: str, **upstream: Any) -> dict[str, Any]:
    return {
        "logging": {"level": "debug"},  # no credential in any log line, the libraries' debug lines included
        "upstreams": {
            "bedrock": {"provider": "bedrock", "region": "us-east-1", "model": MODEL, "base_url": upstream_url,
                        "retries": {"max": 1, "backoff": 0}, **upstream},
            "bedrock-key": {"provider": "bedrock", "region": "us-east-1", "model": MODEL, "base_url": upstream_url,
                            "api_key": "${BEDROCK_API_KEY}", "retries": 0},
        },
        "routes": [{"path": "/api/bedrock", "upstream": "bedrock", "reasoning": True},
                   {"path": "/api/bedrock-key", "upstream": "bedrock-key"}],
    }


@pytest.fixture(scope="module")
def proxy_setup(upstream: ScriptedUpstream) -> ProxySetup:
    return ProxySetup(bedrock_config(upstream.url),
                      env={**NO_AWS, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                           "AWS_SESSION_TOKEN": SESSION_TOKEN, "BEDROCK_API_KEY": API_KEY})


def ask(proxy: ProxyProcess, body: dict[str, Any], path: str = "/api/bedrock") -> Reply:
    return post(proxy.url + path, body)


def verified(request: Any, keys: dict[str, str] | None = None) -> sigv4.Signed:
    """The request as AWS checks it: signed by a known key, over exactly these bytes."""
    signed = sigv4.verify(keys or {ACCESS_KEY: SECRET_KEY}, request.method, request.target, request.headers,
                          request.body)
    assert (signed.region, signed.service) == ("us-east-1", "bedrock")
    return signed


TOOLS = [{"name": "weather", "description": "Weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
FIRST_ANSWER = es.converse(
    es.start(), *es.reasoning_block(0, "Two cities, ", "two calls.", signature="EqQBCkgIARAB-signature=="),
    *es.text_block(1, "Checking both."),
    *es.tool_block(2, "tooluse_P", "weather", '{"city":', ' "Paris"}'),
    *es.tool_block(3, "tooluse_R", "weather", '{"city": "Rome"}'),
    *es.stop("tool_use", inputTokens=50, outputTokens=40, cacheReadInputTokens=300, cacheWriteInputTokens=10,
             totalTokens=400))


def agui(run: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"threadId": "thread-1", "runId": run, "state": {}, "context": [], "forwardedProps": {},
            "tools": TOOLS, "messages": messages}


def test_a_two_turn_tool_loop(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    """Reasoning, text and two parallel calls, then the second turn with the signed reasoning, the
    calls and both results, checked field by field; both requests signed and verified."""
    up.script(Status(200, EVENT_STREAM), split(FIRST_ANSWER, 13), End())  # messages cut anywhere
    question = {"id": "u1", "role": "user", "content": "Weather in Paris and Rome?"}
    events = sse_events(ask(proxy, agui("run-1", [question])), *SECRETS, done=False)
    assert reasoning_of(events) == "Two cities, two calls."
    assert text_of(events) == "Checking both."
    calls = tool_calls_of(events)
    assert [(c, n, json.loads(a)) for c, n, a in calls] == [("tooluse_P", "weather", {"city": "Paris"}),
                                                          ("tooluse_R", "weather", {"city": "Rome"})]
    assert events[-1]["result"] == {"stopReason": "tool_use", "providerStopReason": "tool_use"}
    assert events[-1]["usage"] == [{"provider": "bedrock", "model": MODEL, "inputTokens": 360, "outputTokens": 40,
                                    "totalTokens": 400, "cachedInputTokens": 300, "cacheWriteInputTokens": 10}]
    [signature] = [e["encryptedValue"] for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"]

    up.script(Status(200, EVENT_STREAM), Chunk(es.converse(es.start(), *es.text_block(0, "Paris 18°C, Rome 24°C."),
                                                           *es.stop())), End())
    second = agui("run-2", [
        question,
        {"id": "rs1", "role": "reasoning", "content": "Two cities, two calls.", "encryptedValue": signature},
        {"id": "a1", "role": "assistant", "content": "Checking both.", "toolCalls": [
            {"id": c, "type": "function", "function": {"name": n, "arguments": a}} for c, n, a in calls]},
        {"id": "t1", "role": "tool", "toolCallId": "tooluse_P", "content": "18°C"},
        {"id": "t2", "role": "tool", "toolCallId": "tooluse_R", "content": "24°C"},
    ])
    events = sse_events(ask(proxy, second), *SECRETS, done=False)
    assert text_of(events) == "Paris 18°C, Rome 24°C."

    first, again = up.requests
    for request in (first, again):
        assert (request.method, request.target) == ("POST", PATH)
        assert request.headers["x-amz-security-token"] == SESSION_TOKEN
        assert request.headers["accept"] == "application/vnd.amazon.eventstream"
        verified(request)
    tool_config = {"tools": [{"toolSpec": {"name": "weather", "description": "Weather in a city", "inputSchema": {
        "json": {"type": "object", "properties": {"city": {"type": "string"}}}}}}]}
    assert first.json() == {"messages": [{"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]}],
                            "inferenceConfig": {"maxTokens": 4000}, "toolConfig": tool_config}
    assert again.json() == {
        "messages": [
            {"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "Two cities, two calls.",
                                                        "signature": "EqQBCkgIARAB-signature=="}}},
                {"text": "Checking both."},
                {"toolUse": {"toolUseId": "tooluse_P", "name": "weather", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "tooluse_R", "name": "weather", "input": {"city": "Rome"}}}]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "tooluse_P", "content": [{"text": "18°C"}]}},
                {"toolResult": {"toolUseId": "tooluse_R", "content": [{"text": "24°C"}]}}]},
        ],
        "inferenceConfig": {"maxTokens": 4000}, "toolConfig": tool_config}


def test_redacted_reasoning_is_sent_as_an_encrypted_value(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, EVENT_STREAM), Chunk(es.converse(
        es.start(), *es.reasoning_block(0, redacted="c2VjcmV0IHJlYXNvbmluZw=="), *es.text_block(1, "Hi."),
        *es.stop())), End())
    events = sse_events(ask(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}), *SECRETS)
    assert [e["encryptedValue"] for e in events if e["type"] == "REASONING_ENCRYPTED_VALUE"] == [
        "c2VjcmV0IHJlYXNvbmluZw=="]
    assert text_of(events) == "Hi."


@pytest.mark.parametrize(("exception", "code"), [
    ("throttlingException", "upstream_rate_limited"),
    ("validationException", "upstream_rejected"),
    ("serviceUnavailableException", "upstream_unavailable"),
    ("internalServerException", "upstream_unavailable"),
    ("modelStreamErrorException", "upstream_error"),
    ("aNewKindOfException", "upstream_error"),
])
def test_every_in_stream_exception_after_output(proxy: ProxyProcess, up: ScriptedUpstream, exception: str,
                                                code: str) -> None:
    up.script(Status(200, EVENT_STREAM), Chunk(es.converse(es.start(), ("contentBlockDelta", {
        "contentBlockIndex": 0, "delta": {"text": "Part"}}))), Chunk(es.exception(exception, "went wrong")), End())
    events = sse_run_error(ask(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}), code,
                           exception, "went wrong", secrets=SECRETS)
    assert text_of(events) == "Part"
    assert len(up.requests) == 1  # output had started: never retried


def test_throttling_before_output_is_retried_as_a_429(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, EVENT_STREAM), Chunk(es.converse(es.start()) + es.exception("throttlingException", "slow")),
              End())
    up.script(Status(200, EVENT_STREAM), Chunk(es.converse(es.start(), *es.text_block(0, "Fine."), *es.stop())),
              End())
    events = sse_events(ask(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}), *SECRETS)
    assert text_of(events) == "Fine."
    first, second = up.requests
    assert verified(first).signature != verified(second).signature or first.headers["x-amz-date"] == \
        second.headers["x-amz-date"]  # each try signed anew, each verifies


def test_validation_before_output_is_not_retried(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, EVENT_STREAM), Chunk(es.exception("validationException", "The model is not supported")),
              End())
    events = sse_run_error(ask(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
                           "upstream_rejected", "The model is not supported", secrets=SECRETS)
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]


def test_an_http_error_names_the_reason(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(body_response(403, {"message": "The security token included in the request is invalid."},
                            headers={"x-amzn-errortype": "UnrecognizedClientException"}))
    sse_run_error(ask(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}), "upstream_auth_failed",
                  "403", "security token included in the request is invalid", secrets=SECRETS)


def test_a_corrupt_stream_is_a_protocol_error(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    data = bytearray(es.converse(es.start(), *es.text_block(0, "Hi")))
    data[-2] ^= 0xFF
    up.script(Status(200, EVENT_STREAM), Chunk(bytes(data)), End())
    sse_run_error(ask(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
                  "upstream_protocol_error", "CRC", secrets=SECRETS)


def test_an_api_key_is_a_bearer_header_and_nothing_is_signed(proxy: ProxyProcess, up: ScriptedUpstream) -> None:
    up.script(Status(200, EVENT_STREAM), Chunk(es.converse(es.start(), *es.text_block(0, "Keyed."), *es.stop())),
              End())
    events = sse_events(ask(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}},
                            "/api/bedrock-key"), *SECRETS)
    assert text_of(events) == "Keyed."
    [request] = up.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert "x-amz-date" not in request.headers and "x-amz-security-token" not in request.headers


def test_no_credential_in_any_log_line(proxy: ProxyProcess) -> None:
    output = proxy.output()
    assert "upstream bedrock: AWS IAM credentials (SigV4) from environment variables" in output
    assert "upstream bedrock-key: a Bedrock API key" in output
    assert "Found credentials in environment variables" in output  # botocore logs, though never below INFO
    assert_no_secret(output, *SECRETS)
    assert "Traceback" not in output


# -- credentials from the chain's other links, and none at all ------------------------------------


def test_credentials_that_rotate_mid_run(up: ScriptedUpstream, tmp_path: Path) -> None:
    """Temporary credentials from a loopback container credentials endpoint, each set a few
    minutes from expiry: botocore fetches new ones before each request, and each request is
    signed with the set it was given."""
    issued = {f"ASIAROTATING{n}": f"rotating-secret-{n}-abcdefghijklmnop" for n in range(3)}
    with ScriptedUpstream() as endpoint:
        for n, (key, secret) in enumerate(issued.items()):
            endpoint.script(body_response(200, {"AccessKeyId": key, "SecretAccessKey": secret, "Token": f"token-{n}",
                                                "Expiration": _in_minutes(5)}))
        env = {**NO_AWS, "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url + "/v2/credentials/uuid",
               "AWS_CONTAINER_AUTHORIZATION_TOKEN": "cat-0f8e7d6c5b4a39281706f5e4"}
        with start_proxy(tmp_path, bedrock_config(up.url), env={**env, "BEDROCK_API_KEY": API_KEY},
                         drop_env=AWS_ENV_NAMES) as proxy:
            for word in ("One.", "Two."):
                up.script(Status(200, EVENT_STREAM), Chunk(es.converse(es.start(), *es.text_block(0, word),
                                                                       *es.stop())), End())
                events = sse_events(ask(proxy, {"params": {"messages": [{"role": "user", "content": "hi"}]}}),
                                    *issued.values())
                assert text_of(events) == word
            output = proxy.output()
        assert len(endpoint.requests) == 3  # at start, then before each request
        assert all(r.headers["authorization"] == "cat-0f8e7d6c5b4a39281706f5e4" for r in endpoint.requests)
    keys = [verified(r, issued).access_key for r in up.requests]
    assert keys == ["ASIAROTATING1", "ASIAROTATING2"]
    assert [r.headers["x-amz-security-token"] for r in up.requests] == ["token-1", "token-2"]
    assert "from the container credentials endpoint" in output
    assert_no_secret(output, *issued.values(), "cat-0f8e7d6c5b4a39281706f5e4")


def _in_minutes(minutes: int) -> str:
    import datetime

    return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
