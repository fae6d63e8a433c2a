"""The unit of work of a sweep: one replication of one point, run where a worker is.

``run_task`` is what Dask workers (or ``--serial``) call. It is ``sim.run`` into the
replication's directory, which appears complete or not at all; a replication already
complete is skipped, and one being written by a live process (a worker of a killed client,
still finishing) is waited for, so every replication is run to completion exactly once
however the sweep was interrupted.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.sweeps import RUN_SUMMARY, failure_file, replication_dir
from sim.engine.output import OutputBusyError, write_json

BUSY_POLL_S = 0.2  # how often to look again at a replication another process is writing


@dataclass(frozen=True, slots=True)
class Task:
    """One replication of one point.

    Attributes:
        sweep_dir: The sweep's output directory (absolute; visible to the worker).
        point_id: The point's hash.
        replication: Its replication number.
        scenario_text: The point's resolved scenario (``scenario.yaml``).
        trace: ``full``, ``sample`` or ``summary``.
        sample_fraction: Kept by ``sample``, in (0, 1].
        force: Run it even if already complete (replacing the result).

    """

    sweep_dir: str
    point_id: str
    replication: int
    scenario_text: str
    trace: str
    sample_fraction: float
    force: bool = False

    @property
    def key(self) -> str:
        """A name for the task, unique in the sweep (the Dask key)."""
        return f"fleetsim-{self.point_id}-{self.replication}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a task ended.

    Attributes:
        point_id: The point's hash.
        replication: Its replication number.
        status: ``ok`` (run now), ``skipped`` (already complete) or ``failed``.
        error: One line saying why it failed (None unless failed).
        wall_s: Time the task took (s).

    """

    point_id: str
    replication: int
    status: str
    error: str | None = None
    wall_s: float = 0.0


def trace_matches(summary: dict[str, Any], trace: str, sample_fraction: float) -> bool:
    """True if a run's summary was written with the trace mode asked for now."""
    mode = summary.get("trace", {})
    if mode.get("mode") != trace:
        return False
    return trace != "sample" or mode.get("fraction") == sample_fraction


def is_complete(task: Task) -> bool:
    """True if the task's replication is published with the trace mode it asks for."""
    summary_path = replication_dir(task.sweep_dir, task.point_id, task.replication) / RUN_SUMMARY
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and trace_matches(summary, task.trace, task.sample_fraction)


def run_task(task: Task) -> Outcome:
    """Run one replication of a point into its directory; never raises for a failed run.

    A run that raises is recorded in the point's ``_failed-replication=<r>.json`` (error and
    traceback) and returned as ``failed``; a later successful run removes the record.
    """
    from sim.engine.api import run  # here: a worker imports the engine on its first task
    from sim.scenario.loading import parse_scenario

    start = time.perf_counter()
    target = replication_dir(task.sweep_dir, task.point_id, task.replication)
    force = task.force
    while True:
        if not force and is_complete(task):
            return Outcome(task.point_id, task.replication, "skipped")
        try:
            scenario = parse_scenario(
                task.scenario_text, source=str(target.parent / "scenario.yaml")
            )
            run(
                scenario,
                target,
                replication=task.replication,
                trace=task.trace,
                sample_fraction=task.sample_fraction,
                force=target.exists(),  # an incomplete or outdated result is replaced
                max_memory=_worker_memory(),
                source_text=task.scenario_text,
            )
        except OutputBusyError:
            time.sleep(BUSY_POLL_S)  # another process is writing it: wait, then look again
            force = False  # whatever it publishes is this very point and replication
            continue
        except Exception as exc:  # recorded, and the sweep goes on with the other points
            error = one_line(exc)
            record_failure(task, error, traceback.format_exc())
            return Outcome(
                task.point_id, task.replication, "failed", error, time.perf_counter() - start
            )
        failure_file(task.sweep_dir, task.point_id, task.replication).unlink(missing_ok=True)
        return Outcome(task.point_id, task.replication, "ok", None, time.perf_counter() - start)


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type (unless a fleetsim refusal) and message."""
    message = " ".join(str(exc).split())
    name = type(exc).__name__
    if name in ("ScenarioError", "RunRefused", "EngineUnavailable"):
        return message
    return f"{name}: {message}" if message else name


def record_failure(task: Task, error: str, details: str = "") -> None:
    """Write the failure record of a replication (atomically)."""
    path = failure_file(task.sweep_dir, task.point_id, task.replication)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(
        path,
        {
            "point_id": task.point_id,
            "replication": task.replication,
            "error": error,
            "details": details,
        },
    )


def _worker_memory() -> str | None:
    """The memory limit of the Dask worker running this task ("1234B"), if any."""
    if "distributed" not in sys.modules:
        return None
    from distributed import get_worker

    try:
        limit = get_worker().memory_manager.memory_limit
    except (ValueError, AttributeError):  # not in a worker (the client, or --serial)
        return None
    return f"{int(limit)}B" if limit else None


def read_failure(path: Path) -> str:
    """The one-line error of a failure record."""
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("error", "failed"))
    except (OSError, ValueError):
        return "failed (its record cannot be read)"
