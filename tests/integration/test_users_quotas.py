"""Users and quotas through the real proxy (its CLI), in front of a scripted Chat Completions upstream:
JWTs from a loopback issuer, and quotas shared by two proxy processes through one real redis-server.

Every answer here is either a whole stream or a JSON refusal; a request never hangs (each has a
client timeout of a few seconds, far above the store's 0.25 s).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..support.issuer import AUDIENCE, Issuer, RSAKey
from ..support.openai_chat_streams import MODEL, text_transcript
from ..support.proxy import ProxyProcess, RawStream, Reply, eventually, post, sse_events, start_proxy
from ..support.redis_server import RedisServer
from ..support.upstream import SSE_HEADERS, Chunk, ScriptedUpstream, Status, WaitFor, sse_event, sse_response

pytestmark = pytest.mark.integration

KEY = "sk-test-SECRET-quotas-0123456789"
SERVER_TOKEN = "server-token-0123456789abcdef"
BODY = {"params": {"messages": [{"role": "user", "content": "hi"}]}}
TOKENS_PER_RUN = 40  # text_transcript's usage: 31 input + 9 output
SIGNING = RSAKey("int-1")


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with Issuer() as server:
        server.add_key(SIGNING)
        yield server


@pytest.fixture
def answering(up: ScriptedUpstream) -> ScriptedUpstream:
    """The upstream answers every request with the same short text run (usage included)."""
    up.respond_with(lambda request: sse_response(text_transcript()))
    return up


def proxy_config(upstream: ScriptedUpstream, issuer: Issuer, **sections: Any) -> dict[str, Any]:
    return {
        "auth": {"bearer_tokens": [{"token": "${SERVER_TOKEN}", "name": "backend"}],
                 "jwt": {"issuer": issuer.url, "audience": AUDIENCE}},
        "upstreams": {"openai": {"provider": "openai-chat", "base_url": f"{upstream.url}/v1", "api_key": "${KEY}",
                                 "model": MODEL, "retries": 0}},
        "routes": [{"path": "/api/agent", "upstream": "openai"}],
        **sections,
    }


ENV = {"KEY": KEY, "SERVER_TOKEN": SERVER_TOKEN}


def ask(proxy: ProxyProcess, token: str, timeout: float = 10.0) -> Reply:
    return post(f"{proxy.url}/api/agent", BODY, headers={"authorization": f"Bearer {token}"}, timeout=timeout)


def user_token(issuer: Issuer, user: str, **claims: Any) -> str:
    return issuer.sign(SIGNING, sub=user, **claims)


# -- users ---------------------------------------------------------------------------------------


def test_jwt_users_and_server_tokens(answering: ScriptedUpstream, issuer: Issuer, tmp_path: Path) -> None:
    config = proxy_config(answering, issuer, logging={"identity_claims": ["org"]})
    with start_proxy(tmp_path, config, env=ENV) as proxy:
        good = user_token(issuer, "alice", org="acme")
        sse_events(ask(proxy, good), KEY, good)
        sse_events(ask(proxy, SERVER_TOKEN), KEY, SERVER_TOKEN)
        expired = issuer.sign(SIGNING, sub="alice", exp=int(time.time()) - 3600)
        refused = ask(proxy, expired)
        assert refused.status == 401
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert refused.json() == {"error": {"type": "unauthorized", "message": "the token has expired (exp is past)"}}
        missing = post(f"{proxy.url}/api/agent", BODY)
        assert missing.status == 401 and missing.json()["error"]["type"] == "unauthorized"
        assert missing.headers["www-authenticate"] == "Bearer"
        lines = eventually(lambda: [line for line in proxy.stdout.splitlines() if "agui_proxy.access" in line],
                           lambda found: len(found) >= 4, "four access lines")
        assert "user=jwt:alice" in lines[0] and "claim.org=acme" in lines[0]
        assert "user=token:backend" in lines[1]
        assert "error_code=unauthorized" in lines[2] and "user=" not in lines[2]
        output = proxy.output()
        for secret in (good, expired, SERVER_TOKEN, KEY):
            assert secret not in output
            assert secret.split(".")[-1] not in output
    assert len(answering.requests) == 2  # the refused requests never reached the upstream


def test_a_jwt_subject_is_never_a_configured_tokens_identity(answering: ScriptedUpstream, issuer: Issuer,
                                                            tmp_path: Path) -> None:
    """A user whose JWT ``sub`` is the name of a configured token (``backend``) has quotas of their
    own: identities are namespaced by their source (``jwt:backend``, ``token:backend``)."""
    config = proxy_config(answering, issuer, quotas={"per_identity": {"requests_per_minute": 1}})
    with start_proxy(tmp_path, config, env=ENV) as proxy:
        sse_events(ask(proxy, SERVER_TOKEN), KEY, SERVER_TOKEN)
        assert ask(proxy, SERVER_TOKEN).status == 429, "the token's own budget is spent"
        namesake = user_token(issuer, "backend")
        sse_events(ask(proxy, namesake), KEY, namesake)  # not the token's budget
        lines = eventually(lambda: [line for line in proxy.stdout.splitlines() if "agui_proxy.access" in line],
                           lambda found: len(found) >= 3, "three access lines")
    assert "user=token:backend" in lines[0] and "user=jwt:backend" in lines[2], lines


def test_hashed_identity_and_forwarded_user(answering: ScriptedUpstream, issuer: Issuer, tmp_path: Path) -> None:
    config = proxy_config(answering, issuer, logging={"identity": "hash", "identity_hash_key": "${HASH_KEY}"})
    config["upstreams"]["openai"]["forward_identity"] = {"header": "x-user-id", "provider_field": True}
    with start_proxy(tmp_path, config, env={**ENV, "HASH_KEY": "k" * 32}) as proxy:
        sse_events(ask(proxy, user_token(issuer, "alice@example.com")))
        line = eventually(lambda: proxy.stdout, lambda text: "agui_proxy.access" in text, "an access line")
        assert "alice" not in line
        hashed = line.split("user=")[1].split()[0]
        assert len(hashed) == 16
    sent = answering.requests[0]
    assert sent.headers["x-user-id"] == hashed
    assert sent.json()["user"] == hashed


# -- quotas across two processes ------------------------------------------------------------------


@contextlib.contextmanager
def two_proxies(tmp_path: Path, config: dict[str, Any]) -> Iterator[tuple[ProxyProcess, ProxyProcess]]:
    """Two proxy processes with one config (one Redis), each stopped when the block ends."""
    with contextlib.ExitStack() as stack:
        running = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            running.append(stack.enter_context(start_proxy(tmp_path / name, config, env=ENV)))
        yield running[0], running[1]


def quota_config(upstream: ScriptedUpstream, issuer: Issuer, redis: RedisServer, **quotas: Any) -> dict[str, Any]:
    # A fresh prefix per test: the module's Redis is shared, the counters are not.
    return proxy_config(upstream, issuer, store={"url": redis.url, "prefix": f"t-{uuid.uuid4().hex}:"},
                        quotas=quotas)


def test_requests_per_minute_across_two_processes(answering: ScriptedUpstream, issuer: Issuer,
                                                  redis_server: RedisServer, tmp_path: Path) -> None:
    config = quota_config(answering, issuer, redis_server, per_identity={"requests_per_minute": 4})
    with two_proxies(tmp_path, config) as (first, second):
        alice = user_token(issuer, "alice")
        for i in range(4):
            reply = ask((first, second)[i % 2], alice)
            sse_events(reply)
            # Each answer says what is left, counted across both processes.
            assert reply.headers["ratelimit"] == f'"requests_per_minute";r={3 - i}'
        for proxy in (first, second):  # request 5 is refused whichever process it reaches
            refused = ask(proxy, alice)
            assert refused.status == 429
            assert refused.json()["error"]["type"] == "rate_limited"
            assert "over the quota of 4 requests per minute: it resets in" in refused.json()["error"]["message"]
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.headers["ratelimit-policy"] == '"requests_per_minute";q=4;w=60'
            assert refused.headers["ratelimit"].startswith('"requests_per_minute";r=0;t=')
        sse_events(ask(second, user_token(issuer, "bob")))  # another user has a budget of their own
        assert len(answering.requests) == 5  # nothing refused was sent upstream
        metrics = post(f"{first.url}/metrics", b"", method="GET").body.decode()
        assert 'agui_proxy_quota_refusals_total{reason="requests_per_minute"} 1.0' in metrics
        assert "alice" not in metrics


def test_token_budget_from_finished_runs(answering: ScriptedUpstream, issuer: Issuer,
                                         redis_server: RedisServer, tmp_path: Path) -> None:
    # Two runs of 40 tokens pass 70: the third request is refused, in either process.
    config = quota_config(answering, issuer, redis_server, per_identity={"tokens_per_day": 70},
                          plans={"claim": "plan", "limits": {"pro": {"tokens_per_day": 1000}}})
    with two_proxies(tmp_path, config) as (first, second):
        alice, pro = user_token(issuer, "alice"), user_token(issuer, "carol", plan="pro")
        sse_events(ask(first, alice))
        sse_events(ask(second, alice))  # 40 used of 70: still room
        refused = ask(first, alice)
        assert refused.status == 429
        assert "over the quota of 70 tokens per day" in refused.json()["error"]["message"]
        assert refused.headers["ratelimit"].startswith('"tokens_per_day";r=0;t=')
        for _ in range(3):  # the pro plan's budget is its own, and larger
            sse_events(ask(second, pro))


def test_a_stream_slot_is_held_while_its_run_goes_on_and_freed_soon_after_its_process_dies(
        answering: ScriptedUpstream, issuer: Issuer, redis_server: RedisServer, tmp_path: Path) -> None:
    """concurrent_streams: 1 and the shortest lease (5 s): a stream held past the lease keeps its slot
    (renewed while it goes on), and once its process is killed the slot is free within about a lease."""
    lease = 5.0
    config = quota_config(answering, issuer, redis_server, per_identity={"concurrent_streams": 1},
                          stream_lease=lease)
    events = [sse_event(c) for c in text_transcript()]
    answering.script(Status(200, SSE_HEADERS), Chunk(b"".join(events[:3])), WaitFor(threading.Event(), timeout=30))
    alice = user_token(issuer, "alice")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with start_proxy(tmp_path / "a", config, env=ENV) as holder, \
            RawStream(holder.url, "/api/agent", BODY, headers={"authorization": f"Bearer {alice}"}) as held:
        held.read_until(b"TEXT_MESSAGE_CONTENT")
        held_until = time.monotonic() + lease + 1.5
        refusals = 0
        while time.monotonic() < held_until:  # past the lease's first expiry, the slot is still taken
            refused = ask(holder, alice)
            assert refused.status == 429 and "streams at once" in refused.body.decode(), refused.body
            refusals += 1
            time.sleep(0.5)  # pacing the checks, not waiting for anything
        holder.process.kill()  # SIGKILL: nothing is released, the lease stops being renewed
        holder.process.wait(5)
        # Another process on the same Redis (started now: its start overlaps the lease running out).
        with start_proxy(tmp_path / "b", config, env=ENV) as other:
            freed = eventually(lambda: ask(other, alice), lambda reply: reply.status == 200,
                               "the dead process's stream slot freed", timeout=lease + 5)
        sse_events(freed)
    assert refusals >= 5


@pytest.mark.parametrize("policy", ["deny", "allow"])
def test_redis_stopped_mid_test(answering: ScriptedUpstream, issuer: Issuer, tmp_path: Path, policy: str) -> None:
    with RedisServer(tmp_path) as redis:
        config = quota_config(answering, issuer, redis, per_identity={"requests_per_minute": 100},
                              on_store_error=policy)
        with start_proxy(tmp_path, config, env=ENV) as proxy:
            alice = user_token(issuer, "alice")
            sse_events(ask(proxy, alice))
            redis.pause()  # accepts connections, answers nothing: the store times out
            started = time.monotonic()
            reply = ask(proxy, alice, timeout=5.0)
            assert time.monotonic() - started < 5.0
            redis.stop()  # gone: connections are refused
            gone = ask(proxy, alice, timeout=5.0)
            for answer in (reply, gone):
                if policy == "deny":
                    assert answer.status == 503
                    assert answer.json()["error"]["type"] == "quota_store_unavailable"
                    assert answer.headers["retry-after"] == "1"
                else:
                    sse_events(answer)
            metrics = post(f"{proxy.url}/metrics", b"", method="GET").body.decode()
            assert 'agui_proxy_store_errors_total{operation="admit"} 2.0' in metrics
            errors = [line for line in proxy.stderr.splitlines() if "quota store error" in line]
            assert len(errors) == 1, errors  # once per interval, not once per request


def test_workers_without_a_store_are_warned_about(answering: ScriptedUpstream, issuer: Issuer, tmp_path: Path) -> None:
    config = proxy_config(answering, issuer, quotas={"per_identity": {"requests_per_minute": 10}})
    with start_proxy(tmp_path, config, env=ENV, extra_args=["--workers", "2"]) as proxy:
        assert "quotas with --workers 2 and no store.url: each worker keeps its own counters" in proxy.stderr
