"""End-to-end runs of the engine: trace shape, conservation, determinism, stream isolation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

import analysis
import hardware
from sim.engine.runner import run
from sim.engine.trace_writer import COLUMNS
from sim.scenario.loading import parse_scenario

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
    run(sc, path)
    return analysis.load_trace(path).sort_values("request_id").reset_index(drop=True)


def test_trace_has_exactly_the_specified_columns(tmp_path):
    """One row per request with exactly the issue's columns, in order."""
    df = run_df(tmp_path, scenario())
    assert tuple(df.columns) == COLUMNS
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
    # batches on one replica never overlap
    batches = ok.groupby(["pool", "instance_id", "replica_id", "start_s"], observed=True).finish_s
    b = batches.first().reset_index().sort_values(["pool", "instance_id", "replica_id", "start_s"])
    for _, rep in b.groupby(["pool", "instance_id", "replica_id"], observed=True):
        assert (rep.start_s.to_numpy()[1:] >= rep.finish_s.to_numpy()[:-1]).all()
    assert df.warmup.equals(df.arrival_s < 0.5)
    assert (df.arrival_s < 3.0).all()


def test_service_time_comes_from_hardware_model(tmp_path):
    """Each batch's service_s is hardware.service_time at its size and longest seq_len."""
    df = run_df(tmp_path, scenario())
    ok = df[(df.status == "ok") & (df.pool == "bert")]
    batches = ok.groupby(["instance_id", "replica_id", "start_s"]).agg(
        b=("batch_size", "first"), s=("seq_len", "max"), svc=("service_s", "first")
    )
    expected = hardware.service_time(
        "bert-base", "inf2.xlarge", batches.b.to_numpy(), batches.s.to_numpy(), "bf16", 1
    )
    assert np.allclose(batches.svc.to_numpy(), expected, rtol=1e-12)


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
    run(scenario(), path)
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
    stats = run(scenario(), path)
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
        run(scenario(), tmp_path / "t.parquet", progress=boom)
    assert list(tmp_path.iterdir()) == []


def test_simpy_processes_interleave_with_the_fleet_in_time_order():
    """A SimPy process in the run's environment sees the fleet's state at its own times:
    requests in the system sampled every 10 ms equal the count derived from the trace."""
    import simpy

    from sim.engine.fleet import Fleet
    from sim.engine.loop import drive
    from sim.engine.runner import plan_pool
    from sim.engine.trace_writer import RecordBuffer
    from sim.scenario.checks import seq_lens_by_model
    from sim.workload.requests import request_stream

    s = scenario(duration="1s", warmup="0")
    lengths = seq_lens_by_model(s)
    plans = [plan_pool(s, p, lengths[p.model]) for p in s.fleet]
    models = sorted(lengths)
    env = simpy.Environment()
    fleet = Fleet.from_scenario(env, s, plans, models, 0)
    samples = []

    def observer():
        while True:
            yield env.timeout(0.01)
            samples.append((env.now, sum(fleet.outstanding)))

    env.process(observer())

    writer = RecordBuffer()
    drive(fleet, writer, request_stream(s, models), s.duration)
    fleet.record_in_flight(writer)
    assert len(samples) == 99 and env.now == 1.0
    rows = np.array(
        [(arrival, r[1], r[6]) for r in writer.records() for _, arrival, _ in r[7]], dtype=float
    )
    arrival, finish, status = rows[:, 0], rows[:, 1], rows[:, 2]
    for when, count in samples:
        inside = (arrival <= when) & ~(finish <= when) & (status != 1)
        assert count == int(inside.sum()), when


def test_compiled_and_python_loops_write_identical_traces(tmp_path, monkeypatch):
    """The compiled loop (sim.engine._kernel) and the Python loop write the same file: same rows,
    same row groups, same engine statistics; only the name of the loop differs."""
    import functools

    import sim.engine.runner
    from sim.engine.loop import drive

    s = scenario(duration="50s")  # 150,000 rows: two row groups
    tables, stats = {}, {}
    for compiled in (False, True):
        monkeypatch.setattr(sim.engine.runner, "drive", functools.partial(drive, compiled=compiled))
        path = run(s, tmp_path / f"{compiled}.parquet").trace_path
        meta = pq.ParquetFile(path).metadata
        tables[compiled] = (pq.read_table(path), meta.num_row_groups)
        stats[compiled] = json.loads(meta.metadata[b"fleetsim.engine"])
    assert tables[True][1] == tables[False][1] > 1
    pd.testing.assert_frame_equal(tables[True][0].to_pandas(), tables[False][0].to_pandas())
    assert stats[False].pop("loop") == "python" and stats[True].pop("loop") == "compiled"
    assert stats[True] == stats[False]


