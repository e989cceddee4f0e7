"""bench/peers.py's tables: rows as markdown, capacity, and the issue's goal table."""

from __future__ import annotations

import math


def markdown(rows: list[dict]) -> str:
    cols = list(dict.fromkeys(c for r in rows for c in r))
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(out)


def capacity(rows: list[dict], limit: float = 2.0) -> int:
    """Most streams whose p95 final latency stayed <= limit (0 when none did)."""
    ok = [r["streams"] for r in rows if r["final_p95_s"] <= limit and not r["errors"] and not r["missing_finals"]]
    return max(ok, default=0)


def _ratio(a, b) -> float | None:
    if a is None or b is None or any(isinstance(x, float) and math.isnan(x) for x in (a, b)) or b == 0:
        return None
    return a / b


def _fmt(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}"


def compare(our_rows: list[dict], peers: dict[str, list[dict]], offline: dict | None, limit: float = 2.0) -> str:
    """Markdown table of the issue's goals: ours vs each peer, and ours vs offline WER."""
    lines = ["| goal | measure | value | met |", "|---|---|---|---|"]
    wl = peers.get("whisperlive") or []
    by_n = {r["streams"]: r for r in wl}
    for r in our_rows:
        p = by_n.get(r["streams"])
        if p is None:
            continue
        for q in ("p50", "p95"):
            ratio = _ratio(r[f"final_{q}_s"], p[f"final_{q}_s"])
            met = "yes" if ratio is not None and ratio <= 0.5 else "no"
            lines.append(f"| final <= 0.5x WhisperLive | {r['streams']} streams, {q}: ours/WhisperLive"
                         f" | {_fmt(ratio)} | {met} |")
    if offline:
        for r in our_rows:
            delta = (r["wer"] - offline["wer"]) * 100
            lines.append(f"| WER <= offline + 1 pt | {r['streams']} streams: ours {r['wer'] * 100:.1f} % vs"
                         f" offline {offline['wer'] * 100:.1f} % | {delta:+.1f} pt | {'yes' if delta <= 1 else 'no'} |")
    ours_cap = capacity(our_rows, limit)
    for name, rows in peers.items():
        cap = capacity(rows, limit)
        tested = max((r["streams"] for r in rows), default=0)
        ratio = "inf" if cap == 0 and ours_cap else _fmt(_ratio(ours_cap, cap))
        note = ""
        if cap == 0:
            note = f" (never <= {limit} s, {tested} streams tried)"
        elif cap >= tested:
            note = f" (passed at the most streams tried, {tested}: its capacity may be higher)"
        met = "yes" if ours_cap and (cap == 0 or ours_cap >= 2 * cap) else "no"
        lines.append(f"| >= 2x streams at p95 <= {limit} s | ours {ours_cap} vs {name} {cap}{note}"
                     f" | {ratio} | {met} |")
    return "\n".join(lines)
