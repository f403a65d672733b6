"""A loopback Google token endpoint and the service account file that points at it.

:func:`service_account_file` writes a service-account key file as Google issues them, with a
fresh RSA key (made with cryptography) and ``token_uri`` on loopback; :class:`TokenEndpoint`
answers the JWT-bearer grant google-auth sends there, after checking the assertion is signed by
that key, for Google's audience and the ``cloud-platform`` scope, with access tokens it numbers.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .upstream import Request, ScriptedUpstream, Step, body_response

CLIENT_EMAIL = "agui-proxy-test@my-project.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# A service account's grant assertion names Google's token endpoint as its audience, wherever it is sent.
AUDIENCE = "https://oauth2.googleapis.com/token"


def service_account_file(directory: Path, token_uri: str) -> tuple[Path, str]:
    """The key file and its private key's PEM text (a secret the tests look for in outputs)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {"type": "service_account", "project_id": "my-project", "private_key_id": "0123456789abcdef",
            "private_key": pem, "client_email": CLIENT_EMAIL, "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri}
    path = directory / "service-account.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    return path, pem


class TokenEndpoint:
    """Answers each token request with ``token-<n>`` (n from 1), valid ``expires_in`` seconds."""

    def __init__(self, server: ScriptedUpstream, public_pem: bytes) -> None:
        self.server = server
        self.public_pem = public_pem
        self.expires_in = 3600
        self.issued: list[str] = []
        self._lock = threading.Lock()
        server.respond_with(self._answer)

    @property
    def token_uri(self) -> str:
        return self.server.url + "/token"

    def _answer(self, request: Request) -> list[Step]:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if request.path != "/token" or form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return body_response(400, {"error": "unsupported_grant_type"})
        try:
            claims: dict[str, Any] = jwt.decode(form["assertion"], self.public_pem, algorithms=["RS256"],
                                                audience=AUDIENCE, issuer=CLIENT_EMAIL)
        except jwt.InvalidTokenError as exc:
            return body_response(400, {"error": "invalid_grant", "error_description": str(exc)})
        if claims.get("scope") != SCOPE:
            return body_response(400, {"error": "invalid_scope"})
        with self._lock:
            token = f"ya29.token-{len(self.issued) + 1}"
            self.issued.append(token)
        return body_response(200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})


def public_pem_of(private_pem: str) -> bytes:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
