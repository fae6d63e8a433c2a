"""Sweeps that run: the dataset they write, resuming, failures, and the same results
however and wherever they run (serially, on a local Dask cluster, on a scheduler).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pytest
import yaml
from helpers import BASE_SCENARIO
from typer.testing import CliRunner

import analysis
from analysis.sweeps import load_sweep, replication_dir
from sim.cli.commands import app
from sim.engine.locks import FileLock
from sim.sweep import run_sweep

VOLATILE = ["wall_s"]  # the only column that may differ between two runs of a sweep


def write_sweep(directory: Path, sweep: dict, base: dict | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "base.yaml").write_text(yaml.safe_dump(base or BASE_SCENARIO, sort_keys=False))
    path = directory / "sweep.yaml"
    body = {"name": "s", "base": "base.yaml", **sweep}
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def comparable(sweep_dir: Path) -> pd.DataFrame:
    """summary.parquet without its wall times, in a fixed row order."""
    df = load_sweep(sweep_dir).drop(columns=VOLATILE)
    return df.sort_values(["point_id", "replication"]).reset_index(drop=True)


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


SMALL = {
    "replications": 2,
    "axes": [{"grid": {"fleet.0.count": [1, 2], "fleet.0.batching.max_batch": [1, 4]}}],
    "trace": "full",
}


def test_a_serial_sweep_writes_a_hive_dataset(tmp_path):
    """summary.parquet has a row per (point, replication) equal to its summary.json; the
    traces read as one Hive-partitioned dataset with pyarrow and analysis.load_trace."""
    path = write_sweep(tmp_path, SMALL)
    result = run_sweep(path, tmp_path / "out", serial=True)
    assert result.count("ok") == 8 and not result.failed
    df = load_sweep(tmp_path / "out")
    assert list(df.columns[:4]) == [
        "point_id", "replication", "fleet.0.count", "fleet.0.batching.max_batch"
    ]  # fmt: skip
    assert list(df.columns[-2:]) == ["status", "error"]
    assert len(df) == 8 and set(df["status"]) == {"ok"}
    assert df["fleet.0.count"].dtype == "int64"
    for _, row in df.iterrows():
        run_dir = replication_dir(tmp_path / "out", row["point_id"], row["replication"])
        summary = json.loads((run_dir / "summary.json").read_text())
        assert row["latency_p99_s"] == summary["latency_p99_s"]
        assert row["pools.bert.count"] == summary["pools"][0]["count"] == row["fleet.0.count"]
        assert row["utilisation.bert"] == summary["utilisation"]["bert"]
        assert row["trace.mode"] == "full"
    points = tmp_path / "out" / "points"
    assert len(list(points.glob("point_id=*/scenario.yaml"))) == 4
    traces = sorted(str(p) for p in points.glob("*/*/requests.parquet"))
    table = ds.dataset(traces, format="parquet", partitioning=ds.partitioning(flavor="hive"),
                       partition_base_dir=str(points)).to_table()  # fmt: skip
    assert {"point_id", "replication"} <= set(table.column_names)
    traces = analysis.load_trace(tmp_path / "out")
    assert list(traces.columns[:2]) == ["point_id", "replication"]
    assert traces.groupby(["point_id", "replication"], observed=True).ngroups == 8
    assert len(traces) == table.num_rows


def test_rerunning_skips_what_is_complete_and_edits_reuse_points(tmp_path):
    """The same sweep again runs nothing; a new axis value runs one new point; more
    replications run only the new ones; --force runs everything again."""
    path = write_sweep(tmp_path, {**SMALL, "trace": "summary"})
    out = tmp_path / "out"
    first = run_sweep(path, out, serial=True)
    before = comparable(out)
    again = run_sweep(path, out, serial=True)
    assert again.count("skipped") == 8 and again.count("ok") == 0
    pd.testing.assert_frame_equal(comparable(out), before)
    edited = copy.deepcopy(SMALL)
    edited["axes"][0]["grid"]["fleet.0.count"] = [1, 2, 3]
    edited |= {"replications": 3, "trace": "summary"}
    path.write_text(yaml.safe_dump({"name": "s", "base": "base.yaml", **edited}))
    third = run_sweep(path, out, serial=True)
    assert third.count("skipped") == 8  # the 4 old points' replications 0 and 1
    assert third.count("ok") == 2 * 3 + 4  # 2 new points x 3, and replication 2 of the old
    old = comparable(out)
    old = old[old["point_id"].isin(set(before["point_id"])) & (old["replication"] < 2)]
    pd.testing.assert_frame_equal(old.reset_index(drop=True)[before.columns], before)
    forced = run_sweep(path, out, serial=True, force=True)
    assert forced.count("ok") == 18
    assert first.points[0].point_id in set(load_sweep(out)["point_id"])


def test_replication_r_of_every_point_shares_its_arrivals(tmp_path):
    """Common random numbers: replication r has the same arrivals at every point; two
    replications differ."""
    path = write_sweep(tmp_path, SMALL)
    run_sweep(path, tmp_path / "out", serial=True)
    traces = analysis.load_trace(tmp_path / "out", columns=["arrival_s"])
    by_run = {
        key: group["arrival_s"].sort_values().to_numpy()
        for key, group in traces.groupby(["point_id", "replication"], observed=True)
    }
    for r in (0, 1):
        runs = [v for (p, rep), v in by_run.items() if rep == r]
        assert all((v == runs[0]).all() for v in runs)
    zeros = next(v for (p, r), v in by_run.items() if r == 0)
    ones = next(v for (p, r), v in by_run.items() if r == 1)
    assert len(zeros) != len(ones) or not (zeros == ones).all()


def test_a_point_that_fails_is_recorded_and_the_others_go_on(tmp_path, monkeypatch):
    """A run that raises: status failed with its error, exit 1, the others complete; the
    next run retries it and clears the record."""
    import sim.engine.api as api

    real_run = api.run

    def flaky(scenario, out, **kwargs):
        if scenario.fleet[0].count == 2 and kwargs["replication"] == 1:
            raise RuntimeError("the disk caught fire")
        return real_run(scenario, out, **kwargs)

    path = write_sweep(tmp_path, {**SMALL, "trace": "summary"})
    monkeypatch.setattr(api, "run", flaky)
    result = invoke("sweep", path, "--out", tmp_path / "out", "--serial")
    assert result.exit_code == 1
    assert "RuntimeError: the disk caught fire" in result.output
    df = load_sweep(tmp_path / "out")
    failed = df[df["status"] == "failed"]
    assert len(failed) == 2 and set(failed["replication"]) == {1}
    assert set(failed["fleet.0.count"]) == {2}
    assert set(failed["error"]) == {"RuntimeError: the disk caught fire"}
    assert failed["latency_p99_s"].isna().all()
    assert df["requests"].dtype == "Int64"
    assert (df["status"] == "ok").sum() == 6
    monkeypatch.setattr(api, "run", real_run)
    result = invoke("sweep", path, "--out", tmp_path / "out", "--serial")
    assert result.exit_code == 0, result.output
    assert set(load_sweep(tmp_path / "out")["status"]) == {"ok"}
    assert not list((tmp_path / "out").rglob("_failed-*"))


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        ({"axes": [{"grid": {"fleet.0.count": [1, 0]}}]},
         "point 2 of 2 (axis 1 grid: fleet.0.count=0): fleet[0].count"),
        ({"axes": [{"grid": {"fleet.1.count": [1]}}]}, "fleet has 1 entry, so no index 1"),
        ({"replications": "two"}, "replications"),
    ],
)  # fmt: skip
def test_a_bad_sweep_is_exit_2_and_writes_nothing(tmp_path, sweep, expected):
    """One clear error naming the axis, the point and the field; no output directory."""
    path = write_sweep(tmp_path, sweep)
    result = invoke("sweep", path, "--out", tmp_path / "out", "--serial")
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_the_output_must_be_a_sweep_directory_and_not_busy(tmp_path):
    """A foreign non-empty directory is refused; so is one another sweep is writing."""
    path = write_sweep(tmp_path, {"trace": "summary"})
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("...")
    result = invoke("sweep", path, "--out", foreign, "--serial")
    assert result.exit_code == 2 and "not a fleetsim sweep directory" in result.output
    out = tmp_path / "out"
    with FileLock(tmp_path / ".out.fleetsim-lock", "a test holding it"):
        result = invoke("sweep", path, "--out", out, "--serial")
    assert result.exit_code == 2 and "is being written by" in result.output
    result = invoke("sweep", path, "--out", out, "--scheduler", "tcp://x:1", "--workers", "2")
    assert result.exit_code == 2 and "drop --workers" in result.output


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path):
    """--scheduler at an address nobody listens on: exit 2, naming it."""
    path = write_sweep(tmp_path, {"trace": "summary"})
    started = time.monotonic()
    result = invoke("sweep", path, "--out", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:9")
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler tcp://127.0.0.1:9" in result.output
    assert time.monotonic() - started < 60


def test_a_sweep_whose_traces_would_not_fit_the_disk_is_refused(tmp_path, monkeypatch):
    """Traces estimated beyond the free disk: refused before anything runs."""
    import sim.sweep.runner as runner

    class Tiny:
        free = 1000

    monkeypatch.setattr(runner.shutil, "disk_usage", lambda path: Tiny)
    path = write_sweep(tmp_path, SMALL)
    result = invoke("sweep", path, "--out", tmp_path / "out", "--serial")
    assert result.exit_code == 2
    assert "use trace: summary" in result.output
    assert not list((tmp_path / "out").rglob("replication=*"))


def test_a_local_dask_cluster_gives_the_serial_results(tmp_path):
    """Two worker processes, completion in any order: the same summary.parquet values."""
    path = write_sweep(tmp_path, {**SMALL, "trace": "summary"})
    run_sweep(path, tmp_path / "serial", serial=True)
    result = run_sweep(path, tmp_path / "dask", workers=2)
    assert result.count("ok") == 8
    assert result.dashboard is not None and result.dashboard.startswith("http")
    pd.testing.assert_frame_equal(comparable(tmp_path / "dask"), comparable(tmp_path / "serial"))


def test_local_workers_keep_glibcs_adaptive_malloc_and_run_unprofiled(tmp_path):
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_ in its workers, which made every point a
    third slower (each run's arrays faulted in afresh); the local cluster unsets it."""
    from sim.sweep.executors import DaskExecutor

    with DaskExecutor(tmp_path, None, 1) as executor:
        facts = executor.client.run(
            lambda: (
                os.environ.get("MALLOC_TRIM_THRESHOLD_"),
                __import__("dask").config.get("distributed.worker.profile.enabled"),
            )
        )
    assert list(facts.values()) == [(None, False)]


