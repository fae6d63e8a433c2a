"""Running a sweep: every point validated first, then the unfinished ones dispatched.

::

    from sim.sweep import run_sweep
    result = run_sweep("sweeps/search.yaml", workers=2)
    print(result.summary_path, result.failed)

``SweepSession`` is the machinery underneath, shared with ``fleetsim plan``: it owns the
output directory (locked: two sweeps never write one directory at once) and the cluster,
and runs lists of points on it, skipping replications already complete.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from analysis.sweeps import POINTS, is_sweep_dir, point_dir
from sim.engine.estimate import RunRefused, estimate_run
from sim.engine.locks import FileLock, LockHeld
from sim.engine.output import OutputBusyError, OutputExistsError, remove_stale_staging
from sim.engine.trace_writer import TraceMode
from sim.scenario.loading import read_scenario_text
from sim.sweep.dataset import summary_rows, write_manifest, write_point_scenarios, write_summary
from sim.sweep.executors import DaskExecutor, SerialExecutor, executor
from sim.sweep.points import Point, build_points
from sim.sweep.spec import SweepSpec, parse_sweep_spec
from sim.sweep.tasks import Outcome, Task, is_complete


@dataclass(frozen=True, slots=True)
class SweepProgress:
    """Where a sweep is, for a progress display.

    Attributes:
        total: Replications in the sweep (points x replications).
        done: Complete, whether run now or found complete.
        failed: Failed in this run.
        running: Being run now (at most one per worker thread).
        elapsed_s: Time since the first task was dispatched (s).
        eta_s: Expected time to the end (s), from the pace so far; None before any ends.

    """

    total: int
    done: int
    failed: int
    running: int
    elapsed_s: float
    eta_s: float | None


@dataclass
class SweepResult:
    """What a sweep did.

    Attributes:
        out_dir: The sweep directory.
        summary_path: Its ``summary.parquet``.
        points: The sweep's points.
        outcomes: How each replication ended in this run, by (point_id, replication):
            ``ok`` (run now), ``skipped`` (found complete) or ``failed``.
        executor: Where the tasks ran (for display).
        dashboard: The Dask dashboard's address (None in serial).
        wall_s: Time the sweep took (s).

    """

    out_dir: Path
    summary_path: Path | None
    points: list[Point]
    outcomes: dict[tuple[str, int], Outcome] = field(default_factory=dict)
    executor: str = ""
    dashboard: str | None = None
    wall_s: float = 0.0

    @property
    def failed(self) -> list[Outcome]:
        """The replications that failed."""
        return [o for o in self.outcomes.values() if o.status == "failed"]

    def count(self, status: str) -> int:
        """Replications that ended with ``status``."""
        return sum(o.status == status for o in self.outcomes.values())


class SweepSession:
    """A sweep directory, locked, and the executor that runs tasks into it.

    Args:
        out_dir: The sweep directory (created if missing; an existing directory must be a
            sweep directory or empty).
        serial: Run in this process instead of on Dask.
        scheduler: An existing Dask scheduler's address (None: an embedded local cluster).
        workers: Worker processes of the local cluster (default: one per core).
        force: Run every replication again, even if complete.
        progress: Called with a ``SweepProgress`` as tasks start and end.
        on_start: Called with (where the tasks run, dashboard address) once the cluster is up.

    Raises:
        OutputExistsError: ``out_dir`` is a file, or a directory holding something else.
        OutputBusyError: another sweep or run is writing ``out_dir``.
        ClusterError: the Dask cluster cannot be used.

    """

    def __init__(
        self,
        out_dir: str | Path,
        *,
        serial: bool = False,
        scheduler: str | None = None,
        workers: int | None = None,
        force: bool = False,
        progress: Callable[[SweepProgress], None] | None = None,
        on_start: Callable[[str, str | None], None] | None = None,
    ) -> None:
        self.out_dir = Path(out_dir).resolve()
        self.serial, self.scheduler, self.workers = serial, scheduler, workers
        self.force = force
        self.progress = progress
        self.on_start = on_start
        self.executor: SerialExecutor | DaskExecutor | None = None
        self._lock: FileLock | None = None

    def __enter__(self) -> SweepSession:
        _check_sweep_dir(self.out_dir)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock = FileLock(
                self.out_dir.with_name(f".{self.out_dir.name}.fleetsim-lock"),
                f"sweeping into {self.out_dir}",
            ).acquire()
        except LockHeld as exc:
            raise OutputBusyError(
                f"{self.out_dir} is being written by {exc}; wait for it to finish or choose "
                "another --out"
            ) from None
        try:
            _check_sweep_dir(self.out_dir)  # unchanged while we waited for the lock?
            (self.out_dir / POINTS).mkdir(parents=True, exist_ok=True)
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.executor is not None:
                self.executor.__exit__(exc_type, exc, tb)
        finally:
            if self._lock is not None:
                self._lock.release()

    def start(self) -> SerialExecutor | DaskExecutor:
        """The executor, started on first use: a sweep with nothing left starts no cluster."""
        if self.executor is None:
            self.executor = executor(
                self.out_dir, serial=self.serial, scheduler=self.scheduler, workers=self.workers
            )
            if self.on_start is not None:
                self.on_start(self.executor.description, self.executor.dashboard)
        return self.executor

    def tasks(
        self, points: list[Point], replications: int, trace: str, sample_fraction: float
    ) -> list[Task]:
        """The tasks of ``points``: each replication of each point."""
        return [
            Task(
                str(self.out_dir),
                point.point_id,
                replication,
                point.text,
                trace,
                sample_fraction,
                self.force,
            )
            for point in points
            for replication in range(replications)
        ]

    def run(self, points: list[Point], tasks: list[Task]) -> dict[tuple[str, int], Outcome]:
        """Run the tasks not complete yet; return every task's outcome.

        Raises:
            RunRefused: the traces the unfinished tasks would write do not fit the disk.

        """
        assert self._lock is not None, "use the session in a with block"
        for point in points:  # staging left by a killed run is never a result
            if point_dir(self.out_dir, point.point_id).is_dir():
                remove_stale_staging(point_dir(self.out_dir, point.point_id))
        write_point_scenarios(self.out_dir, points)
        outcomes: dict[tuple[str, int], Outcome] = {}
        pending = []
        for task in tasks:
            if not task.force and is_complete(task):
                outcomes[task.point_id, task.replication] = Outcome(
                    task.point_id, task.replication, "skipped"
                )
            else:
                pending.append(task)
        _check_disk(self.out_dir, points, pending)
        if not pending:
            return outcomes
        runner = self.start()
        start = time.monotonic()
        done, failed, ended = len(outcomes), 0, 0
        self._report(len(tasks), done, failed, len(pending), 0, start)
        for outcome in runner.run(pending):
            outcomes[outcome.point_id, outcome.replication] = outcome
            ended += 1
            failed += outcome.status == "failed"
            done += outcome.status != "failed"
            self._report(len(tasks), done, failed, len(pending) - ended, ended, start)
        for point in points:  # a worker killed after publishing, before unlinking its lock
            remove_stale_staging(point_dir(self.out_dir, point.point_id))
        return outcomes

    def _report(
        self, total: int, done: int, failed: int, left: int, ended: int, start: float
    ) -> None:
        """Tell the progress callback where the sweep is (``ended``: tasks run so far)."""
        if self.progress is None or self.executor is None:
            return
        elapsed = time.monotonic() - start
        eta = elapsed / ended * left if ended else None
        running = min(left, self.executor.slots)
        self.progress(SweepProgress(total, done, failed, running, elapsed, eta))


def run_sweep(
    sweep_file: str | Path,
    out: str | Path | None = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    force: bool = False,
    progress: Callable[[SweepProgress], None] | None = None,
    on_start: Callable[[str, str | None], None] | None = None,
    on_points: Callable[[SweepSpec, list[Point]], None] | None = None,
) -> SweepResult:
    """Run a sweep file: validate every point, run the unfinished ones, write the summary.

    Args:
        sweep_file: The sweep file (``sim.sweep.spec``).
        out: The sweep directory (default ``runs/sweeps/<name>``).
        scheduler: An existing Dask scheduler's address (default: an embedded local cluster).
        workers: Worker processes of the local cluster (default: one per core).
        serial: Run in this process (for debugging).
        force: Run every replication again.
        progress: Called with a ``SweepProgress`` as tasks end.
        on_start: Called with (where the tasks run, dashboard address).
        on_points: Called with the spec and its validated points before anything is written.

    Raises:
        ScenarioError: the sweep file, its base or a point is not valid (nothing written).
        OutputExistsError, OutputBusyError: ``out`` cannot be used.
        RunRefused: the sweep's traces would not fit the disk.
        ClusterError: the Dask cluster cannot be used.

    """
    started = time.monotonic()
    sweep_file = Path(sweep_file)
    text = read_scenario_text(sweep_file)
    spec = parse_sweep_spec(text, str(sweep_file))
    points = build_points(spec, sweep_file)
    if on_points is not None:
        on_points(spec, points)
    out_dir = Path(out) if out is not None else Path("runs") / "sweeps" / spec.name
    session = SweepSession(
        out_dir,
        serial=serial,
        scheduler=scheduler,
        workers=workers,
        force=force,
        progress=progress,
        on_start=on_start,
    )
    result = SweepResult(session.out_dir, None, points)
    with session:
        write_manifest(
            session.out_dir,
            name=spec.name,
            replications=spec.replications,
            trace=spec.trace,
            sample_fraction=spec.sample_fraction,
            varied=spec.varied(),
            points=points,
            source=text,
        )
        tasks = session.tasks(points, spec.replications, spec.trace, spec.sample_fraction)
        try:
            result.outcomes = session.run(points, tasks)
        finally:  # interrupted too: the summary holds what is complete
            rows = summary_rows(
                session.out_dir,
                [{"point_id": p.point_id, "settings": p.settings} for p in points],
                spec.replications,
            )
            result.summary_path = write_summary(session.out_dir, spec.varied(), rows)
            if session.executor is not None:
                result.executor = session.executor.description
                result.dashboard = session.executor.dashboard
    result.wall_s = time.monotonic() - started
    return result


def _check_sweep_dir(out_dir: Path) -> None:
    """Refuse an output that is a file, or a non-empty directory that is not a sweep's."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise OutputExistsError(f"{out_dir} exists and is not a directory; choose another --out")
    if not is_sweep_dir(out_dir) and any(
        not p.name.startswith(".fleetsim-probe-") for p in out_dir.iterdir()
    ):
        raise OutputExistsError(
            f"{out_dir} is not a fleetsim sweep directory (it has no sweep.json) and is not "
            "empty; choose another --out"
        )


def _check_disk(out_dir: Path, points: list[Point], pending: list[Task]) -> None:
    """Refuse a sweep whose unfinished replications' traces would not fit the disk."""
    if not pending or pending[0].trace == "summary":
        needed = 0.0
    else:
        by_id = {p.point_id: p for p in points}
        task = pending[0]
        mode = TraceMode(task.trace, 1.0 if task.trace == "full" else task.sample_fraction)  # type: ignore[arg-type]
        needed = math.fsum(
            estimate_run(by_id[t.point_id].scenario, trace=mode).trace_bytes for t in pending
        )
    free = shutil.disk_usage(out_dir).free
    if needed > 0.95 * free:
        raise RunRefused(
            f"the sweep's traces would take about {needed / 1e9:.1f} GB and only "
            f"{free / 1e9:.1f} GB is free for {out_dir}; use trace: summary (no per-request "
            "files) or trace: sample"
        )
