"""The parts of the reliability shell on their own: backoff, Retry-After, routing, the stream gate,
the new config options, and the log filter.  Through the real proxy: tests/integration/test_faults.py."""

from __future__ import annotations

import logging
import random
import time
from email.utils import formatdate
from typing import Any

import anyio
import httpx
import pytest

from agui_proxy.app.shutdown import Shutdown
from agui_proxy.config import RetriesConfig, TimeoutsConfig, config_from_dict
from agui_proxy.core.conversation import Conversation, Message, TextPart
from agui_proxy.core.redact import Redactor
from agui_proxy.errors import (
    ConfigError,
    InboundError,
    UpstreamConnectTimeout,
    UpstreamReportedError,
    UpstreamTimeout,
    UpstreamTruncated,
    UpstreamUnavailable,
    http_error,
)
from agui_proxy.runs.admission import AdmissionGate
from agui_proxy.serving.log_redaction import RedactingFilter
from agui_proxy.upstream.call import retry_after_seconds
from agui_proxy.upstream.chain import RoutePlan, forwarded
from agui_proxy.upstream.retries import backoff_delay

KEY = "sk-test-routing-0123456789abcdef"


def config(**route: Any) -> dict[str, Any]:
    return {
        "upstreams": {
            "main": {"provider": "openai-chat", "base_url": "http://127.0.0.1:9/v1", "api_key": KEY, "model": "m1",
                     "headers": {"OpenAI-Organization": "org-1"}},
            "spare": {"provider": "openai-chat", "base_url": "http://127.0.0.1:9/spare", "model": "s1",
                      "forward_headers": ["X-Spare-Only"]},
        },
        "routes": [{"path": "/a", "upstream": "main", **route}],
    }


# -- backoff ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [http_error(503, "x"), http_error(429, "x"),
                                   http_error(529, "x"), UpstreamUnavailable("x"),
                                   UpstreamConnectTimeout("connect"),
                                   UpstreamTruncated("cut")])
def test_backoff_grows_with_jitter_and_is_capped(error: Exception) -> None:
    policy = RetriesConfig(max=6, backoff=0.5, max_backoff=3.0)
    rng = random.Random(7)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (5, 3.0), (6, 3.0)]:
        delays = [backoff_delay(policy, retry, error, rng) for _ in range(50)]  # type: ignore[arg-type]
        assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays), (retry, delays)
        assert len(set(delays)) > 1, "no jitter"
    assert backoff_delay(policy, 7, error, rng) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("error", [http_error(400, "x"), http_error(401, "x"),
                                   http_error(404, "x"), http_error(501, "x"),
                                   UpstreamTimeout("first byte"),
                                   UpstreamReportedError("in-band")])
def test_no_retry_for_answers_that_would_not_change(error: Exception) -> None:
    assert backoff_delay(RetriesConfig(max=5), 1, error, random.Random(1)) is None  # type: ignore[arg-type]


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    policy = RetriesConfig(max=3, backoff=0.1, max_backoff=0.2, max_retry_after=10)
    rng = random.Random(3)
    assert backoff_delay(policy, 1, http_error(429, "x", retry_after=4.0), rng) == 4.0
    assert backoff_delay(policy, 1, http_error(429, "x", retry_after=10.0), rng) == 10.0
    assert backoff_delay(policy, 1, http_error(429, "x", retry_after=10.5), rng) is None
    small = backoff_delay(policy, 1, http_error(503, "x", retry_after=0.0), rng)
    assert small is not None and 0.05 <= small <= 0.1  # never less than the backoff either


