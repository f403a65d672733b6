"""The core's per-event cost, this tree against another git revision, measured in turns.

``python -m bench.core_ab --baseline GIT-REV`` copies the package as of ``GIT-REV`` (``git
archive``, as ``python -m bench --baseline`` does) and times the sans-I/O pipeline (decode,
translate, encode) on the bench's Chat Completions stream of 100 tokens, in both copies:

- ``burst``: the whole answer in one chunk, as the bench's burst rounds send it;
- ``paced``: one chunk per upstream event, as a token-by-token stream arrives.

Each round runs a fresh process per copy, baseline and this tree alternating (the order flips
every round), so a machine whose load changes during the run moves both sides alike.  The report
is the median per copy, the ratio of the medians (this tree / baseline), the ratio's spread over
the rounds, and the 1-minute load average at each round's start: read the ratios, not the
microseconds, on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .contenders import REPO, package_at

MODES = ("burst", "paced")


def _per_event(mode: str, seconds: float) -> float:
    """Microseconds of CPU per upstream event of the pipeline in this process's copy of the package."""
    from agui_proxy.core.encoder import EventEncoder
    from agui_proxy.core.pipeline import RunPipeline
    from agui_proxy.core.run import RunBuilder

    from .core import bench_stream, event_chunks, make_provider

    provider = make_provider("openai-chat")
    data = bench_stream()
    chunks = [data] if mode == "burst" else event_chunks(data)
    events = len(event_chunks(data))

    def once() -> None:
        run = RunPipeline(RunBuilder("thread_bench", "run_bench"), provider.translator, EventEncoder())
        run.start()
        for chunk in chunks:
            run.feed(chunk)
        run.close()

    for _ in range(50):  # warm caches
        once()
    # The process's own CPU time, not the wall clock: on a shared machine the wall clock also
    # counts the time other processes held the core.
    done, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        once()
        done += events
    return elapsed / done * 1e6


def _worker(seconds: float) -> None:
    import agui_proxy

    print(json.dumps({"package": agui_proxy.__file__, **{m: _per_event(m, seconds) for m in MODES}}))


def _measure(source: Path | None, seconds: float) -> dict[str, float]:
    path = os.pathsep.join([str(source), str(REPO)] if source else [str(REPO)])
    env = {**os.environ, "PYTHONPATH": path}
    # ``-m`` puts the working directory first on sys.path: the baseline's, for its package to win.
    out = subprocess.run([sys.executable, "-m", "bench.core_ab", "--worker", "--seconds", str(seconds)],
                         env=env, cwd=source or REPO, capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = json.loads(out)
    if source and not str(result["package"]).startswith(str(source)):
        raise SystemExit(f"the baseline ran this tree's package ({result['package']}), not {source}")
    return result


def _row(name: str, values: list[float]) -> str:
    return f"{name:<12} {statistics.median(values):8.2f} us  ({min(values):.2f}-{max(values):.2f})"


def report(revision: str, rounds: list[dict[str, dict[str, float]]], loads: list[float]) -> str:
    lines = [f"core per upstream event, this tree against {revision}, {len(rounds)} rounds in turns; "
             f"1-min load average at round starts {min(loads):.1f}-{max(loads):.1f}"]
    for mode in MODES:
        base = [r["baseline"][mode] for r in rounds]
        new = [r["tree"][mode] for r in rounds]
        ratios = sorted(n / b for n, b in zip(new, base, strict=True))
        lines += [f"{mode}:", _row("  baseline", base), _row("  this tree", new),
                  f"  ratio of medians {statistics.median(new) / statistics.median(base):.3f}; "
                  f"per round {ratios[0]:.3f}-{ratios[-1]:.3f}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.core_ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="GIT-REV", help="the revision to compare with (e.g. main)")
    parser.add_argument("--rounds", type=int, default=9, help="rounds, each timing both copies (default 9)")
    parser.add_argument("--seconds", type=float, default=0.5,
                        help="CPU seconds per mode per copy per round (default 0.5)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.seconds)
        return 0
    if not args.baseline:
        parser.error("--baseline GIT-REV is required")
    with tempfile.TemporaryDirectory(prefix="agui-core-ab-") as tmp:
        source = package_at(args.baseline, Path(tmp))
        rounds, loads = [], []
        for i in range(args.rounds):
            loads.append(os.getloadavg()[0])
            sides = [("baseline", source), ("tree", None)]
            measured = {name: _measure(src, args.seconds) for name, src in (sides if i % 2 == 0 else sides[::-1])}
            rounds.append(measured)
    print(report(args.baseline, rounds, loads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
