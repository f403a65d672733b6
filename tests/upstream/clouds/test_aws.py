"""SigV4 as the proxy signs Bedrock requests: AWS's published test vectors, an independent
verifier over exactly what is sent, and credentials that rotate between requests."""

from __future__ import annotations

import datetime
import itertools
import json
from typing import Any

import anyio
import httpx
import pytest

pytest.importorskip("botocore", reason="the aws extra (botocore) is not installed")

import botocore.auth
from botocore.credentials import Credentials, RefreshableCredentials

from agui_proxy.providers import UpstreamRequest
from agui_proxy.upstream.clouds.aws import AWSAuthorizer, sign
from agui_proxy.upstream.clouds.base import CredentialsInfo
from tests.support import sigv4

# AWS's SigV4 test suite (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html).
SUITE_KEY, SUITE_SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_TIME = datetime.datetime(2015, 8, 30, 12, 36, 0)
VECTORS = {  # name: (method, signature)
    "get-vanilla": ("GET", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    "post-vanilla": ("POST", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
}


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_the_published_vectors(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    method, signature = VECTORS[name]
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: SUITE_TIME)
    request = UpstreamRequest(method, "https://example.amazonaws.com/", {}, b"")
    signed = sign(request, Credentials(SUITE_KEY, SUITE_SECRET), "us-east-1", service="service")
    assert signed.headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={signature}")
    assert signed.headers["X-Amz-Date"] == "20150830T123600Z"
    # The test's own verifier agrees with the vector, so it can be trusted on the rest.
    headers = {"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z",
               "authorization": signed.headers["Authorization"]}
    sigv4.verify({SUITE_KEY: SUITE_SECRET}, method, "/", headers, b"")


def wire_headers(request: UpstreamRequest) -> dict[str, str]:
    """The headers as a server receives them: lowercased, with the Host httpx sends."""
    sent = httpx.Request(request.method, request.url, headers=request.headers, content=request.body)
    return {k.decode().lower(): v.decode() for k, v in sent.headers.raw}


def test_a_bedrock_request_verifies_with_its_session_token_signed() -> None:
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": "héllo"}]}]}).encode()
    request = UpstreamRequest("POST", "https://bedrock-runtime.eu-central-1.amazonaws.com/model/"
                              "eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream",
                              {"content-type": "application/json", "accept": "application/vnd.amazon.eventstream",
                               "x-forwarded-for-test": "a  b"}, body, {"trace": "on x"})
    signed = sign(request, Credentials("ASIAKEY1", "secret-one", "session-token-one"), "eu-central-1")
    assert signed.params == {} and signed.url.endswith("/converse-stream?trace=on%20x")
    headers = wire_headers(signed)
    assert headers["x-amz-security-token"] == "session-token-one"
    target = signed.url.split("amazonaws.com", 1)[1]
    result = sigv4.verify({"ASIAKEY1": "secret-one"}, "POST", target, headers, body)
    assert result.service == "bedrock" and result.region == "eu-central-1"
    assert {"x-amz-security-token", "content-type", "host"} <= set(result.signed_headers)
    with pytest.raises(AssertionError, match="does not verify"):  # a byte changed after signing fails
        sigv4.verify({"ASIAKEY1": "secret-one"}, "POST", target, headers, body.replace(b"h", b"H"))


def test_credentials_that_rotate_between_requests() -> None:
    """Temporary credentials within their refresh window are fetched anew before a request is
    signed (off the event loop), and each request verifies with the keys it was signed with."""
    numbers = itertools.count(1)
    issued: dict[str, str] = {}
    threads: list[bool] = []

    def fetch() -> dict[str, Any]:
        n = next(numbers)
        issued[f"ASIA{n}"] = f"secret-{n}"
        try:
            anyio.from_thread.check_cancelled()  # only callable from a worker thread of the loop
            threads.append(True)
        except RuntimeError:
            threads.append(False)
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)  # inside the mandatory window
        return {"access_key": f"ASIA{n}", "secret_key": f"secret-{n}", "token": f"token-{n}",
                "expiry_time": expiry.isoformat()}

    credentials = RefreshableCredentials.create_from_metadata(fetch(), fetch, "container-role")
    authorizer = AWSAuthorizer(credentials, "us-west-2", CredentialsInfo("AWS", "test"))
    request = UpstreamRequest("POST", "https://bedrock-runtime.us-west-2.amazonaws.com/model/m/converse-stream",
                              {"content-type": "application/json"}, b"{}")

    async def two() -> list[UpstreamRequest]:
        async with httpx.AsyncClient() as client:
            return [await authorizer.authorize(request, client) for _ in range(2)]

    keys = []
    for signed in anyio.run(two):
        headers = wire_headers(signed)
        keys.append(sigv4.verify(issued, "POST", "/model/m/converse-stream", headers, b"{}").access_key)
        assert headers["x-amz-security-token"] == f"token-{keys[-1][4:]}"
    assert keys == ["ASIA2", "ASIA3"]
    assert threads == [False, True, True]  # the first at start; each refresh in a worker thread
