"""The sections of ``RESULTS.md`` about holding streams, added latency, the core alone and the SSE decoders."""

from __future__ import annotations

import statistics
from typing import Any


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _rate(value: float) -> str:
    return f"{value / 1000:,.0f}k ({1e6 / value:.1f} us)" if value else "n/a"


def hold_section(rows: list[dict[str, Any]], labels: dict[str, str]) -> list[str]:
    if not rows:
        return []
    lines = ["## Streams held open, and memory per open stream", "",
             "Streams in `hold` mode: the upstream sends the first token, then nothing until the bench has "
             "counted how many streams have their first token at once and read the server's resident memory; "
             "then it releases them all and every stream is checked.  Memory per stream is (RSS with the streams "
             "open - RSS after warm-up) / streams; it includes the server's upstream connection for each.  "
             "The levels stop at the first one not fully held.", ""]
    table = []
    for r in rows:
        table.append([labels.get(r["contender"], r["contender"]), f"{r['streams']:,}", f"{r['held']:,}",
                      f"{r['exact']:,}", f"{r['rss_idle_mb']:.0f} -> {r['rss_held_mb']:.0f}",
                      f"{r['kb_per_stream']:.1f}" if r["kb_per_stream"] is not None else "n/a",
                      str(r.get("server_fds", "")), "; ".join(r["errors"])[:120]])
    lines += _table(["contender", "streams", "held at once", "exact", "RSS MB", "KB per stream", "server fds",
                     "errors"], table)
    return [*lines, ""]


def scale_section(rows: list[dict[str, Any]], labels: dict[str, str], plan: dict[str, Any],
                  left_out: dict[str, str] | None = None) -> list[str]:
    if not rows:
        return []
    lines = ["## Scale: thousands of paced streams in one process", "",
             "Per level, that many `held` streams (paced: all of them together ask "
             f"{plan['aggregate_tokens_per_s']:,.0f} tokens/s, so a token every level/"
             f"{plan['aggregate_tokens_per_s']:,.0f} s each; the end waits for the bench's release) opened 200 "
             "connections at a time.  *Open s*: from the first connect until every stream has its first token.  "
             "Memory per stream as in the table below.  While all are open, short probe streams run one after "
             f"the other for {plan.get('scale_window', 0):g} s through the contender and, at the same time, "
             "straight to the upstream: *added* is the contender's first-token percentile minus the upstream's.  "
             "Then every stream is released and checked.  The levels stop at the first one not fully held.", ""]
    table = []
    for r in rows:
        added = (f"{r['added_p50_ms']:.2f} / {r['added_p99_ms']:.2f}" if r.get("added_p99_ms") is not None
                 else "n/a")
        table.append([labels.get(r["contender"], r["contender"]), f"{r['streams']:,}", f"{r['held']:,}",
                      f"{r['exact']:,}", f"{r['open_s']:.1f}" if r.get("open_s") is not None else "n/a",
                      f"{r['rss_idle_mb']:.0f} -> {r['rss_held_mb']:.0f}",
                      f"{r['kb_per_stream']:.1f}" if r["kb_per_stream"] is not None else "n/a",
                      str(r.get("server_fds", "")), added, f"{r['probes_exact']}/{r['probes']}",
                      "; ".join(r["errors"])[:120]])
    lines += _table(["contender", "streams", "held at once", "exact", "open s", "RSS MB", "KB per stream",
                     "server fds", "added first token p50 / p99 ms", "probes exact", "errors"], table)
    if left_out:
        lines += ["", "Not run at scale (a contender that cannot hold the hold phase's streams at once would only "
                  "queue thousands of connects): "
                  + "; ".join(f"{labels.get(name, name)}: {why}" for name, why in sorted(left_out.items())) + "."]
    return [*lines, ""]


def core_section(core: dict[str, Any] | None) -> list[str]:
    if not core:
        return []
    lines = ["## The sans-I/O core alone", "",
             "Upstream events per second (and microseconds per event) through agui-proxy's core in one process, "
             "every recording of each registered provider fed one chunk per event, over and over: the SSE "
             "decoder alone; decoder + translator (AG-UI events built, not encoded); the whole pipeline "
             "(decoder, translator, encoder: the bytes sent to the client).  *corpus* is total events over total "
             "time across the provider's recordings; *bench-stream* is the Chat Completions stream of the "
             "end-to-end rounds.", ""]
    rows = []
    for p in core["providers"]:
        entries = []
        if p.get("corpus"):
            entries.append((f"corpus ({len([t for t in p['transcripts'] if t['transcript'] != 'bench-stream'])} "
                            "recordings)", p["corpus"]))
        entries += [(t["transcript"], t) for t in p["transcripts"] if t["transcript"] == "bench-stream"]
        for name, r in entries:
            rows.append([p["provider"], name, _rate(r["decoder"]), _rate(r["translator"]), _rate(r["pipeline"])])
        if p.get("missing_folders"):
            rows.append([p["provider"], "recordings not found: " + ", ".join(p["missing_folders"]), "", "", ""])
    lines += _table(["provider", "input", "decoder", "decoder + translator", "whole pipeline"], rows)
    if core.get("unregistered_formats"):
        lines += ["", "Recorded formats with no provider registered on this branch (not measured): "
                  + ", ".join(core["unregistered_formats"]) + "."]
    return [*lines, ""]


