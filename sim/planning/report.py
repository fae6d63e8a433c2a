"""A plan's results: one row per candidate, as ``plan.parquet``, ``plan.md`` and a plot.

Rows are sorted by cost per million inferences, candidates that meet the SLO first.
Projected hardware (Inf3) is flagged in every form: a ``projected`` column, a ``PROJECTED``
mark in the table and the markdown, a hollow marker and a label on the plot.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from sim.planning.search import CandidateResult

COLUMNS = [
    "instance",
    "count",
    "dtype",
    "cores_per_replica",
    "max_batch",
    "latency_p99_s",
    "slo_met",
    "usd_per_hour",
    "cost_per_million_usd",
    "projected",
]


def plan_rows(results: list[CandidateResult], default_max_batch: int) -> list[dict[str, Any]]:
    """One row per candidate (``COLUMNS`` first, then details), sorted for reading.

    ``latency_p99_s`` is the worst replication's p99 at the chosen count; for a candidate
    that never met the SLO, the count with the best p99 is reported (``slo_met`` False).
    """
    rows = []
    for result in results:
        chosen = result.chosen
        candidate = result.candidate
        p99 = chosen.p99_s if chosen else []
        rows.append(
            {
                "instance": candidate.instance,
                "count": chosen.count if chosen else None,
                "dtype": candidate.dtype,
                "cores_per_replica": chosen.cores_per_replica if chosen else None,
                "max_batch": candidate.max_batch or default_max_batch,
                "latency_p99_s": _worst(p99),
                "slo_met": result.answer is not None,
                "usd_per_hour": chosen.usd_per_hour if chosen else math.nan,
                "cost_per_million_usd": chosen.cost_per_million_usd if chosen else math.nan,
                "projected": candidate.projected,
                "latency_p99_min_s": min(p99) if p99 else math.nan,
                "latency_p99_mean_s": sum(p99) / len(p99) if p99 else math.nan,
                "utilisation": chosen.utilisation if chosen else math.nan,
                "lower_bound": result.lower_bound,
                "counts_tried": ",".join(str(c) for c in sorted(result.evaluations)),
                "point_id": chosen.point_id if chosen else None,
                "note": _note(result),
            }
        )
    rows.sort(key=lambda r: (not r["slo_met"], _sortable(r["cost_per_million_usd"])))
    return rows


def _worst(values: list[float]) -> float:
    return max(values) if values else math.nan


def _sortable(value: float) -> float:
    return math.inf if value is None or math.isnan(value) else value


def _note(result: CandidateResult) -> str:
    """Why a candidate has no answer, or how its bound was found."""
    if result.error is not None:
        return f"cannot run: {result.error}"
    if result.answer is None:
        chosen = result.chosen
        best = f"; best p99 {_ms(_worst(chosen.p99_s))} at {chosen.count}" if chosen else ""
        floor = (
            f"; even an idle pool's latency at the SLO percentile is {_ms(result.floor_s)} "
            "(a batch of one, after the batching wait): no count can meet the target"
            if result.floor_s is not None
            else ""
        )
        return f"SLO not met with up to {result.max_count} instances{best}{floor}"
    below = result.evaluations.get(result.answer - 1)
    fewer = (
        f"; {result.answer - 1} misses (p99 {_ms(_worst(below.p99_s))})"
        if below is not None
        else ""
    )
    return f"lower bound {result.lower_bound} ({result.bound_reason}){fewer}"


def _ms(seconds: float) -> str:
    return "-" if seconds is None or math.isnan(seconds) else f"{seconds * 1e3:.3f} ms"


def write_plan_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``plan.parquet`` atomically."""
    df = pd.DataFrame(rows, columns=[*COLUMNS, *[k for k in rows[0] if k not in COLUMNS]])
    df["count"] = df["count"].astype("Int64")
    df["cores_per_replica"] = df["cores_per_replica"].astype("Int64")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def plan_markdown(
    title: str, facts: list[str], rows: list[dict[str, Any]], slo: str, command: str
) -> str:
    """``plan.md``: the table, the search's facts, and the command that reproduces it."""
    lines = [f"# {title}", "", *[f"- {fact}" for fact in facts], "", f"SLO: {slo}.", ""]
    lines.append(
        "| instance | count | dtype | cores/replica | max batch | p99 (worst rep) | "
        "p99 range | utilisation | $/hour | $ per million | SLO |"
    )
    lines.append("|" + "---|" * 11)
    for row in rows:
        tag = " **PROJECTED**" if row["projected"] else ""
        lines.append(
            f"| {row['instance']}{tag} | {row['count'] if row['count'] is not None else '-'} | "
            f"{row['dtype']} | {row['cores_per_replica'] or '-'} | {row['max_batch']} | "
            f"{_ms(row['latency_p99_s'])} | {_ms(row['latency_p99_min_s'])} - "
            f"{_ms(row['latency_p99_s'])} | {_pct(row['utilisation'])} | "
            f"{_usd(row['usd_per_hour'], 3)} | {_usd(row['cost_per_million_usd'], 4)} | "
            f"{'met' if row['slo_met'] else 'NOT MET'} |"
        )
    lines += ["", "Notes:", ""]
    lines += [f"- {row['instance']} (batch {row['max_batch']}): {row['note']}" for row in rows]
    if any(row["projected"] for row in rows):
        lines += [
            "",
            "PROJECTED hardware: its performance and price are projections "
            "(hardware/data/inferentia3_projection.md), not published figures.",
        ]
    lines += ["", f"Reproduce: `{command}`", ""]
    return "\n".join(lines)


