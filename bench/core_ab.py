"""The core's per-event cost, this tree against another git revision, measured in turns.

``python -m bench.core_ab --baseline GIT-REV`` copies the package as of ``GIT-REV`` (``git
archive``, as ``python -m bench --baseline`` does), loads both copies into one process (this
tree's first; then, with every ``agui_proxy`` module forgotten, the baseline's from the copy), and
times the sans-I/O pipeline (decode, translate, encode) of each on the bench's Chat Completions
stream of 100 tokens:

- ``burst``: the whole answer in one chunk, as the bench's burst rounds send it;
- ``paced``: one chunk per upstream event, as a token-by-token stream arrives.

The two copies take turns in short slices of CPU time (the order flips every pair), so a load
that changes during the run moves both sides alike.  The report is the median CPU per upstream
event of each copy, the median of the pairs' ratios (this tree / baseline) with its quartiles, and
the 1-minute load average before and after: read the ratios, not the microseconds, on a shared
machine.  A run against this tree's own commit (nothing changed) shows the noise of the method.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .contenders import REPO, package_at
from .core import bench_stream, event_chunks

MODES = ("burst", "paced")
Runner = Callable[[list[bytes]], None]


def _runner() -> tuple[Runner, str]:
    """One run of the pipeline of the ``agui_proxy`` that imports now, and where it came from."""
    package = importlib.import_module("agui_proxy")
    pipeline = importlib.import_module("agui_proxy.core.pipeline")
    run_mod = importlib.import_module("agui_proxy.core.run")
    encoder = importlib.import_module("agui_proxy.core.encoder")
    providers = importlib.import_module("agui_proxy.providers")
    settings = providers.UpstreamSettings(base_url="http://127.0.0.1:9/v1", model="bench-model")
    provider = providers.PROVIDERS["openai-chat"](settings)

    def once(chunks: list[bytes]) -> None:
        run = pipeline.RunPipeline(run_mod.RunBuilder("thread_bench", "run_bench"), provider.translator,
                                   encoder.EventEncoder())
        run.start()
        for chunk in chunks:
            run.feed(chunk)
        run.close()

    return once, str(package.__file__)


def load_both(source: Path) -> tuple[Runner, Runner]:
    """This tree's runner and the baseline's (the package copied to ``source``)."""
    tree, where = _runner()
    if not where.startswith(str(REPO)):
        raise SystemExit(f"this tree's package did not import from {REPO}: {where}")
    for name in [n for n in sys.modules if n == "agui_proxy" or n.startswith("agui_proxy.")]:
        del sys.modules[name]
    sys.path.insert(0, str(source))
    importlib.invalidate_caches()
    baseline, where = _runner()
    if not where.startswith(str(source)):
        raise SystemExit(f"the baseline imported this tree's package ({where}), not {source}")
    return tree, baseline


def _slice(once: Runner, chunks: list[bytes], events: int, seconds: float) -> float:
    """Microseconds of CPU per upstream event over ``seconds`` of the process's CPU time (not the
    wall clock, which on a shared machine also counts the time other processes held the core)."""
    done, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        once(chunks)
        done += events
    return elapsed / done * 1e6


def measure(tree: Runner, baseline: Runner, pairs: int, seconds: float) -> dict[str, dict[str, list[float]]]:
    """Per mode: each copy's slices, in pairs, the order flipping every pair."""
    data = bench_stream()
    events = len(event_chunks(data))
    out: dict[str, dict[str, list[float]]] = {}
    for mode in MODES:
        chunks = [data] if mode == "burst" else event_chunks(data)
        for once in (tree, baseline):  # warm both
            _slice(once, chunks, events, seconds / 2)
        sides: dict[str, list[float]] = {"tree": [], "baseline": []}
        for i in range(pairs):
            order = [("tree", tree), ("baseline", baseline)]
            for name, once in order if i % 2 else order[::-1]:
                sides[name].append(_slice(once, chunks, events, seconds))
        out[mode] = sides
    return out


def report(revision: str, results: dict[str, dict[str, list[float]]], loads: tuple[float, float]) -> str:
    pairs = len(next(iter(results.values()))["tree"])
    lines = [f"core CPU per upstream event, this tree against {revision}, {pairs} pairs in turns; "
             f"1-min load average {loads[0]:.1f} before, {loads[1]:.1f} after"]
    for mode, sides in results.items():
        ratios = [t / b for t, b in zip(sides["tree"], sides["baseline"], strict=True)]
        q1, median, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        lines.append(f"{mode:<6} baseline {statistics.median(sides['baseline']):6.2f} us, this tree "
                     f"{statistics.median(sides['tree']):6.2f} us; ratio (this tree / baseline) "
                     f"median {median:.3f}, quartiles {q1:.3f}-{q3:.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.core_ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="GIT-REV", required=True, help="the revision to compare with")
    parser.add_argument("--pairs", type=int, default=40, help="slices of each copy per mode (default 40)")
    parser.add_argument("--seconds", type=float, default=0.1, help="CPU seconds per slice (default 0.1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="agui-core-ab-") as tmp:
        tree, baseline = load_both(package_at(args.baseline, Path(tmp)))
        before = os.getloadavg()[0]
        results = measure(tree, baseline, args.pairs, args.seconds)
        print(report(args.baseline, results, (before, os.getloadavg()[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
