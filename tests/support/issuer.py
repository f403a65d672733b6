"""A loopback identity provider the test controls: OIDC discovery, a JWK Set, and its signing keys.

::

    with Issuer() as issuer:                       # http://127.0.0.1:<port>/, a thread of its own
        issuer.add_key(RSAKey("k1"))               # served at /jwks.json from now on
        token = issuer.sign(RSAKey("k1"), sub="u1")   # exp an hour ahead, iss and aud set
        issuer.hits("/jwks.json")                  # how many times the keys were fetched

``sign`` takes any claim and header override, so a test can make each kind of bad token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

HOST = "127.0.0.1"
AUDIENCE = "agui-proxy"

# Key generation is the slow part (an RSA key takes tens of milliseconds): one per name per run.
_RSA: dict[str, rsa.RSAPrivateKey] = {}
_EC: dict[str, ec.EllipticCurvePrivateKey] = {}


@dataclass
class RSAKey:
    kid: str
    algorithm: str = "RS256"

    @property
    def private(self) -> rsa.RSAPrivateKey:
        if self.kid not in _RSA:
            _RSA[self.kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _RSA[self.kid]

    def jwk(self) -> dict[str, Any]:
        data: dict[str, Any] = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**data, "kid": self.kid, "use": "sig"}


@dataclass
class ECKey:
    kid: str
    algorithm: str = "ES256"

    @property
    def private(self) -> ec.EllipticCurvePrivateKey:
        if self.kid not in _EC:
            _EC[self.kid] = ec.generate_private_key(ec.SECP256R1())
        return _EC[self.kid]

    def jwk(self) -> dict[str, Any]:
        data: dict[str, Any] = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**data, "kid": self.kid, "use": "sig"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token built by hand (PyJWT refuses to make some bad ones): HS256 over ``secret``, or unsigned."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


@dataclass
class Issuer:
    discovery: bool = True   # serve /.well-known/openid-configuration
    keys: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200        # of /jwks.json: set 500 to make key fetches fail
    _hits: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer._hits[self.path] += 1
                if self.path == "/.well-known/openid-configuration" and issuer.discovery:
                    self._json(200, {"issuer": issuer.url, "jwks_uri": issuer.url + "jwks.json"})
                elif self.path == "/jwks.json":
                    self._json(issuer.status, {"keys": list(issuer.keys)})
                else:
                    self._json(404, {"error": "not found"})

            def _json(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}/"

    def add_key(self, key: RSAKey | ECKey) -> None:
        self.keys.append(key.jwk())

    def hits(self, path: str) -> int:
        return self._hits[path]

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        # A fresh jti: no two tokens are the same string (the verifier remembers tokens it passed).
        claims: dict[str, Any] = {"iss": self.url, "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 3600,
                                  "jti": uuid.uuid4().hex}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, key: RSAKey | ECKey, *, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        return jwt.encode(self.claims(**claims), key.private, algorithm=key.algorithm,
                          headers={"kid": key.kid, **(headers or {})})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Issuer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
