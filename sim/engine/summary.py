"""The summary of a run: what ``summary.json`` holds, assembled in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import analysis
from sim import __version__
from sim.engine.runner import RunStats
from sim.scenario.schema import Scenario


def run_summary(scenario: Scenario, trace_path: str | Path, stats: RunStats) -> dict[str, Any]:
    """The run's facts and metrics: the dict ``fleetsim run`` writes to ``summary.json``.

    Metrics come from the trace (``analysis.summarize_trace``), so they are the numbers any
    user recomputes from it; the run facts say what ran and how.

    Args:
        scenario: The scenario that ran (after overrides).
        trace_path: Its trace.
        stats: What ``sim.engine.runner.simulate`` returned.

    """
    info = analysis.run_info(trace_path)
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
        **analysis.summarize_trace(trace_path),
        "wall_s": stats.wall_s,
    }
