"""End-to-end runs: trace shape, conservation, determinism, streams, processes, the API."""

from __future__ import annotations

import dataclasses
import gc
import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from helpers import ENGINES, chunk, needs_kernel, one_pool_fleet

import analysis
import hardware
import sim
from analysis.pool_usage import staged_shares
from analysis.schema import COLUMNS
from sim.engine.engines import EngineUnavailable
from sim.engine.fleet import Fleet
from sim.engine.pool import Pool
from sim.engine.runner import drive, simulate
from sim.engine.trace_writer import RecordBuffer
from sim.policies.balancers import PowerOfTwo, RoundRobin
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import parse_scenario
from sim.streams import stream

SMALL = {
    "name": "small",
    "seed": 123,
    "duration": "3s",
    "warmup": "500ms",
    "workload": {
        "arrivals": {"kind": "poisson", "rate": 3000},
        "mix": [
            {"model": "bert-base", "weight": 3, "seq_len": {"kind": "choice", "values": [64, 128]}},
            {
                "model": "distilbert-base",
                "weight": 1,
                "seq_len": {"kind": "uniform", "low": 16, "high": 96},
            },
        ],
    },
    "fleet": [
        {
            "name": "bert",
            "instance": "inf2.xlarge",
            "count": 3,
            "model": "bert-base",
            "batching": {"max_batch": 4, "max_wait": "1ms"},
            "queue_limit": 50,
        },
        {
            "name": "distil",
            "instance": "inf1.xlarge",
            "count": 1,
            "model": "distilbert-base",
            "batching": {"max_batch": 2, "max_wait": "500us"},
            "queue_limit": 20,
        },
    ],
    "balancer": "power_of_two",
    "slo": {"percentile": 99, "target": "20ms"},
}


def scenario(**changes):
    data = {**SMALL, **changes}
    return parse_scenario(yaml.safe_dump(data))


def run_df(tmp_path, sc, name="t.parquet"):
    path = tmp_path / name
    simulate(sc, path)
    return analysis.load_trace(path).sort_values("request_id").reset_index(drop=True)


def test_trace_has_exactly_the_specified_columns(tmp_path):
    """One row per request with exactly the issue's columns, in order."""
    df = run_df(tmp_path, scenario())
    assert tuple(pq.read_schema(tmp_path / "t.parquet").names) == COLUMNS  # the file's own
    assert df.request_id.tolist() == list(range(len(df)))
    assert set(df.status.astype(str)) <= {"ok", "dropped", "in_flight"}


def test_conservation_and_causality(tmp_path):
    """Each request is counted once; arrival <= start <= finish; batches respect max_batch."""
    df = run_df(tmp_path, scenario())
    ok = df[df.status == "ok"]
    assert (ok.arrival_s <= ok.start_s).all() and (ok.start_s < ok.finish_s).all()
    assert np.allclose(ok.latency_s, ok.finish_s - ok.arrival_s)
    assert np.allclose(ok.latency_s, ok.queue_s + ok.service_s)
    limits = {"bert": 4, "distil": 2}
    for pool, group in ok.groupby("pool", observed=True):
        assert group.batch_size.between(1, limits[pool]).all()
        # a batch's rows share start and service; their count equals batch_size
        sizes = group.groupby(["instance_id", "replica_id", "start_s"]).size()
        firsts = group.groupby(["instance_id", "replica_id", "start_s"]).batch_size.first()
        assert (sizes == firsts).all()
    # a replica takes its next batch once free: after the batch before it finished, or on a
    # replica staging its next input (inf1, one core) after that batch's interval, and
    # batches leave in order
    info = analysis.run_info(tmp_path / "t.parquet")
    names = np.asarray(ok.pool.cat.categories)
    ok = ok.assign(
        share=staged_shares(
            info["pools"],
            names,
            ok.pool.cat.codes.to_numpy(),
            ok.padded_batch.to_numpy(),
            ok.padded_seq_len.to_numpy(),
        )  # fmt: skip
    )
    assert set(ok.pool[ok.share > 0]) == {"distil"}
    keys = ["pool", "instance_id", "replica_id", "start_s"]
    b = ok.groupby(keys, observed=True).first().reset_index().sort_values(keys)
    b["freed_s"] = b.finish_s - (b.service_s - b.host_s) * b.share
    overlapped = 0
    for _, rep in b.groupby(["pool", "instance_id", "replica_id"], observed=True):
        assert (rep.start_s.to_numpy()[1:] >= rep.freed_s.to_numpy()[:-1] - 1e-12).all()
        assert (np.diff(rep.finish_s.to_numpy()) >= 0).all()
        overlapped += int((rep.start_s.to_numpy()[1:] < rep.finish_s.to_numpy()[:-1]).sum())
    assert overlapped  # the staging replica did take batches before the last one left
    assert df.warmup.equals(df.arrival_s < 0.5)
    assert (df.arrival_s < 3.0).all()


