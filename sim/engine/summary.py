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

    Metrics come from the full trace (``analysis.summarize_trace``), so they are the numbers
    any user recomputes from it; without one (``--trace summary`` or ``sample``) they are
    the exact metrics the run computed from every request as it went.

    Args:
        scenario: The scenario that ran (after overrides).
        stats: What ``sim.engine.runner.simulate`` returned.
        progress: Called with the fraction of the summary pass done (0..1).

    """
    if stats.metrics is None:
        info = analysis.run_info(stats.trace_path)
        metrics = analysis.summarize_trace(stats.trace_path, progress)
    else:
        info, metrics = stats.info, stats.metrics
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "duration_s": scenario.duration,
        "warmup_s": scenario.warmup,
        "fleetsim_version": __version__,
        "hardware_model_version": info["hardware_model_version"],
        "engine": str(stats.engine),
        "engine_reason": stats.engine_reason,
        "pools": info["pools"],
        "trace": info["trace"],
        **metrics,
        "wall_s": stats.wall_s,
    }
