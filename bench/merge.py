"""``--merge``: rerun part of a run and keep the rest of the results already in ``--out``.

For a phase that was crashed or measured wrongly, rerun only that phase (``--skip`` the others)
and only the contenders concerned (``--contenders``): the phase's rows of those contenders are
replaced, every other row and every skipped phase is kept as it was, and ``reruns`` in
``results.json`` (printed in ``RESULTS.md``) says what was measured again, when and how.

The latency phases (first token, added latency) cannot be merged: their added times are taken
against the upstream measured in the same repeat, between the same rounds, so they are rerun
whole or not at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROW_PHASES = ("warmup", "hold", "scale", "cpu")
# Contenders renamed since a results.json was written: its rows are read under the new name.
RENAMED = {"passthrough": "starlette-passthrough"}
WHOLE_PHASES = ("core", "sse")


def merge(new: dict[str, Any], path: Path, ran: set[str]) -> dict[str, Any]:
    """The results at ``path`` with the phases in ``ran`` of ``new``'s contenders replaced by ``new``'s."""
    if not path.exists():
        raise SystemExit(f"--merge: there is no {path} to merge into")
    old: dict[str, Any] = _renamed(json.loads(path.read_text(encoding="utf-8")))
    if old.get("quick") != new.get("quick"):
        raise SystemExit("--merge: a --quick run and a full run cannot be merged")
    if ran & {"ttft", "latency"}:
        raise SystemExit("--merge: the latency phases are rerun whole, without --merge (add --skip ttft,latency)")
    contenders = set(new.get("contenders", {}))
    merged = dict(old)
    merged["contenders"] = {**old.get("contenders", {}), **new.get("contenders", {})}
    merged["skipped"] = {k: v for k, v in {**old.get("skipped", {}), **new.get("skipped", {})}.items()
                         if k not in merged["contenders"]}
    order = {name: i for i, name in enumerate(["upstream", *old.get("contenders", {})])}
    for phase in ROW_PHASES:
        if phase in ran and phase in new:
            kept = [r for r in old.get(phase, []) if r["contender"] not in contenders]
            rows = kept + [r for r in new[phase] if r["contender"] in contenders]
            merged[phase] = sorted(rows, key=lambda r: order.get(r["contender"], len(order)))  # stable
    for phase in WHOLE_PHASES:
        if phase in ran and phase in new:
            merged[phase] = new[phase]
    merged["crashed"] = sorted(set(old.get("crashed", [])) - contenders | set(new.get("crashed", [])))
    merged["reruns"] = [*old.get("reruns", []), {
        "command": new["command"], "date": new.get("machine", {}).get("date"),
        "phases": sorted(ran & {*ROW_PHASES, *WHOLE_PHASES}), "contenders": sorted(contenders),
        "duration_s": new["duration_s"], "loadavg_start": new["loadavg_start"]}]
    return merged


def _renamed(results: dict[str, Any]) -> dict[str, Any]:
    for phase in (*ROW_PHASES, "ttft", "latency"):
        for row in results.get(phase, []):
            row["contender"] = RENAMED.get(row["contender"], row["contender"])
    results["contenders"] = {RENAMED.get(k, k): v for k, v in results.get("contenders", {}).items()}
    return results