def test_service_time_comes_from_hardware_model(tmp_path):
    """Without jitter, each batch's service_s is its host stage plus hardware.service_time at
    its padded shape (the default Neuron shapes: the batch to max_batch 4, its longest
    sequence to the 64, 128, ... bucket); the default host stage is on."""
    fleet = [{**SMALL["fleet"][0], "jitter": "none"}, SMALL["fleet"][1]]
    df = run_df(tmp_path, scenario(fleet=fleet))
    ok = df[(df.status == "ok") & (df.pool == "bert")]
    batches = ok.groupby(["instance_id", "replica_id", "start_s"]).agg(
        b=("padded_batch", "first"), s=("padded_seq_len", "first"),
        longest=("seq_len", "max"), svc=("service_s", "first"), host=("host_s", "first"),
    )  # fmt: skip
    assert (batches.b == 4).all()
    bucket = np.where(batches.longest <= 64, 64, np.where(batches.longest <= 128, 128, 256))
    np.testing.assert_array_equal(batches.s.to_numpy(), bucket)
    assert (batches.host > 0).all()
    expected = hardware.service_time(
        "bert-base", "inf2.xlarge", batches.b.to_numpy(), batches.s.to_numpy(), "bf16", 1
    )
    assert np.allclose(batches.svc.to_numpy() - batches.host.to_numpy(), expected, rtol=1e-9)


def test_same_seed_identical_trace(tmp_path):
    """The same scenario and seed give bit-identical traces."""
    a = run_df(tmp_path, scenario(), "a.parquet")
    b = run_df(tmp_path, scenario(), "b.parquet")
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    c = run_df(tmp_path, scenario(seed=124), "c.parquet")
    assert not np.array_equal(a.arrival_s.to_numpy()[:100], c.arrival_s.to_numpy()[:100])


@pytest.mark.parametrize(
    "balancer", ["round_robin", "random", "least_outstanding", "join_shortest_queue"]
)
def test_balancer_change_leaves_arrivals_identical(tmp_path, balancer):
    """Changing the balancer changes routing but not arrival times, models or lengths."""
    base = run_df(tmp_path, scenario(), "base.parquet")
    other = run_df(tmp_path, scenario(balancer=balancer), "other.parquet")
    for column in ("arrival_s", "model", "seq_len"):
        assert base[column].equals(other[column]), column
    assert not base.instance_id.equals(other.instance_id)


def test_hardware_change_leaves_arrivals_identical(tmp_path):
    """Moving a pool to another instance type does not touch the arrival stream."""
    fleet = [dict(SMALL["fleet"][0], instance="inf1.2xlarge"), SMALL["fleet"][1]]
    base = run_df(tmp_path, scenario(), "base.parquet")
    other = run_df(tmp_path, scenario(fleet=fleet), "other.parquet")
    for column in ("arrival_s", "model", "seq_len"):
        assert base[column].equals(other[column]), column
    assert not base.service_s.equals(other.service_s)


def test_overload_drops_and_leaves_requests_in_flight(tmp_path):
    """A fleet far too small drops requests and ends with some in flight; none are lost."""
    fleet = [dict(SMALL["fleet"][0], count=1), SMALL["fleet"][1]]
    workload = {**SMALL["workload"], "arrivals": {"kind": "poisson", "rate": 8000}}
    df = run_df(tmp_path, scenario(fleet=fleet, workload=workload))
    counts = df.status.value_counts()
    assert counts["dropped"] > 0 and counts["in_flight"] > 0
    dropped = df[df.status == "dropped"]
    assert dropped.start_s.isna().all() and (dropped.batch_size == 0).all()
    assert len(df) == counts.sum()


def test_metadata_holds_scenario_seed_and_versions(tmp_path):
    """File metadata: scenario YAML (loadable), seed, fleetsim and hardware-model versions."""
    path = tmp_path / "t.parquet"
    simulate(scenario(), path)
    meta = pq.read_schema(path).metadata
    assert meta[b"fleetsim.seed"] == b"123"
    assert meta[b"fleetsim.hardware_model_version"].decode() == hardware.HARDWARE_MODEL_VERSION
    assert b"fleetsim.version" in meta
    again = parse_scenario(meta[b"fleetsim.scenario_yaml"].decode())
    assert again == scenario()
    info = json.loads(meta[b"fleetsim.run"])
    assert [p["pool"] for p in info["pools"]] == ["bert", "distil"]


