"""The two plots: CPU per token by contender, and added time to first token against concurrency."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

# Plain numbers on the log axes ("200", not "2 x 10^2").
_PLAIN = FuncFormatter(lambda v, _: f"{v:g}")
FLOOR = "raw-relay"

COLOURS = {"agui-proxy": "#1f77b4", "starlette-passthrough": "#7f7f7f", "docs-server": "#d62728",
           "litellm": "#ff7f0e", "agui-proxy-asyncio": "#17becf", "agui-proxy-baseline": "#aec7e8",
           "agui-proxy-httpx": "#9edae5", "raw-relay": "#2f2f2f", "nginx": "#8c564b", "upstream": "#2ca02c",
           "portkey": "#9467bd"}


def plot_cpu(cpu: dict[str, Any], labels: dict[str, str], path: Path) -> None:
    modes = [m for m in ("paced", "burst") if any(m in modes for modes in cpu.values())]
    fig, axes = plt.subplots(1, len(modes), figsize=(6.5 * len(modes), 5.2), squeeze=False)
    for ax, mode in zip(axes[0], modes, strict=True):
        names = [n for n in cpu if cpu[n].get(mode, {}).get("median") is not None]
        values = [cpu[n][mode]["median"] for n in names]
        lows = [cpu[n][mode]["median"] - cpu[n][mode]["min"] for n in names]
        highs = [cpu[n][mode]["max"] - cpu[n][mode]["median"] for n in names]
        bars = ax.bar(range(len(names)), values, yerr=[lows, highs], capsize=4,
                      color=[COLOURS.get(n, "#9467bd") for n in names])
        ax.bar_label(bars, labels=[f"{v:.0f}" if v >= 10 else f"{v:.1f}" for v in values], padding=3)
        ax.set_xticks(range(len(names)), [_wrap(labels.get(n, n)) for n in names], fontsize=8, rotation=35,
                      ha="right", rotation_mode="anchor")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(_PLAIN)
        ax.yaxis.set_minor_formatter(NullFormatter())
        if FLOOR in names:  # the floor across the whole axis, so every bar reads against it
            ax.axhline(cpu[FLOOR][mode]["median"], color=COLOURS[FLOOR], linestyle="--", linewidth=1,
                       label="raw uvloop relay (the Python floor)")
            ax.legend(fontsize=8, loc="upper left")
        ax.set_ylabel("server CPU per streamed token (us, log scale)")
        ax.set_title(f"{mode} streams (median, min-max over repeats)", fontsize=10)
        ax.margins(y=0.25)
    fig.suptitle("Server CPU per token: lower is better")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ttft(ttft: dict[int, Any], labels: dict[str, str], path: Path) -> None:
    levels = sorted(ttft)
    names = sorted({n for by in ttft.values() for n in by if n != "upstream"},
                   key=lambda n: list(COLOURS).index(n) if n in COLOURS else 99)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, title in ((axes[0], "add50_med", "p50"), (axes[1], "add99_med", "p99")):
        notes = 0  # "never" notes stack upwards from the axis' foot, one line each
        for name in names:
            points = [(c, ttft[c][name][key]) for c in levels if name in ttft[c] and ttft[c][name][key] is not None]
            finite = [(c, max(v, 0.01)) for c, v in points if v != float("inf")]
            if finite:
                floor = name == FLOOR  # dashed and drawn on top, so the floor stays visible under the others
                ax.plot(*zip(*finite, strict=True), marker="o", label=labels.get(name, name),
                        color=COLOURS.get(name, "#9467bd"), linestyle="--" if floor else "-",
                        zorder=3 if floor else 2)
            for c, v in points:
                if v == float("inf"):
                    ax.annotate(f"{labels.get(name, name)}: never (timed out) at {c:,}", (0.98, 0.03 + 0.05 * notes),
                                xycoords="axes fraction", ha="right", va="bottom", color=COLOURS.get(name, "#9467bd"),
                                fontsize=7)
                    notes += 1
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(levels, [f"{c / 1000:g}k" if c >= 1000 else str(c) for c in levels])
        ax.yaxis.set_major_formatter(_PLAIN)
        ax.set_xlabel("concurrent streams")
        ax.set_ylabel(f"added time to first token, {title} (ms, log)")
        ax.set_title(f"{title}: contender minus the upstream's own", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Added time to first token against concurrency: lower is better")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _wrap(label: str) -> str:
    """A contender's label on short lines, so neighbouring bars' labels do not overlap."""
    return textwrap.fill(label, 14)


def plot_latency(summary: dict[str, Any], labels: dict[str, str], path: Path) -> None:
    """Added latency per request (p50, the range over repeats as error bars), one bar per contender."""
    names = [n for n in summary if n != "upstream" and summary[n].get("added_p50") is not None]
    values = [max(summary[n]["added_p50"], 0.01) for n in names]
    lows = [summary[n]["added_p50"] - summary[n]["added_p50_range"][0] for n in names]
    highs = [summary[n]["added_p50_range"][1] - summary[n]["added_p50"] for n in names]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(names) + 1.8))
    ax.barh([textwrap.fill(labels.get(n, n), 34) for n in names], values, xerr=[lows, highs],
            color=[COLOURS.get(n, "#bcbd22") for n in names])
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_PLAIN)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.invert_yaxis()
    ax.set_xlabel("added latency per request, p50 (ms, log scale)")
    ax.set_title("last byte of a short answer through the contender minus straight to the upstream\n"
                 "(dashed: issue 27's 1 ms)", fontsize=9)
    ax.axvline(1.0, color="#d62728", linestyle="--", linewidth=1)
    for y, v in enumerate(values):
        ax.annotate(f"{v:.2f}", (v, y), xytext=(4, -10), textcoords="offset points", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
