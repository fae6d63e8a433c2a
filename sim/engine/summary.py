"""The summary of a run: what ``summary.json`` holds, assembled in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import analysis
from sim import __version__
from sim.engine.runner import RunStats
from sim.scenario.schema import Scenario


def run_summary(
    scenario: Scenario, stats: RunStats, progress: Callable[[float], None] | None = None
) -> dict[str, Any]:
    """The run's facts and metrics: the dict ``fleetsim run`` writes to ``summary.json``.

    The metrics are those the run computed from every request as it went: with a full trace
    they are, bit for bit, what ``analysis.summarize_trace`` recomputes from the file (the
    writer feeds the same arrays in the same row groups), without reading it back.

    Args:
        scenario: The scenario that ran (after overrides).
        stats: What ``sim.engine.runner.simulate`` returned.
        progress: Called with the fraction of the summary pass done (0..1): only a
            RunStats without metrics needs one (the trace is read back).

    """
    if stats.metrics is None:
        info = analysis.run_info(stats.trace_path)
        metrics = analysis.summarize_trace(stats.trace_path, progress)
    else:  # accumulated as the trace was written: nothing left to read
        info, metrics = stats.info, stats.metrics
        if progress is not None:
            progress(1.0)
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "duration_s": scenario.duration,
        "warmup_s": scenario.warmup,
        "fleetsim_version": __version__,
        "hardware_model_version": info["hardware_model_version"],
        "engine": str(stats.engine),
        "engine_reason": stats.engine_reason,
        # the staging table is for the trace's readers (analysis.pool_usage), not a headline
        "pools": [{k: v for k, v in p.items() if k != "staged_share"} for p in info["pools"]],
        "trace": info["trace"],
        **metrics,
        "wall_s": stats.wall_s,
    }
