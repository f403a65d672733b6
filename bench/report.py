"""``RESULTS.md`` and the plots, from the results of one run.

Medians over the repeats of each round; ratios against the Starlette + httpx passthrough, the raw
uvloop relay (the Python floor) and the docs server, taken within this one run.  The targets of
issues 7, 18 and 27 are checked here, each printed as met or missed with its measured value and gap.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .contenders import LITELLM_VENV, PORTKEY_DIR
from .report_tables import core_section, hold_section, latency_section, latency_summary, scale_section, sse_section

STARLETTE = "starlette-passthrough"
RAW = "raw-relay"

PACKAGES = ("starlette", "httpx", "uvicorn", "uvloop", "httptools", "orjson", "fastapi", "openai", "httpx-sse")


def machine_info() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    litellm = sorted(LITELLM_VENV.glob("lib/python*/site-packages/litellm-*.dist-info"))
    versions["litellm"] = litellm[-1].name.split("-")[1].removesuffix(".dist") if litellm else "not installed"
    portkey = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "package.json"
    versions["portkey gateway"] = (json.loads(portkey.read_text(encoding="utf-8"))["version"] if portkey.exists()
                                   else "not installed")
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z"), "packages": versions}


def median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if value == float("inf"):
        return "never"
    return f"{value:,.{digits}f}{unit}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt_ratio(value: float | None, digits: int) -> str:
    """``1.25x``; ``n/a`` or ``never`` (a contender that never delivered) with no ``x``."""
    text = fmt(value, digits)
    return text + "x" if value is not None and value != float("inf") else text


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


# -- CPU per token ------------------------------------------------------------------------------


def cpu_summary(results: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """contender -> mode -> {median, min, max, cv, exact, streams}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for row in results.get("cpu", []):
        out.setdefault(row["contender"], {}).setdefault(row["mode"], {"values": [], "exact": 0, "streams": 0})
        cell = out[row["contender"]][row["mode"]]
        cell["values"].append(row["cpu_us_per_token"])
        cell["exact"] += row["exact"]
        cell["streams"] += row["streams"]
        cell.setdefault("upstream_share", []).append(row["upstream_cpu_s"] / row["wall_s"])
    for modes in out.values():
        for cell in modes.values():
            vals = [v for v in cell["values"] if v is not None]
            cell["median"] = median(vals)
            cell["min"], cell["max"] = (min(vals), max(vals)) if vals else (None, None)
            cell["cv"] = statistics.pstdev(vals) / statistics.mean(vals) if len(vals) > 1 else None
    return out


def ttft_summary(results: dict[str, Any]) -> dict[int, dict[str, dict[str, Any]]]:
    """concurrency -> contender -> medians over repeats of p50/p99 and of added p50/p99."""
    rows = results.get("ttft", [])
    base = {(r["concurrency"], r["repeat"]): r for r in rows if r["contender"] == "upstream"}
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for r in rows:
        b = base.get((r["concurrency"], r["repeat"]))
        cell = out.setdefault(r["concurrency"], {}).setdefault(
            r["contender"], {"p50": [], "p99": [], "add50": [], "add99": [], "exact": 0, "streams": 0,
                             "interval_ms": r["interval_ms"]})
        cell["p50"].append(r["p50_ms"])
        cell["p99"].append(r["p99_ms"])
        if b is not None:
            cell["add50"].append(r["p50_ms"] - b["p50_ms"])
            cell["add99"].append(r["p99_ms"] - b["p99_ms"])
        cell["exact"] += r["exact"]
        cell["streams"] += r["streams"]
    for by in out.values():
        for cell in by.values():
            for key in ("p50", "p99", "add50", "add99"):
                cell[key + "_med"] = median(cell[key])
    return out


def _cpu_target(rows: list[tuple[str, str, str]], a: float | None, b: float | None, limit: float,
                what: str, digits: int = 2) -> None:
    r = ratio(a, b)
    gap = "" if r is None or r <= limit else f" (gap: {fmt(a - limit * b)} us per token)"  # type: ignore[operator]
    rows.append((f"{what} at most {limit:g}x", f"{fmt(a)} vs {fmt(b)} us = {fmt(r, digits)}x{gap}",
                 _verdict(None if r is None else r <= limit)))


