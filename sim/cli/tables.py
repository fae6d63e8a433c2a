"""Human-readable rendering of a run summary (a rich table)."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table


def _ms(seconds: float) -> str:
    return "-" if not math.isfinite(seconds) else f"{seconds * 1e3:.3f} ms"


def summary_table(title: str, summary: dict[str, Any], pools: list[dict[str, Any]]) -> Table:
    """A two-column table of the summary metrics, with per-pool utilisation rows."""
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
        ("throughput", f"{s['throughput_per_s']:,.1f} /s"),
        ("latency mean (completed)", _ms(s["latency_mean_s"])),
        ("latency p50 (completed)", _ms(s["latency_p50_s"])),
        ("latency p90 (completed)", _ms(s["latency_p90_s"])),
        ("latency p99 (completed)", _ms(s["latency_p99_s"])),
        ("latency p99.9 (completed)", _ms(s["latency_p999_s"])),
        (
            f"SLO p{s['slo_percentile']:g} <= {_ms(s['slo_target_s'])}",
            f"{s['slo_attainment']:.4%} ({'met' if s['slo_met'] else 'MISSED'}; drops count "
            "as misses)"
            if math.isfinite(s["slo_attainment"])
            else "-",
        ),
    ]
    for pool in pools:
        tag = " [PROJECTED hardware]" if pool.get("projected") else ""
        rows.append(
            (
                f"utilisation {pool['pool']} ({pool['count']} x {pool['instance_type']}){tag}",
                f"{s['utilisation'][pool['pool']]:.1%}",
            )
        )
    rows.append(("cost (measured window)", f"${s['cost_usd']:,.4f}"))
    cpm = s["cost_per_million_usd"]
    rows.append(("cost per million inferences", f"${cpm:,.4f}" if math.isfinite(cpm) else "-"))
    for metric, value in rows:
        table.add_row(metric, value)
    return table
