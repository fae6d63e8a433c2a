"""Where a sweep's tasks run: in this process (``--serial``) or on Dask distributed.

Dask is the default: an embedded ``LocalCluster`` with one single-threaded worker process
per core, or an existing cluster (``--scheduler tcp://HOST:PORT``). Either way each task is
``sim.sweep.tasks.run_task``, which writes its results where every worker can see them.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from distributed.diagnostics.plugin import WorkerPlugin

from sim import __version__
from sim.sweep.tasks import Outcome, Task, one_line, record_failure, run_task

if TYPE_CHECKING:
    from distributed import LocalCluster, Worker


# Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers so that memory goes back to
# the OS at once; setting it at all turns off glibc's adaptive mmap threshold, so each run's
# large arrays are mapped and faulted in afresh: measured +0.7 s on a 2 s point (a third
# slower). Runs free everything when they end, so glibc's defaults lose nothing. The
# profiler samples the task's stack every 10 ms, for a dashboard page a sweep rarely needs.
LOCAL_WORKER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}


class ClusterError(Exception):
    """The cluster cannot be reached or cannot run the sweep; the message says why."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity; at least 1)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return max(os.cpu_count() or 1, 1)


class SerialExecutor(AbstractContextManager["SerialExecutor"]):
    """Runs the tasks one after another in this process: for debugging (``--serial``)."""

    description = "in this process (--serial)"
    dashboard: str | None = None
    slots = 1

    def run(self, tasks: list[Task]) -> Iterator[Outcome]:
        """Run each task; yield its outcome as it ends."""
        for task in tasks:
            yield run_task(task)

    def __exit__(self, *exc: object) -> None:
        return None


class DaskExecutor(AbstractContextManager["DaskExecutor"]):
    """Runs the tasks on Dask distributed: an embedded local cluster, or ``scheduler``.

    Args:
        sweep_dir: The sweep's output directory (checked to be visible to the workers).
        scheduler: Address of an existing scheduler (``tcp://HOST:PORT``); None starts a
            ``LocalCluster``.
        workers: Worker processes of the local cluster (default: one per core).

    Raises:
        ClusterError: the scheduler cannot be reached, it has no workers, or its workers
            cannot import this fleetsim or cannot see ``sweep_dir``.

    """

    def __init__(self, sweep_dir: Path, scheduler: str | None, workers: int | None) -> None:
        import dask
        from dask.distributed import Client

        self.cluster = None
        try:
            if scheduler is None:
                count = workers or available_cores()
                with dask.config.set(LOCAL_WORKER_CONFIG):
                    self.cluster = _local_cluster(count)
                self.client = Client(self.cluster)
                self.client.register_plugin(_IgnoreInterrupts())
                self.description = f"a local Dask cluster of {count} worker processes"
            else:
                self.client = Client(scheduler, timeout="10s")
                self.description = f"the Dask cluster at {scheduler}"
        except (OSError, TimeoutError, ValueError) as exc:
            self.close()
            raise ClusterError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        try:
            self.dashboard = self.client.dashboard_link
            self.slots = self._check_workers(sweep_dir, scheduler)
        except BaseException:
            self.close()
            raise

    def _check_workers(self, sweep_dir: Path, scheduler: str | None) -> int:
        """Check the workers run this fleetsim and see ``sweep_dir``; return their threads."""
        if scheduler is not None:
            try:
                self.client.wait_for_workers(1, timeout=30)
            except TimeoutError:
                raise ClusterError(
                    f"the Dask scheduler at {scheduler} has no workers (start one with "
                    f"`dask worker {scheduler}`)"
                ) from None
        probe = sweep_dir / f".fleetsim-probe-{secrets.token_hex(6)}"
        probe.touch()
        try:
            answers = self.client.run(_worker_facts, str(probe))
        except Exception as exc:  # a worker without fleetsim cannot unpickle the function
            raise ClusterError(f"the Dask workers cannot run fleetsim: {one_line(exc)}") from None
        finally:
            probe.unlink(missing_ok=True)
        for address, (version, sees) in answers.items():
            if version != __version__:
                raise ClusterError(
                    f"the Dask worker {address} runs fleetsim {version}, this is "
                    f"{__version__}: install the same version on the workers"
                )
            if not sees:
                raise ClusterError(
                    f"the Dask worker {address} cannot see {sweep_dir}: the output directory "
                    "must be on a file system every worker mounts at the same path"
                )
        info = self.client.scheduler_info()
        return max(sum(w.get("nthreads", 1) for w in info["workers"].values()), 1)

    def run(self, tasks: list[Task]) -> Iterator[Outcome]:
        """Submit every task; yield each outcome as it ends, in completion order.

        A task whose worker died too often (Dask retries it elsewhere first) comes back
        ``failed`` with the reason, recorded like any failed run.
        """
        from dask.distributed import as_completed

        futures = self.client.map(run_task, tasks, key=[t.key for t in tasks], pure=False)
        by_key = {t.key: t for t in tasks}
        try:
            for future in as_completed(futures):
                task = by_key[future.key]
                try:
                    yield future.result()
                except Exception as exc:  # the worker died or the task could not be run
                    error = f"the Dask task failed: {one_line(exc)}"
                    record_failure(task, error)
                    yield Outcome(task.point_id, task.replication, "failed", error)
        finally:
            self.client.cancel(futures)

    def close(self) -> None:
        """Close the client and the local cluster (its worker processes stop)."""
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _IgnoreInterrupts(WorkerPlugin):
    """A worker plugin: local workers ignore Ctrl-C, which the client handles for them.

    A terminal's Ctrl-C reaches every process of the group; without this each local worker
    would print a KeyboardInterrupt traceback while the client shuts the cluster down.
    Workers started after a crash get it too (Dask registers plugins on new workers).
    """

    name = "fleetsim-ignore-interrupts"

    def setup(self, worker: Worker) -> None:
        """Ignore SIGINT in this worker process (it runs in the process's main thread)."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _local_cluster(count: int) -> LocalCluster:
    """A local cluster of ``count`` single-threaded worker processes, logs silenced."""
    from dask.distributed import LocalCluster

    return LocalCluster(
        n_workers=count,
        threads_per_worker=1,
        processes=True,
        silence_logs=logging.CRITICAL,  # worker shutdown chatter; task errors are ours
        dashboard_address=":8787",  # the next free port if taken
    )


def _worker_facts(probe: str) -> tuple[str, bool]:
    """On a worker: its fleetsim version, and whether it sees the probe file."""
    from sim import __version__ as version

    return version, Path(probe).exists()


def executor(
    sweep_dir: Path, *, serial: bool, scheduler: str | None, workers: int | None
) -> SerialExecutor | DaskExecutor:
    """The executor the options ask for."""
    if serial:
        return SerialExecutor()
    return DaskExecutor(sweep_dir, scheduler, workers)
