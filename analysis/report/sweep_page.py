"""A sweep's (or capacity plan's) part of the report: metrics against each varied field.

Each point's replications are summarised by their mean and a 95% Student-t interval
(``analysis.replication_summary``); the plots put each varied field on the x axis (one
line per combination of the other varied fields) with the p99 latency and the cost per
million completed requests, and a table lists every point.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.report import figures
from analysis.report.formatting import field_label, number, percent
from analysis.report.html import Heading, Note, Section, Table
from analysis.report.pages import PROJECTED_NOTE, plot
from analysis.runs import replication_summary

METRICS = ("latency_p99_s", "cost_per_million_usd", "throughput_per_s", "slo_attainment")
PANELS = (
    ("latency_p99_s", "p99 latency (ms)", 1e3),
    ("cost_per_million_usd", "cost per million completed (USD)", 1.0),
)
PLAN_PARQUET = "plan.parquet"
"""What ``fleetsim plan`` writes beside its sweep files."""
MAX_SERIES = 10
"""More combinations of the other varied fields than this: points without lines."""


def point_summary(rows: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    """One row per point: varied values, replications, and mean/low/high of ``METRICS``.

    Intervals are Student t at 95% over the point's completed replications
    (``analysis.replication_summary``; NaN ends with one replication). Also
    ``replications_run`` (failed ones included), ``slo_met_all`` (the SLO held in every
    completed replication), ``utilisation_max_mean`` (the busiest pool's mean) and
    ``projected``.
    """
    metrics = [m for m in METRICS if m in rows.columns]
    summary = replication_summary(rows, metrics)
    ok = rows[rows["status"] == "ok"] if "status" in rows else rows
    utilisation = [c for c in rows.columns if c.startswith("utilisation.")]
    projected = [c for c in rows.columns if c.startswith("pools.") and c.endswith(".projected")]
    extras = []
    for point_id, group in rows.groupby("point_id", sort=False):
        done = ok[ok["point_id"] == point_id]
        busiest = done[utilisation].max(axis=1) if utilisation else pd.Series(dtype=float)
        extras.append({
            "point_id": point_id,
            "replications_run": len(group),
            "slo_met_all": bool(len(done)) and bool(done["slo_met"].all()),
            "utilisation_max_mean": float(busiest.mean()) if len(busiest) else math.nan,
            "projected": bool(group[projected].fillna(False).to_numpy().any()),
        })  # fmt: skip
    frame = summary.merge(pd.DataFrame(extras), on="point_id", how="left")
    for metric in METRICS:
        for end in ("mean", "low", "high"):
            if f"{metric}_{end}" not in frame:
                frame[f"{metric}_{end}"] = math.nan
    if varied and len(frame):
        try:
            frame = frame.sort_values(varied, kind="stable")
        except TypeError:  # a column mixing numbers and names: by text
            frame = frame.sort_values(varied, kind="stable", key=lambda c: c.astype(str))
    return frame.reset_index(drop=True)


def sweep_section(
    label: str, facts: dict[str, Any], rows: pd.DataFrame, source_dir: Path | None = None
) -> Section:
    """The sweep's plots against each varied field and its table of points."""
    varied = [v for v in facts.get("varied", []) if v in rows.columns]
    section = Section(f"Sweep: {label}")
    reps = facts.get("replications", "?")
    source = str(facts.get("source", "")).strip().splitlines()
    command = source[0] if len(source) == 1 and source[0].startswith("fleetsim") else None
    section.blocks.append(
        Note(
            f"{len(set(rows['point_id']))} points x {reps} replications; varied: "
            f"{', '.join(varied) or 'nothing'}; traces: {facts.get('trace', '?')}"
            + (f"; made by: {command}" if command else "")
            + ". Each point shows the mean of its replications with a 95% Student-t interval "
            "(error bars); replication r of every point sees the same arrivals."
        )
    )
    points = point_summary(rows, varied)
    if points["projected"].any():
        section.blocks.append(Note(PROJECTED_NOTE.format(runs="points marked PROJECTED"), True))
    slo = rows["slo_target_s"].dropna()
    slo_target_s = float(slo.iloc[0]) if len(slo) and slo.nunique() == 1 else None
    frame = points.copy()
    for field in varied:
        if field.endswith(".instance"):
            frame[field] = [
                f"{v} (PROJECTED)" if p else str(v)
                for v, p in zip(frame[field], frame["projected"], strict=True)
            ]
    for field in plotted_fields(points, varied):
        section.blocks += _against(
            label, frame, field, plotted_fields(points, varied), slo_target_s
        )
    plan = source_dir / PLAN_PARQUET if source_dir is not None else None
    if plan is not None and plan.is_file():
        section.blocks.append(plan_table(pd.read_parquet(plan)))
    section.blocks.append(points_table(points, varied))
    return section


def plotted_fields(points: pd.DataFrame, varied: list[str]) -> list[str]:
    """The varied fields worth an x axis.

    Those with more than one value that no earlier chosen field determines (a plan's dtype
    follows from its instance type).
    """
    chosen: list[str] = []
    for field in varied:
        if points[field].astype(str).nunique() < 2:
            continue
        if any(points.groupby(c)[field].nunique().max() <= 1 for c in chosen):
            continue
        chosen.append(field)
    return chosen


def _against(
    label: str, frame: pd.DataFrame, field: str, fields: list[str], slo_target_s: float | None
) -> list[Any]:
    """A heading and the plot of p99 and cost per million against ``field``."""
    others = [v for v in fields if v != field]
    frame = frame.copy()
    series = None
    if others:
        frame["others"] = [
            ", ".join(f"{o.rsplit('.', 1)[-1]}={row[o]}" for o in others)
            for _, row in frame.iterrows()
        ]
        if frame["others"].nunique() <= MAX_SERIES:
            series = "others"
    fig = figures.sweep_metric(frame, field, field_label(field), series, PANELS, slo_target_s)
    names = ", ".join(o.rsplit(".", 1)[-1] for o in others)
    caption = (
        f"p99 latency and cost per million completed against {field}"
        + (f", one line per {names}" if series else "")
        + "; mean of the replications with its 95% interval; the dotted line is the SLO target."
    )
    alt = f"Sweep {label}: p99 and cost per million against {field}"
    return [Heading(f"Against {field}"), plot(fig, f"{label}-vs-{field}", caption, alt)]


def plan_table(plan: pd.DataFrame) -> Table:
    """A capacity plan's answer (``plan.parquet``): the cheapest count per candidate."""
    columns = [
        "instance",
        "count",
        "max batch",
        "p99, worst replication (ms)",
        "SLO",
        "USD per hour",
        "cost per million (USD)",
        "note",
    ]
    rows = [
        [
            f"{r.instance}{' PROJECTED' if r.projected else ''}",
            number(None if pd.isna(r.count) else int(r.count)),
            str(r.max_batch),
            number(r.latency_p99_s * 1e3),
            "met" if r.slo_met else "NOT MET",
            number(r.usd_per_hour),
            number(r.cost_per_million_usd),
            str(r.note),
        ]
        for r in plan.itertuples()
    ]
    return Table(
        "Plan: the smallest count meeting the SLO in every replication, per "
        "candidate (plan.parquet), cheapest first",
        columns,
        rows,
    )


def points_table(points: pd.DataFrame, varied: list[str]) -> Table:
    """One row per point: the varied values and the replication summaries."""
    columns = [
        *[v.rsplit(".", 1)[-1] if v.count(".") else v for v in varied],
        "replications ok",
        "p99 mean [95% interval] (ms)",
        "SLO met (every rep)",
        "busiest pool utilisation",
        "throughput (/s)",
        "cost per million mean [95% interval] (USD)",
        "point",
    ]
    rows = []
    for _, p in points.iterrows():
        values = [
            str(p[v]) + (" PROJECTED" if v.endswith(".instance") and p["projected"] else "")
            for v in varied
        ]
        rows.append(
            [
                *values,
                f"{p['replications']}/{p['replications_run']}",
                _ci(p, "latency_p99_s", 1e3),
                "yes" if p["slo_met_all"] else "NO",
                percent(p["utilisation_max_mean"]),
                number(p["throughput_per_s_mean"]),
                _ci(p, "cost_per_million_usd", 1.0),
                str(p["point_id"]),
            ]
        )
    if not varied:
        columns = columns[len(varied) :]
    return Table("Points (mean over replications)", columns, rows)


def _ci(p: pd.Series, metric: str, scale: float) -> str:
    mean, low, high = (p[f"{metric}_{k}"] * scale for k in ("mean", "low", "high"))
    if not math.isfinite(mean):
        return "-"
    if not (math.isfinite(low) and math.isfinite(high)):
        return number(mean)
    return f"{number(mean)} [{number(low)}, {number(high)}]"
