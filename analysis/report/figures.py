"""The report's plots: one function per plot, each taking plain data and returning a Figure.

Figures are built with ``matplotlib.figure.Figure`` (Agg canvas), never ``pyplot``, so
making a report changes no process-wide matplotlib state. Every axes has a title, an x and
a y label with the unit in parentheses, and a legend when it shows several series.
Latencies are plotted in milliseconds, money in US dollars, shares in percent.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    NullFormatter,
    PercentFormatter,
)

WIDE = (9.0, 4.6)
"""Figure size (inches) of a one-panel plot; 100 dpi gives 900 x 460 pixels."""
DPI = 100
PROJECTED = " (PROJECTED)"


def new_figure(panels: int = 1, size: tuple[float, float] = WIDE) -> tuple[Figure, list[Axes]]:
    """A figure with ``panels`` axes side by side, on its own Agg canvas."""
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, alpha=0.3)
    return fig, list(axes)


def png_bytes(fig: Figure) -> bytes:
    """The figure rendered as PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _plain_log_x(ax: Axes) -> None:
    """Log x axis with plain numbers (0.5, 1, 2, 5, 10) rather than powers of ten."""
    ax.set_xscale("log")
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_major_formatter(plain)
    low, high = ax.get_xlim()
    if high / max(low, 1e-300) < 300:  # under ~2.5 decades: label 2 and 5 too
        ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.xaxis.set_minor_formatter(plain)
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())


def _legend(ax: Axes, series: int, **kwargs: object) -> None:
    if series > 1:
        ax.legend(fontsize="small", **kwargs)


def _slo_lines(ax: Axes, slo: Mapping[str, tuple[float, float]]) -> None:
    """Dotted lines at each distinct SLO target (vertical, ms) and percentile (horizontal)."""
    for target_s, percentile in sorted(set(slo.values())):
        if math.isfinite(target_s):
            ax.axvline(target_s * 1e3, color="grey", linestyle=":", linewidth=1)
            ax.annotate(
                f"SLO {target_s * 1e3:g} ms",
                (target_s * 1e3, 0.02),
                xycoords=("data", "axes fraction"),
                rotation=90,
                fontsize="small",
                color="dimgrey",
                ha="right",
                va="bottom",
            )
        if math.isfinite(percentile):
            ax.axhline(percentile, color="grey", linestyle=":", linewidth=1)


def latency_cdf(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    slo: Mapping[str, tuple[float, float]] | None = None,
) -> Figure:
    """Latency CDF of completed requests, one curve per run, on a log latency axis.

    Args:
        curves: Run label -> (latency bin edges in s, share of requests <= edge in 0..1).
        slo: Run label -> (SLO target in s, SLO percentile in %), drawn as dotted lines.

    """
    fig, (ax,) = new_figure()
    for label, (edges_s, cdf) in curves.items():
        ax.step(edges_s * 1e3, cdf * 100, where="post", label=label)
    _slo_lines(ax, slo or {})
    _plain_log_x(ax)
    ax.set_ylim(0, 100.5)
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set(
        title="Latency CDF (completed requests after the warm-up)",
        xlabel="latency (ms, log scale)",
        ylabel="requests at or below (%)",
    )
    _legend(ax, len(curves), loc="upper left")
    return fig


def latency_over_time(
    series: pd.DataFrame, warmup_s: float, title: str, slo_target_s: float | None = None
) -> Figure:
    """p50 and p99 latency per window, with the arrival rate on a second axis.

    Args:
        series: One row per window: ``window_start_s``, ``window_end_s``, ``latency_p50_s``,
            ``latency_p99_s``, ``arrival_rate_per_s`` (``analysis.time_series``).
        warmup_s: End of the warm-up (s), shaded.
        title: The run this is.
        slo_target_s: The latency target (s), dotted when it falls near the data.

    """
    fig, (ax,) = new_figure()
    mid = (series["window_start_s"] + series["window_end_s"]).to_numpy() / 2
    marker = "." if len(series) <= 40 else None
    p50_ms = series["latency_p50_s"].to_numpy(dtype=float) * 1e3
    p99_ms = series["latency_p99_s"].to_numpy(dtype=float) * 1e3
    ax.plot(mid, p50_ms, marker=marker, label="p50 latency")
    ax.plot(mid, p99_ms, marker=marker, label="p99 latency")
    top_ms = float(np.nanmax(p99_ms, initial=0.0))
    if slo_target_s is not None and 0 < slo_target_s * 1e3 <= 1.5 * top_ms:
        ax.axhline(slo_target_s * 1e3, color="C3", linestyle=":", label="SLO target")
        top_ms = max(top_ms, slo_target_s * 1e3)
    ax.set_ylim(0, top_ms * 1.25 or 1.0)
    rate = ax.twinx()
    arrivals = series["arrival_rate_per_s"].to_numpy(dtype=float)
    rate.plot(mid, arrivals, color="C2", linestyle="--", label="arrival rate")
    rate.set_ylim(0, float(np.nanmax(arrivals, initial=0.0)) * 1.25 or 1.0)
    if warmup_s > 0:
        start = float(series["window_start_s"].min())
        ax.axvspan(start, warmup_s, color="grey", alpha=0.15, label="warm-up")
    width = float((series["window_end_s"] - series["window_start_s"]).median())
    xlabel = "time since start (s)"
    ax.set(
        title=f"{title}: latency and arrivals per {width:g} s window",
        xlabel=xlabel,
        ylabel="latency of requests finishing (ms)",
    )
    rate.set(xlabel=xlabel, ylabel="arrival rate (requests/s)", title="")
    lines = ax.get_legend_handles_labels()
    more = rate.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize="small", loc="lower right", ncols=3)
    return fig