def _pct(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1%}"


def _usd(value: float, digits: int) -> str:
    return "-" if value is None or math.isnan(value) else f"${value:,.{digits}f}"


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def plot_frontier(
    path: Path, results: list[CandidateResult], slo_target_s: float, title: str
) -> None:
    """The cost-vs-p99 frontier as a PNG.

    One curve per candidate through every count simulated (more instances: lower p99,
    higher cost), filled where the SLO was met in every replication, a cross where not;
    the chosen count ringed; the SLO target as a vertical line. Projected hardware is
    dashed and labelled PROJECTED. The cost axis is logarithmic when costs span more than
    a factor of 20.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=120)
    costs = []
    for number, result in enumerate(results):
        tried = sorted(
            (e for e in result.evaluations.values() if not math.isnan(_worst(e.p99_s))),
            key=lambda e: e.count,
        )
        if not tried:
            continue
        color = f"C{number % 10}"
        x = [_worst(e.p99_s) * 1e3 for e in tried]
        y = [e.cost_per_million_usd for e in tried]
        costs += y
        label = result.candidate.label
        ax.plot(x, y, color=color, linestyle="--" if result.candidate.projected else "-",
                alpha=0.6, label=label)  # fmt: skip
        for evaluation, px, py in zip(tried, x, y, strict=True):
            marker = "o" if evaluation.met else "x"
            ax.scatter([px], [py], color=color, marker=marker, s=25, zorder=3)
        chosen = result.chosen
        if chosen is not None:
            px, py = _worst(chosen.p99_s) * 1e3, chosen.cost_per_million_usd
            ax.scatter([px], [py], s=160, facecolors="none", edgecolors=color, zorder=4)
            ax.annotate(f"{chosen.count} x {result.candidate.instance}", (px, py),
                        textcoords="offset points", xytext=(8, 6), fontsize=8)  # fmt: skip
    ax.axvline(slo_target_s * 1e3, color="black", linestyle=":", label="SLO target")
    if costs and min(costs) > 0 and max(costs) / min(costs) > 20:
        ax.set_yscale("log")
    ax.set_xlabel("p99 latency, worst replication (ms)")
    ax.set_ylabel("cost per million inferences (USD)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
