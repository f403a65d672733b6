"""An independent SigV4 verifier, written from AWS's "Signature Version 4 signing process"
(canonical request, string to sign, derived key), for the loopback Bedrock and the signing tests.

It reads a request as the server received it (method, the target as sent, headers, body) and
recomputes the signature with the secret it knows, as AWS does; it shares no code with botocore.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

AUTHORIZATION = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                           r"SignedHeaders=([a-z0-9\-;]+), Signature=([0-9a-f]{64})$")


@dataclass(frozen=True)
class Signed:
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str) -> Signed:
    match = AUTHORIZATION.match(value)
    assert match, f"not a SigV4 Authorization header: {value!r}"
    key, date, region, service, headers, signature = match.groups()
    return Signed(key, date, region, service, headers.split(";"), signature)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _canonical_query(query: str) -> str:
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{k}={v}" for k, v in pairs)


def expected_signature(secret: str, method: str, target: str, headers: Mapping[str, str], body: bytes,
                       signed: Signed) -> str:
    """The signature AWS would compute for this request (``headers``: lowercased names)."""
    path, _, query = target.partition("?")
    # Every service but S3 URI-encodes each path segment once more (the path as sent is encoded).
    canonical_uri = quote(path, safe="/~")
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed.signed_headers)
    canonical = "\n".join([method, canonical_uri, _canonical_query(query), canonical_headers,
                           ";".join(signed.signed_headers), hashlib.sha256(body).hexdigest()])
    amz_date = headers["x-amz-date"]
    scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), signed.date), signed.region), signed.service),
                "aws4_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(secrets: Mapping[str, str], method: str, target: str, headers: Mapping[str, str], body: bytes,
           ) -> Signed:
    """The request's signature checked with the secret of its access key (``secrets``: key -> secret)."""
    signed = parse_authorization(headers["authorization"])
    assert signed.access_key in secrets, f"signed with an unknown access key {signed.access_key}"
    assert "host" in signed.signed_headers and "x-amz-date" in signed.signed_headers, signed.signed_headers
    assert headers["x-amz-date"].startswith(signed.date)
    want = expected_signature(secrets[signed.access_key], method, target, headers, body, signed)
    assert signed.signature == want, "the signature does not verify"
    return signed
