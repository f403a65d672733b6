"""The issuer's signing keys (a JWK Set, RFC 7517 section 5), fetched over the shared httpx client and cached.

The set's URL is ``auth.jwt.jwks_url``, or the ``jwks_uri`` of the issuer's OpenID Connect
discovery document (``<issuer>/.well-known/openid-configuration``, OpenID Connect Discovery 1.0
section 4), whose ``issuer`` must be the configured one (section 4.3).

When to fetch: at the first token; again when a token names a ``kid`` the set does not hold (a
key rotation), but at most once every ``refetch_interval`` seconds, so tokens with made-up key ids
cannot make the proxy hammer the issuer; and when the cached set is older than ``keys_max_age``
(a removed key stops being accepted).  A fetch that fails while keys are cached keeps them.
Concurrent requests wait for one fetch rather than starting their own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from jwt import PyJWK
from jwt.exceptions import PyJWKError

from ..config import JWTConfig

log = logging.getLogger("agui_proxy.auth")

# The key type (and curve) each algorithm needs (RFC 7518 sections 3.3-3.5, RFC 8037 section 3.1).
KEY_TYPES: dict[str, tuple[str, str | None]] = {
    **{alg: ("RSA", None) for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", None),
}
MAX_KEY_SET_BYTES = 512 * 1024


class KeysUnavailable(Exception):
    """No keys could be fetched and none are cached (the message says why, for the log)."""


class KeyMismatch(Exception):
    """The key the token names cannot verify the token's algorithm (the message says why)."""


class KeySet:
    def __init__(self, config: JWTConfig, http: Callable[[], httpx.AsyncClient], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._http = http
        self._clock = clock
        self._keys: dict[str | None, dict[str, Any]] = {}  # kid -> JWK (a key without kid under None)
        self._prepared: dict[tuple[str | None, str], PyJWK] = {}
        self._fetched_at: float | None = None   # the last successful fetch
        self._attempted_at: float | None = None  # the last fetch, successful or not
        self._jwks_uri = config.jwks_url
        self._lock = asyncio.Lock()
        self.fetches = 0  # key-set fetches made (for the tests and the log)

    async def key(self, kid: str | None, algorithm: str) -> PyJWK | None:
        """The key for a token's ``kid`` and ``alg``; ``None`` when the issuer has no such key.

        Raises :class:`KeysUnavailable` when no key set could be had, :class:`KeyMismatch` when
        the key is of another type than the algorithm needs.
        """
        if self._fetched_at is None or self._clock() - self._fetched_at > self.config.keys_max_age:
            await self._refresh()
        jwk = self._lookup(kid)
        if jwk is None:  # perhaps a key the issuer rotated in since the last fetch
            await self._refresh()
            jwk = self._lookup(kid)
        return None if jwk is None else self._prepare(kid, jwk, algorithm)

    def _lookup(self, kid: str | None) -> dict[str, Any] | None:
        if kid is not None:
            return self._keys.get(kid)
        # A token without kid: only unambiguous when the issuer has exactly one key.
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None

    def _prepare(self, kid: str | None, jwk: dict[str, Any], algorithm: str) -> PyJWK:
        cached = self._prepared.get((kid, algorithm))
        if cached is not None:
            return cached
        kty, crv = KEY_TYPES[algorithm]
        if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
            have = f"{jwk.get('kty')} {jwk.get('crv') or ''}".strip()
            raise KeyMismatch(f"the token's algorithm {algorithm} does not match its key (a {have} key)")
        if jwk.get("alg") not in (None, algorithm):
            raise KeyMismatch(f"the token's algorithm {algorithm} is not its key's ({jwk['alg']})")
        try:
            prepared = PyJWK(jwk, algorithm)
        except PyJWKError as exc:
            raise KeyMismatch(f"the issuer's key for the token cannot be used: {exc}") from None
        self._prepared[(kid, algorithm)] = prepared
        return prepared

    async def _refresh(self) -> None:
        async with self._lock:  # one fetch at a time; those waiting find it done
            now = self._clock()
            if self._attempted_at is not None and now - self._attempted_at < self.config.refetch_interval:
                if self._fetched_at is None:
                    raise KeysUnavailable("the last fetch of the issuer's keys failed; the next try is at most "
                                          f"every {self.config.refetch_interval:g} s")
                return  # fetched (or tried) moments ago: a new kid waits for the interval
            self._attempted_at = now
            try:
                keys = await self._fetch()
            except KeysUnavailable as exc:
                if self._fetched_at is None:
                    raise
                log.warning("auth.jwt: %s; using the %d key(s) fetched before", exc, len(self._keys))
                return
            self._keys, self._prepared, self._fetched_at = keys, {}, self._clock()

    async def _fetch(self) -> dict[str | None, dict[str, Any]]:
        self.fetches += 1
        if self._jwks_uri is None:
            assert self.config.issuer is not None
            discovery = await self._get_json(self.config.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if discovery.get("issuer") != self.config.issuer:
                raise KeysUnavailable(f"the discovery document names issuer {discovery.get('issuer')!r}, "
                                      f"not {self.config.issuer!r}")
            uri = discovery.get("jwks_uri")
            if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
                raise KeysUnavailable("the issuer's discovery document has no jwks_uri")
            self._jwks_uri = uri
        document = await self._get_json(self._jwks_uri)
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise KeysUnavailable(f"{self._jwks_uri} is not a JWK Set (no \"keys\" list)")
        keys: dict[str | None, dict[str, Any]] = {}
        for entry in entries:
            # Encryption keys (use: enc) never verify a signature.
            if isinstance(entry, dict) and entry.get("use", "sig") == "sig" and isinstance(entry.get("kty"), str):
                keys[entry.get("kid") if isinstance(entry.get("kid"), str) else None] = entry
        if not keys:
            raise KeysUnavailable(f"{self._jwks_uri} holds no signing key")
        log.info("auth.jwt: fetched %d signing key(s) from %s", len(keys), self._jwks_uri)
        return keys

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = await self._http().get(url, timeout=self.config.fetch_timeout,
                                               headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise KeysUnavailable(f"cannot fetch {url}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise KeysUnavailable(f"{url} answered {response.status_code}")
        if len(response.content) > MAX_KEY_SET_BYTES:
            raise KeysUnavailable(f"{url} sent more than {MAX_KEY_SET_BYTES} bytes")
        try:
            document = response.json()
        except ValueError:
            raise KeysUnavailable(f"{url} did not send JSON") from None
        if not isinstance(document, dict):
            raise KeysUnavailable(f"{url} did not send a JSON object")
        return document
