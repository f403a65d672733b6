"""Where a contender's CPU goes under load: ``python -m bench.profile agui-proxy --mode paced``.

Starts the fake upstream and the contender, warms it up, then samples the server process with
py-spy while the bench's load runs, and prints the frames with the most samples (own time and
time including callees).  ``--out`` keeps py-spy's raw collapsed stacks (flamegraph input).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .contenders import CONTENDERS
from .load import run_streams
from .procs import ServerProcess, free_port
from .streams import StreamSpec

BENCH = Path(__file__).resolve().parent


def summarise(raw: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"{total} samples", "", "own time:"]
    lines += [f"{n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    lines += ["", "including callees:"]
    lines += [f"{n / total:6.1%}  {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("contender", choices=[n for n in CONTENDERS if n not in ("litellm", "portkey")])
    parser.add_argument("--mode", choices=("paced", "burst"), default="paced")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--streams", type=int, default=192)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--interval-ms", type=float, default=10.0)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", type=Path, help="keep py-spy's raw collapsed stacks here")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    run_dir = Path(tempfile.mkdtemp(prefix="agui-profile-"))
    raw = args.out or run_dir / "stacks.txt"
    upstream_port = free_port()
    upstream = ServerProcess("upstream", [sys.executable, "-m", "bench.upstream", "--port", str(upstream_port)],
                             {"PYTHONPATH": str(BENCH.parent)}, run_dir, cwd=BENCH.parent)
    server = None
    try:
        upstream.wait_port(upstream_port, 20)
        server, target = CONTENDERS[args.contender].start(run_dir, upstream_port)
        server.wait_port(target.port, 60)
        asyncio.run(run_streams(target, StreamSpec("burst", 20), concurrency=4, count=40))
        spy = subprocess.Popen([py_spy, "record", "--pid", str(server.popen.pid), "--format", "raw", "--rate", "500",
                                "--nonblocking", "--output", str(raw)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # py-spy attaches
        spec = StreamSpec(args.mode, args.tokens, args.interval_ms)
        results = asyncio.run(run_streams(target, spec, concurrency=args.concurrency, count=args.streams))
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=30)
        bad = [r for r in results if not r.exact]
        print(f"{len(results) - len(bad)}/{len(results)} streams exact")
        if not raw.exists():
            print(f"py-spy wrote nothing: {err.decode(errors='replace')[-500:]}", file=sys.stderr)
            return 1
        print(summarise(raw, args.top))
    finally:
        if server is not None:
            server.stop()
        upstream.stop()
        if args.out is None:
            shutil.rmtree(run_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