def test_trace_written_in_row_groups(tmp_path, monkeypatch):
    """The writer flushes bounded row groups as the run goes."""
    import sim.engine.runner as engine
    from sim.engine.trace_writer import TraceWriter

    monkeypatch.setattr(
        engine, "TraceWriter", lambda *a, **k: TraceWriter(*a, **{**k, "rows_per_group": 1000})
    )
    path = tmp_path / "t.parquet"
    stats = simulate(scenario(), path)
    parquet = pq.ParquetFile(path)
    assert parquet.num_row_groups >= stats.requests // 1000
    assert (
        max(parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)) <= 1000
    )


def test_failed_run_leaves_no_file(tmp_path):
    """An exception mid-run removes the partial trace; nothing under the final name."""

    def boom(fraction):
        if fraction > 0.5:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        simulate(scenario(), tmp_path / "t.parquet", progress=boom)
    assert list(tmp_path.iterdir()) == []


@ENGINES
def test_a_process_sees_the_fleet_as_the_trace_says(tmp_path, engine):
    """A SimPy process added to a run reads, every 10 ms, the requests in the system; the
    numbers equal the count derived from the trace at those instants (processes run first
    at an instant: a request arriving then is not in yet, one finishing then still is)."""
    samples = []

    def observer(env, fleet):
        while True:
            yield env.timeout(0.01)
            samples.append((env.now, fleet.outstanding, fleet.now))

    result = sim.run(scenario(duration="1s", warmup="0"), tmp_path / "run", engine=engine,
                     processes=[observer])  # fmt: skip
    assert result.engine == engine
    assert len(samples) == 99 and all(now == at for at, _, now in samples)
    df = analysis.load_trace(result.trace_path)
    arrival, finish = df.arrival_s.to_numpy(), df.finish_s.to_numpy()
    admitted = (df.status != "dropped").to_numpy()
    for when, count, _ in samples:
        inside = admitted & (arrival < when) & ~(finish < when)
        assert count == int(inside.sum()), when


@ENGINES
def test_process_counts_add_up(tmp_path, engine):
    """At the end of the run a process's view agrees with the trace: arrivals, completions
    and drops per pool, and what is still waiting or in service."""
    seen = {}

    def last_look(env, fleet):
        yield env.timeout(0.999999)
        seen.update({p.name: (p.arrivals, p.completions, p.drops, p.outstanding)
                     for p in fleet.pools})  # fmt: skip
        assert fleet.pool(fleet.pools[0].name) is fleet.pools[0]
        assert sum(len(p.instances) for p in fleet.pools) == len(fleet.instances)

    fleet = [dict(SMALL["fleet"][0], count=1), SMALL["fleet"][1]]
    workload = {**SMALL["workload"], "arrivals": {"kind": "poisson", "rate": 8000}}
    sc = scenario(fleet=fleet, workload=workload, duration="1s", warmup="0")
    result = sim.run(sc, tmp_path / "run", engine=engine, processes=[last_look])
    df = analysis.load_trace(result.trace_path)
    done_by = df.finish_s <= 0.999999
    for pool, rows in df[df.arrival_s <= 0.999999].groupby("pool", observed=True):
        dropped = int((rows.status == "dropped").sum())
        completed = int(done_by[rows.index].sum())
        assert seen[pool] == (len(rows), completed, dropped, len(rows) - completed - dropped)
    assert any(v[2] for v in seen.values())


