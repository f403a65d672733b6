"""nginx as a streaming reverse proxy: the native floor (Debian's ``nginx-light``).

One worker, ``proxy_buffering off`` (each upstream read goes to the client as it comes, as a
streaming proxy must), HTTP/1.1 with kept-alive upstream connections, no access log, listening on
127.0.0.1 only; everything it writes (config, pid, temp files, error log) stays in the run's
folder.  It needs two descriptors per stream, like the Python contenders, but counts the
connections it keeps alive (and those closing) against ``worker_connections`` too: at the
bench's limit of 20,000 it reused (closed) streams of the 9,500 held ("worker_connections are not
enough").  Run as root, its worker raises its own limit (``worker_rlimit_nofile``) to twice the
bench's, so the row measures nginx rather than the descriptor limit.
"""

from __future__ import annotations

import os
import resource
import shutil
from pathlib import Path

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def config(port: int, upstream_port: int, folder: Path) -> str:
    fds = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    root = os.geteuid() == 0
    fds = 2 * fds if root else fds
    user = "user root root;\n" if root else ""  # the worker must reach the run's folder
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                          "uwsgi", "scgi"))
    return f"""{user}worker_processes 1;
daemon off;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} warn;
worker_rlimit_nofile {fds};
events {{ worker_connections {max(fds - 32, 1024)}; }}
http {{
    access_log off;
{temp}
    upstream bench {{ server 127.0.0.1:{upstream_port}; keepalive 100; }}
    server {{
        listen 127.0.0.1:{port} backlog=8192;
        keepalive_requests 100000;
        location / {{
            proxy_pass http://bench;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


def write_config(port: int, upstream_port: int, run_dir: Path) -> tuple[list[str], Path]:
    """The command that runs nginx on ``port`` in front of the upstream, and its folder."""
    assert NGINX is not None
    folder = run_dir / f"nginx{port}"
    folder.mkdir()
    path = folder / "nginx.conf"
    path.write_text(config(port, upstream_port, folder), encoding="utf-8")
    return [NGINX, "-p", str(folder), "-c", str(path), "-e", str(folder / "error.log")], folder