def test_an_existing_scheduler_gives_the_serial_results(tmp_path):
    """`dask scheduler` and `dask worker` started here, --scheduler ADDRESS: same values."""
    path = write_sweep(tmp_path, {**SMALL, "trace": "summary"})
    run_sweep(path, tmp_path / "serial", serial=True)
    dask = Path(sys.executable).with_name("dask")
    info = tmp_path / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--scheduler-file", info, "--port", "0", "--no-dashboard"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        worker = subprocess.Popen(
            [dask, "worker", address, "--nthreads", "1", "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        result = invoke("sweep", path, "--out", tmp_path / "remote", "--scheduler", address)
        assert result.exit_code == 0, result.output
        assert f"the Dask cluster at {address}" in result.output
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    pd.testing.assert_frame_equal(comparable(tmp_path / "remote"), comparable(tmp_path / "serial"))


def test_a_scheduler_without_workers_is_one_clear_error(tmp_path, monkeypatch):
    """Nobody to run the points: the message says how to start a worker."""
    from sim.sweep import executors

    class NoWorkers:
        def __init__(self, *args, **kwargs):
            self.dashboard_link = None

        def wait_for_workers(self, n, timeout):
            raise TimeoutError

        def close(self):
            pass

    monkeypatch.setattr("dask.distributed.Client", NoWorkers)
    with pytest.raises(executors.ClusterError, match="has no workers .*`dask worker tcp://h:1`"):
        executors.DaskExecutor(tmp_path, "tcp://h:1", None)
    assert not list(tmp_path.iterdir())


def test_a_lock_left_by_a_worker_killed_after_publishing_is_removed(tmp_path, monkeypatch):
    """A worker killed between publishing a replication and unlinking its output lock leaves
    an abandoned lock file; the sweep removes it when its tasks end, the same run."""
    import sim.engine.api as api

    real_run = api.run

    def killed_after_publishing(scenario, out, **kwargs):
        result = real_run(scenario, out, **kwargs)
        out = Path(out)
        out.with_name(f".{out.name}.fleetsim-lock").write_text("{}")  # held by nobody
        return result

    path = write_sweep(tmp_path, {**SMALL, "trace": "summary"})
    monkeypatch.setattr(api, "run", killed_after_publishing)
    result = invoke("sweep", path, "--out", tmp_path / "out", "--serial")
    assert result.exit_code == 0, result.output
    assert not list((tmp_path / "out").rglob("*.fleetsim-lock"))