def test_huge_retry_count_does_not_overflow() -> None:
    policy = RetriesConfig(max=10_000, backoff=1, max_backoff=5)
    assert backoff_delay(policy, 5000, UpstreamUnavailable("x"), random.Random(1)) is not None


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after": "7"}, 7.0),
    ({"retry-after": " 0 "}, 0.0),
    ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
    ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
    ({"retry-after": "-3"}, None),
    ({"retry-after": "tomorrow"}, None),
    ({}, None),
])
def test_retry_after_header(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(httpx.Headers(headers)) == expected


def test_retry_after_http_date() -> None:
    now = time.time()
    headers = httpx.Headers({"retry-after": formatdate(now + 30, usegmt=True)})
    seconds = retry_after_seconds(headers, now=now)
    assert seconds is not None and 29 <= seconds <= 31
    past = httpx.Headers({"retry-after": formatdate(now - 30, usegmt=True)})
    assert retry_after_seconds(past, now=now) == 0.0


# -- routing ---------------------------------------------------------------------------------------------


def conversation() -> Conversation:
    return Conversation(messages=[Message("user", [TextPart("hi")])])


def test_the_chain_is_primary_then_fallbacks_each_with_its_own_provider() -> None:
    cfg = config_from_dict(config(fallbacks=["spare"]), env={})
    primary, spare = RoutePlan(cfg, cfg.routes[0]).targets(None)
    assert (primary.name, spare.name) == ("main", "spare")
    assert primary.build_request(conversation(), []).url == "http://127.0.0.1:9/v1/chat/completions"
    sent = spare.build_request(conversation(), [])
    assert sent.url == "http://127.0.0.1:9/spare/chat/completions"
    assert b'"model": "s1"' in sent.body and "authorization" not in sent.headers


def test_allow_models() -> None:
    cfg = config_from_dict(config(allow_models=["m2", "m3"], fallbacks=["spare"]), env={})
    plan = RoutePlan(cfg, cfg.routes[0])
    assert b'"model": "m2"' in plan.targets("m2")[0].build_request(conversation(), []).body
    assert b'"model": "m1"' in plan.targets(None)[0].build_request(conversation(), []).body
    assert b'"model": "m1"' in plan.targets("m1")[0].build_request(conversation(), []).body
    assert b'"model": "s1"' in plan.targets("m2")[1].build_request(conversation(), []).body  # fallback keeps its own
    with pytest.raises(InboundError) as refused:
        plan.targets("gpt-5")
    assert refused.value.status == 422 and "'gpt-5'" in refused.value.message and "m2, m3" in refused.value.message


def test_no_model_choice_without_allow_models() -> None:
    cfg = config_from_dict(config(), env={})
    plan = RoutePlan(cfg, cfg.routes[0])
    assert plan.targets("m1")[0].name == "main"  # naming the configured model chooses nothing
    with pytest.raises(InboundError) as refused:
        plan.targets("m2")
    assert refused.value.status == 422 and "params.model" in refused.value.message


def test_forwarded_headers_only_the_listed_ones_and_never_over_the_upstreams_own() -> None:
    cfg = config_from_dict(config(forward_headers=["X-Request-Id", "OpenAI-Organization", "accept"],
                                  fallbacks=["spare"]), env={})
    primary, spare = RoutePlan(cfg, cfg.routes[0]).targets(None)
    client = [(b"x-request-id", b"r-1"), (b"X-Request-Id", b"r-2"), (b"x-other", b"no"), (b"authorization", b"t"),
              (b"openai-organization", b"org-evil"), (b"accept", b"text/html"), (b"x-spare-only", b"s")]
    headers = primary.build_request(conversation(), client).headers
    assert headers["x-request-id"] == "r-1, r-2"
    assert headers["OpenAI-Organization"] == "org-1" and "openai-organization" not in headers
    assert headers["accept"] == "text/event-stream"
    assert headers["authorization"] == f"Bearer {KEY}"
    assert "x-other" not in headers and "x-spare-only" not in headers
    spare_headers = spare.build_request(conversation(), client).headers
    assert spare_headers["x-spare-only"] == "s" and spare_headers["x-request-id"] == "r-1, r-2"
    assert "authorization" not in spare_headers


def test_forwarded_is_case_insensitive() -> None:
    assert forwarded([(b"X-A", b"1"), (b"x-b", b"2")], frozenset({"x-a"})) == {"x-a": "1"}


# -- config ---------------------------------------------------------------------------------------------


def test_reliability_defaults() -> None:
    cfg = config_from_dict(config(), env={})
    assert cfg.upstreams["main"].timeouts == TimeoutsConfig(connect=10, first_byte=60, idle=300, total=1800)
    assert cfg.upstreams["main"].retries == RetriesConfig(max=2, backoff=0.5, max_backoff=8, max_retry_after=30)
    assert (cfg.streams.max_concurrent, cfg.streams.retry_after, cfg.streams.keepalive,
            cfg.streams.shutdown_grace) == (1000, 1, 15, 25)


def test_retries_shorthand() -> None:
    raw = config()
    raw["upstreams"]["main"]["retries"] = 4
    assert config_from_dict(raw, env={}).upstreams["main"].retries.max == 4


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"routes": [{"path": "/a", "upstream": "main", "fallbacks": ["nope"]}]}, None, ["fallbacks[0]", "'nope'"]),
    ({"routes": [{"path": "/a", "upstream": "main", "fallbacks": ["main"]}]}, None, ["already in the route's chain"]),
    ({"routes": [{"path": "/a", "upstream": "main", "forward_headers": ["Authorization"]}]},
     "routes[0].forward_headers", ["authorization header is never forwarded"]),
    ({"routes": [{"path": "/a", "upstream": "main", "forward_headers": ["cookie"]}]},
     "routes[0].forward_headers", ["cookie"]),
    ({"routes": [{"path": "/a", "upstream": "main", "forward_headers": ["bad header"]}]},
     "routes[0].forward_headers", ["not a header name"]),
    ({"streams": {"max_concurrent": 0}}, "streams.max_concurrent", ["greater than or equal to 1"]),
    ({"streams": {"keepalive": -1}}, "streams.keepalive", ["greater than or equal to 0"]),
    ({"streams": {"grace": 3}}, "streams.grace", ["unknown option"]),
])
def test_reliability_config_errors(change: dict[str, Any], field: str | None, words: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        config_from_dict({**config(), **change}, source="agui.yaml", env={})
    if field:
        assert error.value.field == field, str(error.value)
    for word in words:
        assert word in str(error.value)


@pytest.mark.parametrize(("block", "field"), [({"timeouts": {"idle": 0}}, "idle"),
                                              ({"timeouts": {"total": -1}}, "total"),
                                              ({"retries": {"max": -1}}, "max")])
def test_upstream_reliability_errors(block: dict[str, Any], field: str) -> None:
    raw = config()
    raw["upstreams"]["main"].update(block)
    with pytest.raises(ConfigError) as error:
        config_from_dict(raw, source="agui.yaml", env={})
    assert error.value.field is not None and error.value.field.endswith(field)


# -- the stream gate -----------------------------------------------------------------------------------


def test_gate_caps_and_releases() -> None:
    async def main() -> None:
        gate = AdmissionGate(2, retry_after=3, shutdown=Shutdown(grace=1))
        a, b = gate.admit(), gate.admit()
        with pytest.raises(InboundError) as full:
            gate.admit()
        assert (full.value.status, full.value.type, full.value.retry_after) == (503, "overloaded", 3)
        assert "maximum of 2 streams" in full.value.message
        gate.release(a)
        gate.release(a)  # twice is harmless
        c = gate.admit()
        assert gate.active == 2
        gate.release(b)
        gate.release(c)
        assert gate.active == 0

    anyio.run(main)


def test_drain_lets_streams_finish_then_stops_the_rest() -> None:
    async def main() -> None:
        shutdown = Shutdown(grace=0.3)
        gate = AdmissionGate(10, retry_after=1, shutdown=shutdown)
        quick, slow = gate.admit(), gate.admit()
        outcome: dict[str, str] = {}

        async def stream(active: Any, seconds: float, name: str) -> None:
            with anyio.CancelScope() as scope:
                active.attach(scope)
                await anyio.sleep(seconds)
                outcome[name] = "finished"
            outcome.setdefault(name, f"stopped: {active.stop_reason}")
            gate.release(active)

        async with anyio.create_task_group() as tg:
            tg.start_soon(stream, quick, 0.05, "quick")
            tg.start_soon(stream, slow, 30, "slow")
            await anyio.sleep(0)
            stopped = await shutdown.drain(gate)
        assert stopped == 1
        assert outcome == {"quick": "finished", "slow": "stopped: shutdown"}
        with pytest.raises(InboundError) as refused:
            gate.admit()
        assert (refused.value.status, refused.value.type) == (503, "shutting_down")

    anyio.run(main)


# -- logs -------------------------------------------------------------------------------------------------


def test_log_filter_redacts_message_arguments_and_tracebacks() -> None:
    redacting = RedactingFilter(Redactor([KEY]))
    access = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "POST", f"/a?k={KEY}", "1.1", 200), None)
    assert redacting.filter(access)
    assert KEY not in access.getMessage() and access.getMessage().endswith('/a?k=[redacted] HTTP/1.1" 200')
    try:
        raise ValueError(f"bad key {KEY}")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed with %s", (KEY[:12],), sys.exc_info())
    redacting.filter(record)
    text = logging.Formatter().format(record)
    assert KEY not in text and KEY[:12] not in text and "ValueError: bad key [redacted]" in text


def test_one_draining_state_and_one_drain_however_often_asked() -> None:
    async def main() -> None:
        shutdown = Shutdown(grace=0.05)
        gate = AdmissionGate(10, retry_after=1, shutdown=shutdown)
        slot = gate.admit()

        async def run() -> None:
            with anyio.CancelScope() as scope:
                slot.attach(scope)
                await anyio.sleep_forever()
            gate.release(slot)

        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            assert not shutdown.draining
            first, second = shutdown.drain(gate), shutdown.drain(gate, 30)
            assert first is second and shutdown.draining
            with pytest.raises(InboundError):
                gate.admit()
            assert await first == 1 and slot.stop_reason == "shutdown"

    anyio.run(main)