def sse_section(sse: dict[str, Any] | None) -> list[str]:
    if not sse:
        return []
    lines = ["## agui-proxy's SSE decoder next to httpx-sse's", "",
             "httpx-sse decodes text: its `aiter_sse` runs httpx's incremental UTF-8 decoder, its `SSELineDecoder` "
             "and its `SSEDecoder`; the bench chains exactly those and feeds both decoders the same chunks.", "",
             "### Correctness (WHATWG HTML 9.2.6)", ""]
    rows = []
    wrong = {"agui-proxy": 0, "httpx-sse": 0}
    for c in sse["correctness"]:
        cells = []
        for name in ("agui-proxy", "httpx-sse"):
            cell = c[name]
            if cell["ok"]:
                cells.append("right")
            elif cell.get("deliberate"):
                cells.append("differs on purpose")
            else:
                wrong[name] += 1
                cells.append(f"**wrong**: `{cell['got']!r}`")
        rows.append([c["case"], *cells, c.get("note", "")])
    lines += _table(["case", "agui-proxy", "httpx-sse", "note"], rows)
    lines += ["", "### Speed (events per second, same bytes, same chunks)", ""]
    rows = []
    ratios = []
    for r in sse["speed"]:
        ratio = r["agui-proxy"] / r["httpx-sse"]
        ratios.append(ratio)
        rows.append([r["input"], r["chunking"], f"{r['agui-proxy'] / 1000:,.0f}k", f"{r['httpx-sse'] / 1000:,.0f}k",
                     f"{ratio:.2f}x"])
    lines += _table(["input", "chunking", "agui-proxy", "httpx-sse", "agui-proxy / httpx-sse"], rows)
    ratios.sort()
    median = ratios[len(ratios) // 2] if ratios else 0.0
    lines += ["", f"**Verdict**: agui-proxy's decoder gets {wrong['agui-proxy']} case(s) wrong and httpx-sse's "
              f"{wrong['httpx-sse']}; agui-proxy's is {median:.2f}x httpx-sse's speed at the median "
              f"({ratios[0]:.2f}x to {ratios[-1]:.2f}x).  "
              + ("The hand-written decoder stays: it is more correct" + (" and faster." if median > 1.1 else
                                                                          ", at a comparable speed.")
                 if wrong["agui-proxy"] < wrong["httpx-sse"] else
                 "Neither is more correct: the decoder stays only if it is clearly faster.")
              + "  It also works on bytes and caps every event it buffers (httpx-sse's buffers grow without "
              "bound on a line that never ends).", ""]
    return lines


def latency_summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """contender -> medians over the repeats of p50, p90 and of the added p50 / p90 (with their ranges)."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        cell = out.setdefault(r["contender"], {"p50s": [], "p90s": [], "added50s": [], "added90s": [],
                                               "exact": 0, "requests": 0, "errors": []})
        for key, field in (("p50s", "p50_ms"), ("p90s", "p90_ms"), ("added50s", "added_p50_ms"),
                           ("added90s", "added_p90_ms")):
            if r[field] is not None:
                cell[key].append(r[field])
        cell["exact"] += r["exact"]
        cell["requests"] += r["requests"]
        cell["errors"] += [e for e in r["errors"] if e not in cell["errors"]]
    for cell in out.values():
        for key, name in (("p50s", "p50"), ("p90s", "p90"), ("added50s", "added_p50"), ("added90s", "added_p90")):
            values = cell[key]
            cell[name] = statistics.median(values) if values else None
            cell[name + "_range"] = (min(values), max(values)) if values else None
    return out


def latency_section(rows: list[dict[str, Any]], labels: dict[str, str], plan: dict[str, Any]) -> list[str]:
    if not rows:
        return []
    summary = latency_summary(rows)
    lines = ["## Added latency per request", "",
             f"Requests one at a time, each on a new connection, for a {plan.get('latency_tokens', 20)}-token answer "
             "the upstream writes at once; timed from the connect to the response's last byte.  The contenders "
             "and the upstream itself take turns request by request (the order rotating), "
             f"{plan.get('latency_turns', 0)} requests each per repeat, {plan.get('latency_repeats', 0)} repeats.  "
             "*Added* is a contender's percentile minus the upstream's own over the same turns; medians over the "
             "repeats, min-max beside.", ""]
    table = []
    for name, cell in summary.items():
        upstream = name == "upstream"
        rng = cell["added_p50_range"]
        table.append([labels.get(name, name), _ms(cell["p50"]), _ms(cell["p90"]),
                      "-" if upstream else _ms(cell["added_p50"]) + (f" ({rng[0]:.2f}-{rng[1]:.2f})" if rng else ""),
                      "-" if upstream else _ms(cell["added_p90"]), f"{cell['exact']}/{cell['requests']}",
                      "; ".join(cell["errors"])[:120]])
    lines += _table(["contender", "p50 ms", "p90 ms", "added p50 ms (min-max)", "added p90 ms", "exact", "errors"],
                    table)
    return [*lines, ""]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"
