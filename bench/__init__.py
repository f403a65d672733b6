"""agui-proxy's benchmark suite: ``python -m bench`` (see ``bench/run.py`` and docs/performance.md)."""
