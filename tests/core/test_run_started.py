"""RUN_STARTED as AG-UI 1.0 has it: ids echoed, the producer's protocolVersion, parentRunId when given."""

from __future__ import annotations

import pytest
from ag_ui.core import PROTOCOL_VERSION

from agui_proxy.core.encoder import EventEncoder
from agui_proxy.core.run import RunBuilder

from ..support.agui_check import assert_valid_run, parse_frames, validate_event


def frames(run: RunBuilder) -> list[dict[str, object]]:
    events, _ = parse_frames(EventEncoder(clock=lambda: 1_700_000_000.0).encode_many(run.take()))
    return events


def test_run_started_declares_the_protocol_version_and_echoes_the_ids() -> None:
    run = RunBuilder("thread-42", "run-7", parent_run_id="run-6")
    run.text("hi")
    run.finish()
    events = frames(run)
    assert_valid_run(events)
    assert PROTOCOL_VERSION == "1.0"
    assert events[0] == {"type": "RUN_STARTED", "threadId": "thread-42", "runId": "run-7", "parentRunId": "run-6",
                         "protocolVersion": PROTOCOL_VERSION, "timestamp": 1_700_000_000_000}
    assert (events[-1]["threadId"], events[-1]["runId"]) == ("thread-42", "run-7")


def test_parent_run_id_is_left_out_when_absent() -> None:
    run = RunBuilder("t", "r")
    started = frames(run)[0]
    assert "parentRunId" not in started
    validate_event(started)


def test_the_checker_refuses_a_run_without_the_declaration_or_with_other_ids() -> None:
    run = RunBuilder("t", "r")
    run.finish()
    events = frames(run)
    undeclared = [{k: v for k, v in events[0].items() if k != "protocolVersion"}, events[1]]
    with pytest.raises(AssertionError, match="protocolVersion"):
        assert_valid_run(undeclared)
    other_ids = [events[0], {**events[1], "runId": "another"}]
    with pytest.raises(AssertionError, match="ids differ"):
        assert_valid_run(other_ids)
