"""A sweep killed at any moment and run again ends with every replication present exactly
once, no partial file, and results identical to a sweep never interrupted.

Each test starts ``fleetsim sweep`` as a process of its own, interrupts it part-way (SIGKILL
of the client, SIGKILL of a worker process, Ctrl-C to the whole process group), runs it
again, and compares the dataset with an uninterrupted run's, file by file.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from helpers import BASE_SCENARIO

from analysis.sweeps import load_sweep
from sim.engine.engines import kernel_built

POINTS = 8
BASE = copy.deepcopy(BASE_SCENARIO)
BASE["duration"] = "30s"
# about a second a point: ~600,000 requests on the compiled kernel, 45,000 on the SimPy engine
BASE["workload"]["arrivals"]["rate"] = 20000 if kernel_built() else 1500
SWEEP = {
    "name": "killed",
    "base": "base.yaml",
    "replications": 1,
    "axes": [{"grid": {"fleet.0.count": list(range(9, 9 + POINTS))}}],
    "trace": "full",
}


def sweep_command(directory: Path, out: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "sim", "sweep", str(directory / "sweep.yaml"),
            "--out", str(out), "--quiet", *options]  # fmt: skip


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("sweep")
    (directory / "base.yaml").write_text(yaml.safe_dump(BASE, sort_keys=False))
    (directory / "sweep.yaml").write_text(yaml.safe_dump(SWEEP, sort_keys=False))
    return directory


@pytest.fixture(scope="module")
def reference(sweep_dir) -> Path:
    """The same sweep, never interrupted (in this process, serially)."""
    out = sweep_dir / "reference"
    done = subprocess.run(sweep_command(sweep_dir, out, "--serial"), capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def complete_replications(out: Path) -> int:
    return len(list(out.glob("points/point_id=*/replication=*/summary.json")))


def wait_for(condition, process: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert process.poll() is None, "the sweep ended before it could be interrupted"
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.05)


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def worker_processes(pid: int) -> list[int]:
    """The Dask worker processes a local cluster started under ``pid``."""
    workers = []
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            workers.append(child)
    return workers


def assert_exactly_once_and_identical(out: Path, reference: Path) -> None:
    """Every replication once, nothing partial or hidden, the same values and traces."""
    leftovers = [p for p in out.rglob("*") if p.name.startswith((".", "_"))]
    assert not leftovers, leftovers
    runs = sorted(out.glob("points/point_id=*/replication=*"))
    assert len(runs) == POINTS
    for run in runs:
        assert sorted(p.name for p in run.iterdir()) == [
            "instances.parquet",
            "requests.parquet",
            "summary.json",
        ]
    got, want = load_sweep(out), load_sweep(reference)
    assert len(got) == POINTS and set(got["status"]) == {"ok"}
    key = ["point_id", "replication"]
    pd.testing.assert_frame_equal(
        got.drop(columns="wall_s").sort_values(key).reset_index(drop=True),
        want.drop(columns="wall_s").sort_values(key).reset_index(drop=True),
    )
    for run in runs:
        twin = reference / run.relative_to(out)
        got_trace = pq.read_table(run / "requests.parquet").to_pandas()
        want_trace = pq.read_table(twin / "requests.parquet").to_pandas()
        assert got_trace.equals(want_trace), run  # exact; NaN (never started) equals NaN


def finish(sweep_dir: Path, out: Path) -> None:
    done = subprocess.run(sweep_command(sweep_dir, out, "--workers", "2"),
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_sigkill_of_the_client_then_rerun(sweep_dir, reference):
    """The client killed outright (its workers are orphaned and stop); the re-run finishes
    the rest and the dataset is as if it had never been killed."""
    out = sweep_dir / "client-killed"
    process = subprocess.Popen(sweep_command(sweep_dir, out, "--workers", "2"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    wait_for(lambda: complete_replications(out) >= 2, process)
    process.kill()
    process.wait(timeout=60)
    assert complete_replications(out) < POINTS, "killed too late to test anything"
    finish(sweep_dir, out)
    assert_exactly_once_and_identical(out, reference)


def test_sigkill_of_a_worker_mid_sweep(sweep_dir, reference):
    """A worker process killed while running a point: Dask runs it again elsewhere, the
    sweep ends normally, and nothing of the killed attempt remains."""
    out = sweep_dir / "worker-killed"
    process = subprocess.Popen(sweep_command(sweep_dir, out, "--workers", "2"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True, text=True)  # fmt: skip
    wait_for(lambda: complete_replications(out) >= 1 and worker_processes(process.pid), process)
    staging = list(out.glob("points/*/.fleetsim-staging-*"))
    os.kill(worker_processes(process.pid)[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    assert staging or complete_replications(out) == POINTS
    assert_exactly_once_and_identical(out, reference)


def test_ctrl_c_then_rerun(sweep_dir, reference):
    """Ctrl-C (SIGINT to the process group): exit 130 with one line, no traceback from
    the client or its workers; the re-run completes it."""
    out = sweep_dir / "interrupted"
    process = subprocess.Popen(sweep_command(sweep_dir, out, "--workers", "2"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True, text=True)  # fmt: skip
    wait_for(lambda: complete_replications(out) >= 1, process)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "run the same command again" in stderr
    partial = load_sweep(out)
    assert 1 <= len(partial) < POINTS and set(partial["status"]) == {"ok"}
    finish(sweep_dir, out)
    assert_exactly_once_and_identical(out, reference)