def batch_sizes(shares: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Share of batches of each size, grouped bars, one colour per run.

    Args:
        shares: Run label -> (batch sizes in requests, share of batches in 0..1).

    """
    fig, (ax,) = new_figure()
    sizes = sorted({int(s) for sizes_, _ in shares.values() for s in sizes_})
    position = {s: i for i, s in enumerate(sizes)}
    width = 0.8 / max(len(shares), 1)
    for k, (label, (sizes_, share)) in enumerate(shares.items()):
        x = np.array([position[int(s)] for s in sizes_]) + (k - (len(shares) - 1) / 2) * width
        ax.bar(x, np.asarray(share) * 100, width=width, label=label)
    ax.set_xticks(range(len(sizes)), [str(s) for s in sizes])
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set(
        title="Batch sizes (batches that completed requests after the warm-up)",
        xlabel="batch size (requests)",
        ylabel="share of batches (%)",
    )
    _legend(ax, len(shares))
    return fig


def queue_waits(curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]]) -> Figure:
    """CDF of the time from arrival to service start (``queue_s``), on a log axis.

    Args:
        curves: Run label -> (wait bin edges in s, share of requests waiting <= edge in 0..1,
            share that waited exactly 0 in 0..1). The share waiting 0 starts each curve and
            is given in its legend.

    """
    fig, (ax,) = new_figure()
    for label, (edges_s, cdf, zero) in curves.items():
        share = f"{zero:.1%}" if zero >= 0.001 else "<0.1%"
        shown = f"{label} ({share} waited 0)" if zero > 0 else label
        ax.step(edges_s * 1e3, cdf * 100, where="post", label=shown)
    _plain_log_x(ax)
    ax.set_ylim(0, 100.5)
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set(
        title="Queue wait CDF (arrival to service start, batching wait included)",
        xlabel="queue wait (ms, log scale)",
        ylabel="requests at or below (%)",
    )
    ax.legend(fontsize="small", loc="upper left")
    return fig


def utilisation(pools: pd.DataFrame) -> Figure:
    """Busy share of each pool's accelerators and host vCPUs, one bar pair per run and pool.

    Args:
        pools: One row per (run, pool): ``run``, ``pool``, ``instance_type``, ``projected``,
            ``utilisation`` and ``host_utilisation`` (0..1).

    """
    fig, (ax,) = new_figure()
    labels = [_pool_label(row) for row in pools.itertuples()]
    x = np.arange(len(pools))
    ax.bar(x - 0.2, pools["utilisation"] * 100, width=0.4, label="accelerator")
    ax.bar(x + 0.2, pools["host_utilisation"] * 100, width=0.4, label="host vCPUs")
    ax.set_xticks(
        x,
        labels,
        rotation=20 if len(pools) > 6 else 0,
        ha="right" if len(pools) > 6 else "center",
        fontsize="small",
    )
    ax.set_ylim(0, max(100.0, float(np.nanmax(pools["utilisation"] * 100, initial=0)) + 5))
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set(
        title="Utilisation per pool (after the warm-up)",
        xlabel="run / pool (instances)",
        ylabel="busy share of capacity (%)",
    )
    ax.legend(fontsize="small")
    return fig


def _pool_label(row: object) -> str:
    label = f"{row.run} / {row.pool}\n{row.count} x {row.instance_type}"  # type: ignore[attr-defined]
    return label + ("\nPROJECTED" if row.projected else "")  # type: ignore[attr-defined]


def cost(pools: pd.DataFrame, per_million_usd: Mapping[str, float]) -> Figure:
    """Cost of each pool over the measured window (stacked per run) and cost per million.

    Horizontal bars, one row per run (first run on top), so that many runs stay readable.

    Args:
        pools: One row per (run, pool): ``run``, ``pool``, ``instance_type``, ``count``,
            ``projected``, ``cost_usd`` (the pool's on-demand cost over the run's measured
            window).
        per_million_usd: Run label -> cost (USD) per million completed requests.

    """
    runs = list(dict.fromkeys(pools["run"]))
    height = max(WIDE[1], 1.6 + 0.45 * len(runs) + 0.22 * len(pools))
    fig, (left, right) = new_figure(2, size=(WIDE[0], height))
    projected = set(pools.loc[pools["projected"].astype(bool), "run"])
    ticks = [run + (" (PROJECTED)" if run in projected else "") for run in runs]
    y = np.arange(len(runs))[::-1]
    left_end = np.zeros(len(runs))
    for k, row in enumerate(pools.itertuples()):
        widths = np.array([row.cost_usd if row.run == run else 0.0 for run in runs])
        name = f"{row.run} / {row.pool}: {row.count} x {row.instance_type}"
        left.barh(
            y,
            widths,
            left=left_end,
            color=f"C{k % 10}",
            height=0.6,
            label=name + (PROJECTED if row.projected else ""),
        )
        left_end += widths
    left.set_yticks(y, ticks, fontsize="small")
    left.set_xlim(0, float(np.nanmax(left_end, initial=0.0)) * 1.1 or 1.0)
    left.set(
        title="Cost over the measured window, per pool",
        xlabel="on-demand cost (USD)",
        ylabel="run (pools stacked)",
    )
    values = np.array([per_million_usd.get(run, math.nan) for run in runs], dtype=float)
    bars = right.barh(y, values, color="C7", height=0.6)
    right.bar_label(bars, labels=[_usd(v) for v in values], fontsize="small", padding=2)
    right.set_yticks(y, ticks, fontsize="small")
    right.set_xlim(0, float(np.nanmax(values, initial=0.0)) * 1.3 or 1.0)
    right.set(
        title="Cost per million completed requests",
        xlabel="cost per million (USD)",
        ylabel="run (fleet)",
    )
    fig.legend(
        *left.get_legend_handles_labels(),
        loc="outside lower center",
        ncols=2 if len(pools) > 2 else len(pools),
        fontsize="x-small",
    )
    return fig


def _usd(value: float) -> str:
    return "-" if not math.isfinite(value) else f"${value:,.4g}"


def sweep_metric(
    points: pd.DataFrame,
    field: str,
    field_label: str,
    series: str | None,
    panels: Sequence[tuple[str, str, float]],
    slo_target_s: float | None = None,
) -> Figure:
    """Metrics against one varied field: replication mean with its interval as error bars.

    Args:
        points: One row per point: the column ``field`` (x), ``series`` (one line per value,
            e.g. the other varied fields as text) and ``<metric>_mean``, ``<metric>_low``,
            ``<metric>_high`` for each panel's metric.
        field: The varied column on the x axis (numbers, or names shown as categories).
        field_label: Its axis label, unit in parentheses.
        series: The column that splits points into lines, or None for a single line.
        panels: (metric, y label with unit, scale) per panel; values are multiplied by scale.
        slo_target_s: Drawn as a dotted line on a ``latency_*_s`` panel (s).

    """
    fig, axes = new_figure(len(panels), size=(WIDE[0] + 1.5, WIDE[1]))
    numeric = pd.api.types.is_numeric_dtype(points[field]) and not pd.api.types.is_bool_dtype(
        points[field]
    )
    if not numeric:
        categories = list(dict.fromkeys(points[field].astype(str)))
    groups = list(points.groupby(series, sort=False)) if series else [("", points)]
    lines = all(g[field].is_unique for _, g in groups)  # else: points only, no lines
    for ax, (metric, ylabel, scale) in zip(axes, panels, strict=True):
        for k, (name, group) in enumerate(groups):
            group = group.sort_values(field) if numeric else group
            x = (
                group[field].to_numpy()
                if numeric
                else [categories.index(str(v)) for v in group[field]]
            )
            mean = group[f"{metric}_mean"].to_numpy(dtype=float) * scale
            low = group[f"{metric}_low"].to_numpy(dtype=float) * scale
            high = group[f"{metric}_high"].to_numpy(dtype=float) * scale
            error = np.vstack([mean - low, high - mean])
            error = np.where(np.isfinite(error), error, 0.0)
            ax.errorbar(
                x,
                mean,
                yerr=error,
                marker="o",
                capsize=3,
                color=f"C{k % 10}",
                linestyle="-" if lines else "none",
                label=str(name) if series else None,
            )
        if numeric:
            values = np.unique(points[field].to_numpy(dtype=float))
            if values.size <= 12:
                ax.set_xticks(values, [f"{v:g}" for v in values])
            else:
                ax.xaxis.set_major_locator(MaxNLocator(integer=bool(np.all(values % 1 == 0))))
        else:
            ax.set_xticks(
                range(len(categories)),
                categories,
                fontsize="small",
                rotation=20 if len(categories) > 4 else 0,
            )
        if slo_target_s is not None and metric.startswith("latency_"):
            ax.axhline(slo_target_s * scale, color="grey", linestyle=":", label="SLO target")
        shown = points[f"{metric}_mean"].to_numpy(dtype=float) * scale
        shown = shown[np.isfinite(shown) & (shown > 0)]
        if metric.startswith("latency_") and shown.size and shown.max() / shown.min() > 10:
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ylabel = ylabel.replace(")", ", log scale)")
        short = ylabel.split(" (")[0]
        name = field_label.split(" (")[0].rsplit(".", 1)[-1]
        ax.set(title=f"{short} vs {name}", xlabel=field_label, ylabel=ylabel)
        _legend(ax, len(groups) + (slo_target_s is not None and metric.startswith("latency_")))
    return fig
