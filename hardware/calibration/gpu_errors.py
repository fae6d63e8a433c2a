"""Errors of GPU predictions on published rows, and the tables of docs/hardware.md.

Absolute relative errors (fractions) of latency and throughput, per group and over all rows;
:func:`report_table` puts in-fit and leave-one-model-out errors side by side and
:func:`markdown` prints them as ``python -m hardware.calibration.gpu_fit --report`` does.
"""

from __future__ import annotations

import pandas as pd


def errors(table: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Median and p90 absolute relative errors of latency and throughput.

    Args:
        table: Rows with ``predicted_ms``, ``observed_ms``, ``observed_per_s`` and ``batch``.
        by: Optional grouping column (e.g. ``"chip"``).

    Returns:
        ``rows, latency_median, latency_p90, throughput_median, throughput_p90`` (fractions).

    """
    t = table.assign(
        lat=(table.predicted_ms / table.observed_ms - 1.0).abs(),
        thr=(table.batch * 1e3 / table.predicted_ms / table.observed_per_s - 1.0).abs(),
    )
    groups = [("all", t)] if by is None else list(t.groupby(by))
    return pd.DataFrame(
        [
            {
                "group": name,
                "rows": len(g),
                "latency_median": g.lat.median(),
                "latency_p90": g.lat.quantile(0.9),
                "throughput_median": g.thr.median(),
                "throughput_p90": g.thr.quantile(0.9),
            }
            for name, g in groups
        ]
    )


def report_table(fitted: pd.DataFrame, held: pd.DataFrame | None) -> pd.DataFrame:
    """Per GPU and over all GPUs: in-fit and (optionally) held-out errors side by side.

    Args:
        fitted: A :attr:`StackFit.table` (in-fit predictions).
        held: :func:`leave_one_model_out` of the same stack, or None.

    Returns:
        One row per GPU and a last row ``all``; columns ``rows`` then ``fit_*`` and ``held_*``
        for ``latency_median, latency_p90, throughput_median, throughput_p90`` (fractions).

    """
    parts = []
    for name, table in (("fit", fitted), ("held", held)):
        if table is None:
            continue
        e = pd.concat([errors(table, "chip"), errors(table)]).set_index(["group", "rows"])
        parts.append(e.add_prefix(f"{name}_"))
    return pd.concat(parts, axis=1).reset_index()


def markdown(table: pd.DataFrame) -> str:
    """A report table as a Markdown table, errors in percent."""
    head = ["GPU", "rows"] + [c.replace("_", " ") for c in table.columns[2:]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table.itertuples(index=False):
        cells = [str(row[0]), str(row[1])] + [f"{100 * v:.1f}%" for v in row[2:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
