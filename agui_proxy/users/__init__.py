"""Who sends a request: users' JWTs verified with the issuer's keys (or a shared secret)."""

from .jwks import KeySet
from .jwt_verifier import JWTVerifier, VerifiedToken

__all__ = ["JWTVerifier", "KeySet", "VerifiedToken"]
