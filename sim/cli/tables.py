"""Human-readable rendering of a run summary (a rich table)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd


def _ms(seconds: float) -> str:
    return "-" if not math.isfinite(seconds) else f"{seconds * 1e3:.3f} ms"


def summary_table(title: str, summary: dict[str, Any], pools: list[dict[str, Any]]) -> Table:
    """A two-column table of the summary metrics, with per-pool utilisation rows.

    With pipelines, latencies are end to end (first arrival to the last stage's finish);
    one row per stage gives that stage's own latency.
    """
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    s = summary
    rows = [
        ("requests (after warm-up)", f"{s['requests']:,}"),
        ("completed", f"{s['completed']:,}"),
        (
            "dropped",
            f"{s['dropped']:,}"
            + (f" ({s['dropped'] / s['requests']:.2%})" if s["requests"] else ""),
        ),
        ("in flight at end", f"{s['in_flight']:,}"),
        *[
            (label, f"{s[key]:,}")
            for key, label in (("timed_out", "timed out"), ("failed", "failed (lost)"))
            if s.get(key)  # client timeouts and failures: shown when they happened
        ],
        *(
            [("retried", f"{s['retried']:,} ({s['attempts_per_request']:.3f} attempts each)")]
            if s.get("retried")
            else []
        ),
        ("throughput", f"{s['throughput_per_s']:,.1f} /s"),
        ("latency mean (completed)", _ms(s["latency_mean_s"])),
        ("latency p50 (completed)", _ms(s["latency_p50_s"])),
        ("latency p90 (completed)", _ms(s["latency_p90_s"])),
        ("latency p99 (completed)", _ms(s["latency_p99_s"])),
        ("latency p99.9 (completed)", _ms(s["latency_p999_s"])),
        (
            f"SLO p{s['slo_percentile']:g} <= {_ms(s['slo_target_s'])}",
            f"{s['slo_attainment']:.4%} ({'met' if s['slo_met'] else 'MISSED'}; drops, "
            "time-outs and failures count as misses)"
            if math.isfinite(s["slo_attainment"])
            else "-",
        ),
    ]
    for stage in s.get("stages", []):  # pipelines: the latency of each stage alone
        rows.append(
            (
                f"stage {stage['stage']} of {stage['route']} ({stage['model']})",
                f"p50 {_ms(stage['latency_p50_s'])}, p99 {_ms(stage['latency_p99_s'])}",
            )
        )
    changed = bool(s.get("fleet_changed"))
    for pool in pools:
        tag = " [PROJECTED hardware]" if pool.get("projected") else ""
        name = pool["pool"]
        size = "instances in service" if changed else pool["count"]
        rows.append(
            (
                f"utilisation {name} ({size} x {pool['instance_type']}){tag}",
                f"{s['utilisation'][name]:.1%} accelerator, "
                f"{s.get('host_utilisation', {}).get(name, 0.0):.1%} host vCPUs",
            )
        )
        waste = s.get("padding_waste", {}).get(name, math.nan)
        if math.isfinite(waste):
            rows.append((f"padding waste {name}", f"{waste:.1%} of (batch x sequence) slots"))
    if changed:  # instances came and went: the fleet over the window, billed as EC2 does
        rows += [
            ("fleet size (mean / peak)", f"{s['fleet_size_mean']:.2f} / {s['fleet_size_peak']}"),
            ("instance-hours", f"{s['instance_hours']:,.2f}"),
            ("availability (time in service)", f"{s['availability']:.4%}"),
            (
                "billed, whole run (on-demand + spot)",
                f"${s['billed_cost_usd']:,.4f} (${s['billed_cost_on_demand_usd']:,.4f} + "
                f"${s['billed_cost_spot_usd']:,.4f})",
            ),
        ]
    rows.append(("cost (measured window)", f"${s['cost_usd']:,.4f}"))
    cpm = s["cost_per_million_usd"]
    per = "requests, all stages" if s.get("stages") else "inferences"  # a pipeline's request
    rows.append((f"cost per million {per}", f"${cpm:,.4f}" if math.isfinite(cpm) else "-"))
    for metric, value in rows:
        table.add_row(metric, value)
    return table


def sweep_table(title: str, df: pd.DataFrame, varied: list[str], max_rows: int = 40) -> Table:
    """One row per point of a sweep (``summary.parquet`` rows over its replications).

    Columns: the varied fields (by the last part of their dotted path when that is
    unambiguous), replications ok/run, p99 latency in ms (mean, and the worst replication),
    SLO met in every replication, the busiest pool's utilisation, cost per million.
    """
    table = Table(title=title, show_header=True, header_style="bold")
    for column in short_names(varied):
        table.add_column(column, justify="right", no_wrap=True)
    for column in ("ok", "p99 ms", "worst", "SLO", "util", "$/million"):
        table.add_column(column, justify="right", no_wrap=True)
    utilisation = [c for c in df.columns if c.startswith("utilisation.")]
    shown = 0
    for _, rows in df.groupby("point_id", sort=False):
        if shown == max_rows:
            table.add_row(*["..."] * (len(varied) + 6))
            break
        shown += 1
        ok = rows[rows["status"] == "ok"]
        cells = [str(rows[column].iloc[0]) for column in varied]
        if ok.empty:
            table.add_row(*cells, f"0/{len(rows)}", "-", "-", "FAILED", "-", "-")
            continue
        p99 = ok["latency_p99_s"].astype(float) * 1e3
        met = bool(ok["slo_met"].astype(bool).all()) and len(ok) == len(rows)
        busiest = ok[utilisation].astype(float).max(axis=1).mean() if utilisation else math.nan
        cost = ok["cost_per_million_usd"].astype(float).mean()
        table.add_row(
            *cells,
            f"{len(ok)}/{len(rows)}",
            f"{p99.mean():.3f}" if math.isfinite(p99.mean()) else "-",
            f"{p99.max():.3f}" if math.isfinite(p99.max()) else "-",
            "met" if met else "MISSED",
            f"{busiest:.1%}" if math.isfinite(busiest) else "-",
            f"${cost:,.4f}" if math.isfinite(cost) else "-",
        )
    return table


def short_names(paths: list[str]) -> list[str]:
    """Dotted paths shown by their last part (``fleet.0.count`` -> ``count``) when unique."""
    last = [path.rsplit(".", 1)[-1] for path in paths]
    return [
        short if last.count(short) == 1 else path for short, path in zip(last, paths, strict=True)
    ]