def test_the_compiled_loop_is_used_when_it_can_be():
    """A plain run uses the compiled loop; SimPy processes in the environment need the
    Python loop, which the default chooses and ``compiled=True`` refuses with the reason."""
    import simpy

    from sim.engine.fleet import Fleet, PoolSpec
    from sim.engine.loop import compiled_available, drive
    from sim.engine.trace_writer import RecordBuffer
    from sim.policies.balancers import RoundRobin
    from sim.streams import stream

    assert compiled_available()

    def fleet(env):
        spec = PoolSpec(2, 0, 1, 4, 1e-3, 100, lambda b, s: 2e-3)
        return Fleet(env, [spec], [RoundRobin(2, stream(0, "balancer"))])

    chunk = (np.linspace(0, 0.9, 500), np.zeros(500, dtype=np.int64), np.full(500, 128))
    assert drive(fleet(simpy.Environment()), RecordBuffer(), iter([chunk]), 1.0) == "compiled"

    def waiter(env):
        yield env.timeout(0.5)

    env = simpy.Environment()
    env.process(waiter(env))
    with pytest.raises(RuntimeError, match="SimPy processes"):
        drive(fleet(env), RecordBuffer(), iter([chunk]), 1.0, compiled=True)
    env = simpy.Environment()
    env.process(waiter(env))
    assert drive(fleet(env), RecordBuffer(), iter([chunk]), 1.0) == "python"


@pytest.mark.parametrize("compiled", [False, True])
def test_an_error_in_a_service_function_propagates_from_either_loop(compiled):
    """A service function that raises mid-run stops the run with its own exception; the
    garbage collector is running again afterwards."""
    import gc

    import simpy

    from sim.engine.fleet import Fleet, PoolSpec
    from sim.engine.loop import drive
    from sim.engine.trace_writer import RecordBuffer
    from sim.policies.balancers import PowerOfTwo
    from sim.streams import stream

    calls = []

    def service(batch, seq):
        calls.append(batch)
        if len(calls) == 50:
            raise ValueError("no service time for this batch")
        return 1e-3

    spec = PoolSpec(4, 0, 2, 4, 1e-3, 100, service)
    fleet = Fleet(simpy.Environment(), [spec], [PowerOfTwo(4, stream(0, "balancer"))])
    chunk = (np.linspace(0, 0.9, 2000), np.zeros(2000, dtype=np.int64), np.full(2000, 64))
    with pytest.raises(ValueError, match="no service time"):
        drive(fleet, RecordBuffer(), iter([chunk]), 1.0, compiled=compiled)
    assert len(calls) == 50 and gc.isenabled()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_batch": 0}, "max_batch = 0"),
        ({"queue_limit": 2.5}, "queue_limit = 2.5"),
        ({"max_batch": 2**31}, "< 2\\*\\*31"),
        ({"max_batch": 4, "service_by_size_s": [0.0, 1e-3, 2e-3]}, "needs 5"),
    ],
)
def test_a_pool_spec_neither_loop_can_run_is_refused(changes, message):
    """Hand-built pool specs are checked when the fleet is built (scenarios always pass)."""
    import dataclasses

    import simpy

    from sim.engine.fleet import Fleet, PoolSpec
    from sim.policies.balancers import RoundRobin
    from sim.streams import stream

    spec = dataclasses.replace(PoolSpec(1, 0, 1, 1, 0.0, 10, lambda b, s: 1e-3), **changes)
    with pytest.raises(ValueError, match=message):
        Fleet(simpy.Environment(), [spec], [RoundRobin(1, stream(0, "balancer"))])


@pytest.mark.parametrize("compiled", [False, True])
def test_malformed_chunks_are_refused_by_either_loop(compiled):
    """A model index no balancer has, or a sequence length a float64 cannot hold exactly,
    raises before any request is applied."""
    import simpy

    from sim.engine.fleet import Fleet, PoolSpec
    from sim.engine.loop import drive
    from sim.engine.trace_writer import RecordBuffer
    from sim.policies.balancers import RoundRobin
    from sim.streams import stream

    for models, seqs, message in [
        ([0, -1], [1, 1], "model indexes"),
        ([0, 1], [1, 1], "model indexes"),
        ([0, 0], [1, 2**53], "sequence lengths"),
    ]:
        spec = PoolSpec(2, 0, 1, 2, 0.0, 10, lambda b, s: 1e-3)
        fleet = Fleet(simpy.Environment(), [spec], [RoundRobin(2, stream(0, "balancer"))])
        chunk = (np.array([0.1, 0.2]), np.array(models), np.array(seqs, dtype=np.int64))
        writer = RecordBuffer()
        with pytest.raises(ValueError, match=message):
            drive(fleet, writer, iter([chunk]), 1.0, compiled=compiled)
        assert not writer.numbers


def test_the_compiled_loop_does_not_move_a_trace_buffer_that_is_being_read():
    """A writer holding a view of its buffer gets Python's BufferError, not freed memory."""
    import simpy

    from sim.engine.fleet import Fleet, PoolSpec
    from sim.engine.loop import drive
    from sim.engine.trace_writer import RecordBuffer
    from sim.policies.balancers import RoundRobin
    from sim.streams import stream

    class Viewing(RecordBuffer):
        def flush_if_full(self):
            self.view = memoryview(self.numbers)  # held across the next hand-over

    spec = PoolSpec(1, 0, 1, 1, 0.0, 10, lambda b, s: 1e-4)
    fleet = Fleet(simpy.Environment(), [spec], [RoundRobin(1, stream(0, "balancer"))])
    chunks = [(np.array([0.1 * i + 0.01 * k for k in range(3)]), np.zeros(3, dtype=np.int64),
               np.ones(3, dtype=np.int64)) for i in range(3)]  # fmt: skip
    with pytest.raises(BufferError):
        drive(fleet, Viewing(), iter(chunks), 1.0, compiled=True)