def targets(results: dict[str, Any], cpu: dict[str, Any], ttft: dict[int, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    agui = cpu.get("agui-proxy", {})

    def med(name: str, mode: str) -> float | None:
        return cpu.get(name, {}).get(mode, {}).get("median")  # type: ignore[no-any-return]

    _cpu_target(rows, med("agui-proxy", "paced"), med(STARLETTE, "paced"), 0.5,
                "CPU per token (paced) against the Starlette passthrough:")
    _cpu_target(rows, med("agui-proxy", "burst"), med(STARLETTE, "burst"), 0.3,
                "CPU per token (burst) against the Starlette passthrough:")
    _cpu_target(rows, med("agui-proxy", "paced"), med(RAW, "paced"), 2.0,
                "CPU per token (paced) against the raw Python relay (issue 27):")
    _cpu_target(rows, med("agui-proxy", "burst"), med(RAW, "burst"), 4.0,
                "CPU per token (burst) against the raw Python relay (issue 27):")
    added = latency_summary(results.get("latency", [])).get("agui-proxy", {}).get("added_p50")
    gap = f" (gap: {added - 1.0:.2f} ms)" if added is not None and added > 1.0 else ""
    rows.append(("added latency per request, p50, at most 1 ms (issue 27)", f"{fmt(added, 2)} ms{gap}",
                 _verdict(None if added is None else added <= 1.0)))
    for mode in ("paced", "burst"):
        _cpu_target(rows, agui.get(mode, {}).get("median"), med("docs-server", mode), 0.1,
                    f"CPU per token ({mode}) against the docs server (issue 7):", 3)
    rows += scale_targets(results.get("scale", []))
    for c, by in sorted(ttft.items()):
        a = by.get("agui-proxy", {}).get("add99_med")
        p = by.get(STARLETTE, {}).get("add99_med")
        ok = None if a is None or p is None else a <= 1.5 * max(p, 0.0) or a <= 1.0
        rows.append((f"added TTFT p99 at concurrency {c} within 1.5x the Starlette passthrough's (issue 7)",
                     f"{fmt(a, 2)} vs {fmt(p, 2)} ms", _verdict(ok)))
    paced_1000 = ttft.get(1000, {}).get("agui-proxy")
    if paced_1000:
        ok = paced_1000["exact"] == paced_1000["streams"]
        rows.append(("1,000 concurrent paced streams in one process, all exact (issue 7)",
                     f"{paced_1000['exact']}/{paced_1000['streams']} exact", _verdict(ok)))
    holds = [h for h in results.get("hold", []) if h["contender"] == "agui-proxy" and h["kb_per_stream"] is not None]
    if holds:
        worst = max(h["kb_per_stream"] for h in holds)
        rows.append(("under 50 KB of memory per open stream (issue 7)",
                     f"{worst:.1f} KB (largest over the levels held)", _verdict(worst < 50)))
    return rows


def scale_targets(scale: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    by_level = {r["streams"]: r for r in scale if r["contender"] == "agui-proxy"}
    top = by_level.get(9500)
    if top is not None or scale:
        held = f"{top['held']:,} held at once, {top['exact']:,} exact" if top else "not reached (a lower level failed)"
        ok = None if top is None and not by_level else bool(top and top["held"] == top["exact"] == 9500)
        rows.append(("9,500 paced streams held in one process, all exact", held, _verdict(ok)))
        kb = top["kb_per_stream"] if top else None
        gap = f" (gap: {kb - 25:.1f} KB)" if kb is not None and kb > 25 else ""
        rows.append(("at most 25 KB of memory per stream at 9,500 (issue 27)", f"{fmt(kb)} KB{gap}",
                     _verdict(None if kb is None else kb <= 25)))
    five = by_level.get(5000)
    if five is not None:
        a = five["added_p99_ms"]
        gap = f" (gap: {a - 20:.2f} ms)" if a is not None and a >= 20 else ""
        rows.append(("added first-token p99 at 5,000 streams under 20 ms", f"{fmt(a, 2)} ms{gap}",
                     _verdict(None if a is None else a < 20)))
    return rows


def _with_scale(ttft: dict[int, Any], scale: list[dict[str, Any]]) -> dict[int, Any]:
    """The latency levels, and the scale rows' added first token at their levels (the same
    measure: a probe's first token through the contender minus straight to the upstream)."""
    out = {c: dict(by) for c, by in ttft.items()}
    for r in scale:
        if r.get("added_p99_ms") is not None:
            out.setdefault(r["streams"], {})[r["contender"]] = {"add50_med": r["added_p50_ms"],
                                                                "add99_med": r["added_p99_ms"]}
    return out


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def write_report(results: dict[str, Any], out: Path) -> None:
    from .plots import plot_cpu, plot_latency, plot_ttft

    cpu = cpu_summary(results)
    ttft = ttft_summary(results)
    labels = {"upstream": "the upstream itself", **results.get("contenders", {})}
    m = results.get("machine", {})
    lines = ["# agui-proxy benchmark results", "",
             f"Generated by `{results['command']}` on {m.get('date', '?')} in {results['duration_s']:.0f} s"
             + (" (**--quick smoke run: too small to read numbers from**)" if results.get("quick") else "") + ".", "",
             f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores shared with other work, Linux "
             f"{m.get('kernel', '?')}, Python {m.get('python', '?')}.  Packages: "
             + ", ".join(f"{k} {v}" for k, v in m.get("packages", {}).items()) + ".", ""]
    for rerun in results.get("reruns", []):
        lines += [f"Measured again after that run and merged in (`--merge`): the {', '.join(rerun['phases'])} "
                  f"phase(s) of {', '.join(rerun['contenders'])}, by `{rerun['command']}` on {rerun['date']} "
                  f"in {rerun['duration_s']:.0f} s (load average {rerun['loadavg_start']:.1f} at its start).", ""]
    lines += noise_section(results, cpu)
    lines += ["## Targets (ratios within this run)", ""]
    lines += _table(["target", "measured", "verdict"], [list(t) for t in targets(results, cpu, ttft)])
    lines += ["", "How they are met, what limits the rest and what was changed to get there: "
              "[OPTIMISATIONS.md](OPTIMISATIONS.md).", ""]
    if results.get("skipped"):
        lines += ["Not measured: " + "; ".join(f"**{k}**: {v}" for k, v in results["skipped"].items()) + ".", ""]
    lines += cpu_section(cpu, labels, results)
    lines += ttft_section(ttft, labels, results)
    lines += latency_section(results.get("latency", []), labels, results["plan"])
    lines += scale_section(results.get("scale", []), labels, results["plan"], results.get("scale_left_out"))
    lines += hold_section(results.get("hold", []), labels)
    lines += core_section(results.get("core"))
    lines += sse_section(results.get("sse"))
    plots = []
    if cpu:
        plot_cpu(cpu, labels, out / "cpu_per_token.png")
        plots.append("![CPU per token](cpu_per_token.png)")
    if ttft:
        plot_ttft(_with_scale(ttft, results.get("scale", [])), labels, out / "ttft.png")
        plots.append("![added time to first token](ttft.png)")
    if results.get("latency"):
        plot_latency(latency_summary(results["latency"]), labels, out / "added_latency.png")
        plots.append("![added latency per request](added_latency.png)")
    if plots:
        lines += ["## Plots", "", *plots, ""]
    (out / "RESULTS.md").write_text("\n".join(lines), encoding="utf-8")


def noise_section(results: dict[str, Any], cpu: dict[str, Any]) -> list[str]:
    cvs = [cell["cv"] for modes in cpu.values() for cell in modes.values() if cell.get("cv") is not None]
    loads = [r["loadavg"] for key in ("cpu", "ttft", "latency", "hold", "scale") for r in results.get(key, [])]
    ups = [s for modes in cpu.values() for cell in modes.values() for s in cell.get("upstream_share", [])]
    others = [r["others_cores"] for key in ("cpu", "ttft", "latency", "hold", "scale") for r in results.get(key, [])
              if r.get("others_cores") is not None]
    lines = ["## How noisy it was", ""]
    if loads:
        lines.append(f"- 1-minute load average at round starts: {min(loads):.1f} to {max(loads):.1f} "
                     f"(median {statistics.median(loads):.1f}) on {results.get('machine', {}).get('cores')} cores, "
                     "which other work shares (not under the bench's control).")
    if others:
        lines.append(f"- Other processes on the machine (not the bench's) used {min(others):.1f} to {max(others):.1f} "
                     f"cores during the rounds (median {statistics.median(others):.1f}), from /proc/stat less the "
                     "bench's own processes.")
    busy = [r["machine_busy_cores"] for r in results.get("latency", []) if r.get("machine_busy_cores") is not None]
    if busy:
        lines.append(f"- During the added-latency rounds (one request in flight at a time) the whole machine was busy "
                     f"{min(busy):.1f} to {max(busy):.1f} cores of {results.get('machine', {}).get('cores')}.")
    if cvs:
        lines.append(f"- CPU per token across repeats of one round: coefficient of variation {min(cvs):.0%} to "
                     f"{max(cvs):.0%} (median {statistics.median(cvs):.0%}); medians are reported, min-max beside.")
    if ups:
        lines.append(f"- The fake upstream used at most {max(ups):.0%} of one core during the CPU rounds "
                     "(it is not the bottleneck).")
    if results.get("crashed"):
        lines.append(f"- Crashed during the run: {', '.join(results['crashed'])}.")
    return [*lines, ""]


def cpu_section(cpu: dict[str, Any], labels: dict[str, str], results: dict[str, Any]) -> list[str]:
    if not cpu:
        return []
    loads = {ld["spec"]["mode"]: ld for ld in results["plan"]["cpu_loads"]}
    lines = ["## Server CPU per streamed token", "",
             "The server process's own CPU time (user + system, /proc) over a round, divided by the tokens "
             "of the streams that arrived exact; per-request work (HTTP parsing, the upstream request) is "
             "included, spread over the stream's tokens.  "
             + "; ".join(f"**{mode}**: {ld['count']} streams of {ld['spec']['tokens']} tokens, {ld['concurrency']} "
                         f"at a time" + (f", a token every {ld['spec']['interval_ms']:g} ms, each its own write"
                                         if mode == "paced" else ", the whole upstream response in one write")
                         for mode, ld in loads.items()) + ".", ""]
    starlette = cpu.get(STARLETTE, {})
    raw = cpu.get(RAW, {})
    rows = []
    for name, modes in cpu.items():
        row = [labels.get(name, name)]
        for mode in ("paced", "burst"):
            cell = modes.get(mode, {})
            row += [f"{fmt(cell.get('median'))} ({fmt(cell.get('min'))}-{fmt(cell.get('max'))})",
                    fmt_ratio(ratio(cell.get("median"), starlette.get(mode, {}).get("median")), 2),
                    fmt_ratio(ratio(cell.get("median"), raw.get(mode, {}).get("median")), 2),
                    f"{cell.get('exact', 0)}/{cell.get('streams', 0)}"]
        rows.append(row)
    lines += ["*vs Starlette*: against the Starlette + httpx passthrough (called the floor before issue 18); "
              "*vs raw*: against the raw uvloop relay, the Python floor.", ""]
    lines += _table(["contender", "paced us/token (min-max)", "vs Starlette", "vs raw", "exact",
                     "burst us/token (min-max)", "vs Starlette", "vs raw", "exact"], rows)
    return [*lines, ""]


def ttft_section(ttft: dict[int, Any], labels: dict[str, str], results: dict[str, Any]) -> list[str]:
    if not ttft:
        return []
    lines = ["## Time to first token", "",
             "Paced streams; the time from writing the request to reading the first token's bytes, for every "
             "stream.  *Added* is the contender's percentile minus the upstream's own in the same repeat "
             "(the upstream measured directly by the same client).  Per concurrency: the token interval "
             "(grown so all streams together ask at most "
             f"{results['plan']['aggregate_tokens_per_s']:,.0f} tokens/s of the 2-core machine), then medians over "
             "repeats.  A stream that never got its first token before the round's time limit counts as slowest "
             "(`never`).", ""]
    for c, by in sorted(ttft.items()):
        any_cell = next(iter(by.values()))
        lines += [f"### concurrency {c} (a token every {any_cell['interval_ms']:g} ms)", ""]
        floor = by.get(STARLETTE, {}).get("add99_med")
        rows = []
        for name, cell in by.items():
            rows.append([labels.get(name, name), fmt(cell["p50_med"], 2), fmt(cell["p99_med"], 2),
                         fmt(cell["add50_med"], 2) if name != "upstream" else "-",
                         fmt(cell["add99_med"], 2) if name != "upstream" else "-",
                         fmt_ratio(ratio(cell["add99_med"], floor), 2) if name != "upstream" else "-",
                         f"{cell['exact']}/{cell['streams']}"])
        lines += _table(["contender", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "added p99 vs Starlette",
                         "exact"], rows)
        lines.append("")
    return lines
