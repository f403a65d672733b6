"""``agui-proxy check``: everything the proxy would refuse at start, found without serving.

The config was loaded already (every problem of the file itself is in its
:class:`~agui_proxy.errors.ConfigError`); this goes on to what is only found when the proxy is
built from it: the app itself (providers, route plans, metrics), the replay recordings on disk,
and tracing's SDK when tracing is asked for.  Every problem is printed, then the exit status:
0 when there is none, 2 otherwise.  Nothing is sent anywhere: no upstream and no collector is
contacted.
"""

from __future__ import annotations

import os
import sys

from ..config import Config, ReplayUpstream
from ..errors import ConfigError
from ..version import __version__
from .summary import render, summary


def problems(config: Config, source: str) -> list[ConfigError]:
    found: list[ConfigError] = []
    for name, upstream in config.upstreams.items():
        if not isinstance(upstream, ReplayUpstream):
            continue
        path = upstream.file  # resolved from the config's directory
        try:
            with open(path, "rb") as recording:
                recording.read(1)
        except OSError as exc:
            found.append(ConfigError(f"the recording {path} cannot be read ({exc.strerror})", path=source,
                                     field=f"upstreams.{name}.file"))
    try:
        from ..app.proxy import create_app

        create_app(config)
    except ConfigError as exc:
        found += exc.problems
    return found


def check(config: Config, *, config_path: str | None, workers: int) -> int:
    """Print what is wrong (stderr) or that the config is valid and what it serves (stdout)."""
    source = config_path or "<embedded default>"
    found = problems(config, source)
    if found:
        for problem in found:
            print(f"agui-proxy: config error: {problem}", file=sys.stderr)
        return 2
    print(f"agui-proxy: {source} is valid", flush=True)
    print(render(summary(config, version=__version__, config_path=config_path, workers=workers, env=os.environ)),
          flush=True)
    return 0