def test_sim_run_is_the_public_api(tmp_path):
    """``sim.run`` takes a path, overrides written as in the CLI, and returns the summary,
    the trace path and the engine; the summary says which engine ran."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    result = sim.run(path, tmp_path / "out", duration="1s", seed=7)
    assert result.trace_path == (tmp_path / "out" / "requests.parquet").resolve()
    assert json.loads((tmp_path / "out" / "summary.json").read_text()) == json.loads(
        json.dumps(result.summary)
    )
    assert result.summary["seed"] == 7 and result.summary["duration_s"] == 1.0
    assert result.summary["engine"] == result.engine
    with pytest.raises(ScenarioError, match="duration"):
        sim.run(path, tmp_path / "x", duration=1.0)  # a bare number has no unit
    assert not (tmp_path / "x").exists()


@needs_kernel
def test_auto_picks_the_compiled_engine_and_says_why_when_it_cannot(tmp_path, monkeypatch):
    """``auto`` runs the kernel; a balancer with no compiled form runs on SimPy with the
    reason in the result and the summary; ``compiled`` then refuses, writing nothing."""
    from sim.policies import balancers

    class Newest(balancers.RoundRobin):
        """A policy the kernel does not know (no ``compiled`` form)."""

        compiled = None

    monkeypatch.setitem(balancers.BALANCERS, "round_robin", Newest)
    sc = scenario(duration="1s", balancer="power_of_two")
    assert sim.run(sc, tmp_path / "a").engine == "compiled"
    sc = scenario(duration="1s", balancer="round_robin")
    result = sim.run(sc, tmp_path / "b")
    assert result.engine == "simpy" and "Newest has no compiled form" in result.engine_reason
    assert result.summary["engine_reason"] == result.engine_reason
    with pytest.raises(EngineUnavailable, match="Newest"):
        sim.run(sc, tmp_path / "c", engine="compiled")
    assert not (tmp_path / "c").exists()


@ENGINES
def test_an_error_in_a_service_function_propagates(engine):
    """A service function that raises mid-run stops the run with its own exception; the
    garbage collector is running again afterwards."""
    calls = []

    def service(batch, seq):
        calls.append(batch)
        if len(calls) == 50:
            raise ValueError("no service time for this batch")
        return 1e-3

    fleet = one_pool_fleet(count=4, replicas=2, max_batch=4, max_wait=1e-3, service=service,
                           balancer=PowerOfTwo(4, stream(0, "balancer")))  # fmt: skip
    with pytest.raises(ValueError, match="no service time"):
        drive(fleet, RecordBuffer(), [chunk(np.linspace(0, 0.9, 2000))], 1.0, engine=engine)
    assert len(calls) == 50 and gc.isenabled()


@ENGINES
def test_an_error_in_a_process_propagates(engine):
    """A process that raises stops the run with its exception, in either engine."""

    def broken(env, fleet):
        yield env.timeout(0.5)
        raise RuntimeError(f"observer failed at {env.now}")

    fleet = one_pool_fleet(service=lambda b, s: 1e-3)
    with pytest.raises(RuntimeError, match="observer failed at 0.5"):
        drive(fleet, RecordBuffer(), [chunk(np.linspace(0, 0.9, 100))], 1.0, engine=engine,
              processes=[broken])  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_batch": 0}, "max_batch = 0"),
        ({"queue_limit": 2.5}, "queue_limit = 2.5"),
        ({"max_batch": 2**31}, "< 2\\*\\*31"),
        ({"max_batch": 4, "service_by_size_s": [0.0, 1e-3, 2e-3]}, "needs 5"),
    ],
)
def test_a_pool_neither_engine_can_run_is_refused(changes, message):
    """Hand-built pools are checked when the fleet is built (scenarios always pass)."""
    pool = dataclasses.replace(Pool(1, 0, 1, 1, 0.0, 10, lambda b, s: 1e-3), **changes)
    with pytest.raises(ValueError, match=message):
        Fleet([pool], [RoundRobin(1, stream(0, "balancer"))])


@ENGINES
def test_malformed_chunks_are_refused_by_either_engine(engine):
    """A model index no balancer has, or a sequence length a float64 cannot hold exactly,
    raises before any request is applied."""
    for models, seqs, message in [
        ([0, -1], [1, 1], "model indexes"),
        ([0, 1], [1, 1], "model indexes"),
        ([0, 0], [1, 2**53], "sequence lengths"),
    ]:
        fleet = one_pool_fleet(count=2, service=lambda b, s: 1e-3)
        writer = RecordBuffer()
        with pytest.raises(ValueError, match=message):
            drive(fleet, writer, [chunk([0.1, 0.2], seqs, models)], 1.0, engine=engine)
        assert not writer.numbers


@needs_kernel
def test_the_kernel_does_not_move_a_trace_buffer_that_is_being_read():
    """A writer holding a view of its buffer gets Python's BufferError, not freed memory."""

    class Viewing(RecordBuffer):
        def flush_if_full(self):
            self.view = memoryview(self.numbers)  # held across the next hand-over

    fleet = one_pool_fleet(service=lambda b, s: 1e-4)
    chunks = [chunk([0.1 * i + 0.01 * k for k in range(3)], [1] * 3) for i in range(3)]
    with pytest.raises(BufferError):
        drive(fleet, Viewing(), chunks, 1.0, engine="compiled")


def test_a_lock_left_half_made_by_a_killed_process_is_removed(tmp_path):
    """``create_locked`` makes ``<lock>.<pid>.<ns>.new`` and renames it once locked; a
    process killed in between leaves it: the next run in the directory removes it at once
    when its process is gone (and keeps a fresh one whose process lives)."""
    import os
    import subprocess
    import sys

    from sim.engine.output import STAGING_PREFIX, remove_stale_staging

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = tmp_path / f"{STAGING_PREFIX}x-1.lock.{int(done.stdout)}.123.new"
    dead.write_text("")
    alive = tmp_path / f"{STAGING_PREFIX}y-2.lock.{os.getpid()}.456.new"
    alive.write_text("")
    remove_stale_staging(tmp_path)
    assert not dead.exists() and alive.exists()
