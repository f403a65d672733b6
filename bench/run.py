"""The whole bench, one command: ``python -m bench`` (``--quick`` for the CI smoke version).

1. Start the fake upstream and every contender, each its own process on 127.0.0.1.
2. Warm every contender up, then hold streams open (most held at once, memory per open stream).
3. CPU per token, paced and burst, rounds interleaved and rotated across repeats.
4. First-token latency at each concurrency, against the upstream's own, interleaved likewise.
4b. Added latency per request: short answers one at a time on new connections, request by request
   in turns with the upstream itself (:mod:`bench.latency`).
5. The sans-I/O core alone per provider, and the two SSE decoders.
6. Write ``results.json``, ``RESULTS.md`` and the plots into ``--out`` (``bench/`` by default).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import core, latency, scale, sse_compare
from .contenders import CONTENDERS, DEFAULT, Contender, Unavailable, baseline_contender
from .load import Target, run_streams
from .merge import merge
from .plan import FULL, QUICK, Plan
from .procs import ServerProcess, free_port
from .report import machine_info, write_report
from .rounds import Live, cpu_round, hold_round, loadavg, machine_busy_seconds, ttft_round
from .streams import StreamSpec, request_body_openai

BENCH = Path(__file__).resolve().parent


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def rotated(items: list[Live], turn: int) -> list[Live]:
    turn %= len(items)
    return items[turn:] + items[:turn]


def start_contenders(contenders: list[Contender], run_dir: Path, upstream_port: int,
                     skipped: dict[str, str]) -> list[Live]:
    lives = []
    for contender in contenders:
        name = contender.name
        try:
            proc, target = contender.start(run_dir, upstream_port)
        except Unavailable as exc:
            skipped[name] = str(exc)
            log(f"skipping {name}: {exc}")
            continue
        started = time.monotonic()
        try:
            proc.wait_port(target.port, contender.startup_timeout)
        except RuntimeError as exc:
            proc.stop()
            skipped[name] = f"did not start: {str(exc).splitlines()[0]}"
            log(f"skipping {name}: {exc}")
            continue
        log(f"{name} listening on {target.port} after {time.monotonic() - started:.1f} s")
        lives.append(Live(name, contender.label, proc, target))
    return lives


def warm_up(lives: list[Live], plan: Plan) -> list[dict[str, Any]]:
    """A few streams each (imports, pools, caches), every one checked."""
    out = []
    for live in lives:
        for spec in (StreamSpec("burst", 20), StreamSpec("paced", 5, 2)):
            results = asyncio.run(run_streams(live.target, spec, concurrency=plan.warmup_concurrency,
                                              count=plan.warmup_streams, timeout=60))
            bad = [r.error for r in results if r.error]
            out.append({"contender": live.name, "mode": spec.mode, "streams": len(results),
                        "exact": len(results) - len(bad), "errors": bad[:3]})
            if bad:
                log(f"warm-up of {live.name} ({spec.mode}): {len(bad)} streams not exact: {bad[0]}")
    return out


def hold_phase(lives: list[Live], upstream: ServerProcess, upstream_port: int, plan: Plan,
               idle_rss: dict[str, int]) -> list[dict[str, Any]]:
    rows = []
    for live in lives:
        assert live.process is not None
        idle = idle_rss[live.name]
        for count in plan.hold_levels:
            row = hold_round(live, upstream, upstream_port, StreamSpec("hold", plan.hold_tokens), count, idle,
                             plan.hold_timeout, plan.hold_stall)
            rows.append(row)
            kb = row["kb_per_stream"]
            log(f"hold {live.name} {count}: held {row['held']} at once, exact {row['exact']}, "
                f"rss {row['rss_held_mb']:.0f} MB" + (f", {kb:.1f} KB/stream" if kb is not None else ""))
            if row["held"] < count or row["exact"] < count:
                break  # the next level cannot do better
    return rows


def short_of_hold(hold_rows: list[dict[str, Any]]) -> dict[str, str]:
    """The contenders that could not hold every stream of a hold level at once, and by how much:
    thousands would only queue their connects for minutes (the scale phase leaves them out)."""
    short: dict[str, str] = {}
    for row in hold_rows:
        if row["held"] < row["streams"] and row["contender"] not in short:
            short[row["contender"]] = (f"held {row['held']:,} of {row['streams']:,} streams at once in the "
                                       "hold phase")
    return short


def scale_phase(lives: list[Live], direct: Live, upstream: ServerProcess, upstream_port: int,
                plan: Plan, idle_rss: dict[str, int], left_out: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for live in lives:
        assert live.process is not None
        if live.name in left_out:
            log(f"scale {live.name}: not run ({left_out[live.name]})")
            continue
        idle = idle_rss[live.name]
        for level in plan.scale_levels:
            row = scale.scale_round(live, direct.target, upstream, upstream_port, level, idle,
                                    aggregate_tokens_per_s=plan.aggregate_tokens_per_s, tokens=plan.scale_tokens,
                                    probe=plan.probe_spec(), window=plan.scale_window, timeout=plan.scale_timeout,
                                    stall=plan.scale_stall)
            rows.append(row)
            kb = row["kb_per_stream"]
            log(f"scale {live.name} {level}: held {row['held']} at once"
                + (f" after {row['open_s']:.1f} s" if row["open_s"] is not None else "")
                + f", exact {row['exact']}, rss {row['rss_held_mb']:.0f} MB"
                + (f", {kb:.1f} KB/stream" if kb is not None else "")
                + (f", added first token p50 {row['added_p50_ms']:.2f} / p99 {row['added_p99_ms']:.2f} ms"
                   if row["added_p99_ms"] is not None else "") + f", load {row['loadavg']:.1f}")
            if row["held"] < level or row["exact"] < level:
                break  # the next level cannot do better
    return rows


def cpu_phase(lives: list[Live], upstream: ServerProcess, plan: Plan) -> list[dict[str, Any]]:
    rows = []
    for repeat in range(plan.repeats):
        for live in rotated(lives, repeat):
            for load in plan.cpu_loads:
                row = cpu_round(live, upstream, load.spec, load.concurrency, load.count, plan.round_timeout)
                row["repeat"] = repeat
                rows.append(row)
                per = row["cpu_us_per_token"]
                log(f"cpu {repeat} {live.name} {load.spec.mode}: "
                    + (f"{per:.1f} us/token" if per is not None else "no exact stream")
                    + f", {row['exact']}/{row['streams']} exact, upstream {row['upstream_cpu_s'] / row['wall_s']:.0%}"
                    f" of a core, load {row['loadavg']:.1f}")
    return rows


def ttft_phase(lives: list[Live], direct: Live, upstream: ServerProcess, plan: Plan) -> list[dict[str, Any]]:
    rows = []
    for level in plan.ttft_levels:
        for repeat in range(level.repeats):
            for live in rotated([direct, *lives], repeat):
                row = ttft_round(live, upstream, plan, level)
                row["repeat"] = repeat
                rows.append(row)
                log(f"ttft c={level.concurrency} {repeat} {live.name}: p50 {row['p50_ms']:.2f} ms, "
                    f"p99 {row['p99_ms']:.2f} ms over {row['probes']} probes; background "
                    f"{row['background_open']}/{row['background']} open, {row['background_exact']} exact; "
                    f"{row['wall_s']:.0f} s, load {row['loadavg']:.1f}")
    return rows


def latency_phase(lives: list[Live], direct: Live, plan: Plan) -> list[dict[str, Any]]:
    rows = []
    targets = [direct.target, *(live.target for live in lives)]
    for repeat in range(plan.latency_repeats):
        load, busy0, wall0 = loadavg(), machine_busy_seconds(), time.perf_counter()
        found = asyncio.run(latency.interleaved(targets, plan.latency_spec(), plan.latency_turns,
                                                plan.latency_timeout))
        # The whole machine's use, servers included: one request is in flight at a time, so the
        # rest is other people's work (at most a fraction of one core is the bench's).
        busy = (machine_busy_seconds() - busy0) / (time.perf_counter() - wall0)
        for row in latency.summarise(direct.target.name, found, repeat):
            row["loadavg"], row["machine_busy_cores"] = load, busy
            rows.append(row)
            log(f"latency {repeat} {row['contender']}: p50 {latency.fmt_ms(row['p50_ms'])}, added p50 "
                f"{latency.fmt_ms(row['added_p50_ms'])}, {row['exact']}/{row['requests']} exact, load {load:.1f}")
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="agui-proxy's benchmarks, side by side.")
    parser.add_argument("--quick", action="store_true", help="the CI smoke version: small, about 20 s")
    parser.add_argument("--contenders", help=f"comma-separated, from {', '.join(CONTENDERS)} "
                                             f"(default: {', '.join(DEFAULT)}; --quick leaves out "
                                             f"{', '.join(QUICK.leave_out)})")
    parser.add_argument("--out", type=Path, default=BENCH, help="where results.json, RESULTS.md and plots go")
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: hold,scale,cpu,ttft,latency,core")
    parser.add_argument("--baseline", metavar="GIT-REV",
                        help="add agui-proxy as of this git revision as a contender (before/after a change)")
    parser.add_argument("--repeats", type=int, help="repeats of the CPU rounds (default: the plan's)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the results already in --out: replace only the phases run now (see --skip), "
                             "for the contenders run now")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.repeats:
        plan = dataclasses.replace(plan, repeats=args.repeats)
    names = args.contenders.split(",") if args.contenders else [n for n in DEFAULT if n not in plan.leave_out]
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown:
        print(f"unknown contenders: {', '.join(unknown)} (known: {', '.join(CONTENDERS)})", file=sys.stderr)
        return 2
    skip = set(filter(None, args.skip.split(",")))
    if args.merge and not {"ttft", "latency"} <= skip:
        print("--merge cannot merge the latency phases (their added times are taken against the upstream of the "
              "same repeat): add --skip ttft,latency, or rerun them whole without --merge", file=sys.stderr)
        return 2
    skipped = {n: "left out of --quick" + (" (it takes about 20 s to start)" if n == "litellm" else "")
               for n in DEFAULT if n not in names and n in plan.leave_out}
    for name, reason in skipped.items():
        log(f"skipping {name}: {reason}")
    args.out.mkdir(parents=True, exist_ok=True)
    fds = scale.raise_fd_limit()  # 9,500 streams are 19,000 descriptors in one server (inherited)
    log(f"file descriptors: soft limit {fds[0]}, hard {fds[1]}")
    run_dir = Path(tempfile.mkdtemp(prefix="agui-bench-"))
    started = time.time()
    results: dict[str, Any] = {"command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
                               "quick": args.quick, "plan": plan.describe(), "loadavg_start": loadavg()}
    upstream_port = free_port()
    upstream = ServerProcess("upstream", [sys.executable, "-m", "bench.upstream", "--port", str(upstream_port)],
                             {**os.environ, "PYTHONPATH": str(BENCH.parent)}, run_dir, cwd=BENCH.parent)
    lives: list[Live] = []
    try:
        upstream.wait_port(upstream_port, 20)
        direct = Live("upstream", "the upstream itself", None,
                        Target("upstream", upstream_port, "/v1/chat/completions", "openai", request_body_openai))
        contenders = [CONTENDERS[n] for n in names]
        if args.baseline:
            contenders.append(baseline_contender(args.baseline, run_dir))
        lives = start_contenders(contenders, run_dir, upstream_port, skipped)
        results["contenders"] = {live.name: live.label for live in lives}
        results["skipped"] = skipped
        results["machine"] = machine_info()
        log("warming up")
        results["warmup"] = warm_up([direct, *lives], plan)
        # Memory per stream counts from here, for the hold and the scale rows alike: an allocator
        # keeps what an earlier phase freed, so a later phase's own start would count too little.
        idle_rss = {live.name: live.process.rss_bytes() for live in lives if live.process is not None}
        if "hold" not in skip:
            results["hold"] = hold_phase(lives, upstream, upstream_port, plan, idle_rss)
        if "scale" not in skip:
            results["scale_left_out"] = short_of_hold(results.get("hold", []))
            results["scale"] = scale_phase(lives, direct, upstream, upstream_port, plan, idle_rss,
                                           results["scale_left_out"])
        if "cpu" not in skip:
            results["cpu"] = cpu_phase(lives, upstream, plan)
        if "ttft" not in skip:
            results["ttft"] = ttft_phase(lives, direct, upstream, plan)
        if "latency" not in skip:
            results["latency"] = latency_phase(lives, direct, plan)
        results["crashed"] = [live.name for live in lives if live.process and not live.process.alive()]
    finally:
        for live in lives:
            if live.process is not None:
                live.process.stop()
        upstream.stop()
    if "core" not in skip:
        log("the sans-I/O core alone, per provider")
        results["core"] = core.run(plan.core_seconds)
        log("SSE decoders side by side")
        results["sse"] = sse_compare.run(plan.sse_seconds)
    results["loadavg_end"] = loadavg()
    results["duration_s"] = time.time() - started
    took = results["duration_s"]
    if args.merge:
        ran = {"warmup", "hold", "scale", "cpu", "ttft", "latency", "core", "sse"} - skip
        ran -= {"sse"} if "core" in skip else set()
        results = merge(results, args.out / "results.json", ran)
    (args.out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    write_report(results, args.out)
    shutil.rmtree(run_dir, ignore_errors=True)
    log(f"done in {took:.0f} s: {args.out / 'RESULTS.md'}")
    return 0
