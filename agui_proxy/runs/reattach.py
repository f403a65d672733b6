"""``GET <route path>/runs/<runId>``: a client comes back for the rest of a resumable run.

By the identity that started it (the auth piece in front of this one found it): the run's key
includes it (``store.run_key``), so another identity's request finds no run at all, and the
404 is the same as for a run that never existed or has expired.  The cursor is the SSE
``Last-Event-ID`` header (what a browser's EventSource sends back by itself) or ``?after=<seq>``;
with neither the run is read from its start.  A cursor that is not a number, or that is past the
run's last frame (no client can have seen it), is a 400 naming the problem.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from ..errors import InboundError, StoreUnavailable
from ..middleware.context import request_context
from ..middleware.json_answers import send_error
from ..store import run_key
from .admission import AdmissionGate
from .keepalive import KeepAlive
from .reader import follow_run
from .resumable import ResumableRuns

RUNS_SEGMENT = "/runs/"
# What a resumable run's id may be: it is a path segment of the reattach URL.
_RUN_ID = re.compile(r"[A-Za-z0-9._:~-]{1,128}")
_CURSOR = re.compile(r"[0-9]{1,18}")


def check_run_id(run_id: str) -> None:
    if not _RUN_ID.fullmatch(run_id):
        raise InboundError(422, "invalid_request", "runId: on a resumable route it must be 1 to 128 letters, "
                           "digits or ._:~- (it is part of the reattach URL)")


def cursor_of(scope: Scope) -> int:
    """The seq after which the client wants the run: ``Last-Event-ID``, else ``?after=``, else 0."""
    value: str | None = None
    name = "Last-Event-ID"
    for header, raw in scope["headers"]:
        if header == b"last-event-id":
            value = raw.decode("latin-1").strip()
            break
    if value is None:
        after = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("after")
        if after:
            value, name = after[0].strip(), "after"
    if value is None or value == "":
        return 0
    if not _CURSOR.fullmatch(value):
        raise InboundError(400, "malformed_cursor", f"{name}: {value[:40]!r} is not an event id "
                           "(the number of the last event received, from its id: line)")
    return int(value)


class RunReattach:
    """The reader of one route's runs, at ``<route path>/runs/<runId>``."""

    def __init__(self, route_path: str, runs: ResumableRuns, gate: AdmissionGate, keepalive: KeepAlive) -> None:
        self.prefix = route_path.rstrip("/") + RUNS_SEGMENT
        self.runs = runs
        self.gate = gate
        self.keepalive = keepalive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = request_context(scope)
        path: str = scope["path"]
        run_id = path[path.find(self.prefix) + len(self.prefix):]
        slot = None
        try:
            try:
                after = cursor_of(scope)
                key = run_key(context.identity.id if context.identity else None, run_id)
                last = await self.runs.log.last_seq(key) if _RUN_ID.fullmatch(run_id) else None
                if last is None:
                    raise InboundError(404, "not_found", f"no run {run_id[:128]!r} to reattach to here "
                                       "(it may have expired)")
                if after > last:
                    raise InboundError(400, "cursor_past_end", f"event id {after} is past the run's last "
                                       f"event ({last}); reattach with the id of the last event received")
                slot = self.gate.admit()
            except StoreUnavailable:
                raise InboundError(503, "store_unavailable", "the run log cannot be read now; try again",
                                   retry_after=1) from None
        except InboundError as exc:
            context.error = exc.type
            await send_error(send, exc)
            return
        try:
            # The slot: a drain ends this reader too; its client reattaches elsewhere.
            await follow_run(self.runs.log, key, run_id, after, receive=receive, send=send,
                             keepalive=self.keepalive, label=f"request {context.request_id} reattach {run_id}: ",
                             slot=slot)
        finally:
            self.gate.release(slot)
