"""Helpers shared by the test groups (imported as ``helpers``; never import test files)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from analysis.schema import DROPPED, IN_FLIGHT, OK
from sim.engine.engines import kernel_built
from sim.engine.fleet import Fleet
from sim.engine.pool import Pool
from sim.engine.runner import drive, simulate
from sim.engine.trace_writer import RecordBuffer
from sim.policies.balancers import BALANCERS, RoundRobin
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import parse_scenario
from sim.scenario.schema import Scenario
from sim.streams import stream

NAN = math.nan

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
BALANCER_KINDS = list(BALANCERS)

needs_kernel = pytest.mark.skipif(
    not kernel_built(), reason="the compiled kernel is not built (installed without a compiler)"
)
"""For tests that compare the two engines: they run where the kernel was built."""

ENGINES = pytest.mark.parametrize(
    "engine",
    [pytest.param("compiled", marks=needs_kernel), "simpy"],
)
"""Run a test on each engine (the compiled one where it is built)."""


def same(a: object, b: object) -> bool:
    """Equal, bit for bit; NaN equals NaN (also inside dicts): summaries compared whole."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def problems_after(base: dict, change) -> list[tuple[str, str]]:
    """The (field, message) problems of scenario data ``base`` after ``change(a copy)``.

    The scenario must be refused (``ScenarioError``).
    """
    data = copy.deepcopy(base)
    change(data)
    with pytest.raises(ScenarioError) as error:
        parse_scenario(yaml.safe_dump(data, sort_keys=False))
    return [(field, message) for field, message, _ in error.value.problems]


def scenario(data: dict) -> Scenario:
    """A validated scenario from a dict written as in YAML."""
    return parse_scenario(yaml.safe_dump(data))


def load(path: Path) -> pd.DataFrame:
    """A trace's rows as written (the writer's order), with plain column types."""
    return pq.read_table(path).to_pandas()


def engine_facts(path: Path) -> dict:
    """The ``fleetsim.engine`` facts of a trace."""
    return json.loads(pq.ParquetFile(path).metadata.metadata[b"fleetsim.engine"])


def row_groups(path: Path) -> list[int]:
    """Rows per row group of a parquet file."""
    meta = pq.ParquetFile(path).metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def assert_engines_agree(sc: Scenario, directory: Path, processes=None) -> pd.DataFrame:
    """Simulate ``sc`` on both engines; require identical trace rows, row groups,
    instance lifetimes (``instances.parquet``), stage rows (``stages.parquet``, with
    pipelines) and requests-in-system average.
    ``processes()`` gives fresh process functions per run; each engine writes
    ``directory/<engine>/requests.parquet``.

    Returns the (common) trace.
    """
    paths = {}
    for engine in ("compiled", "simpy"):
        (directory / engine).mkdir(parents=True, exist_ok=True)
        stats = simulate(sc, directory / engine / "requests.parquet", engine=engine,
                         processes=processes() if processes else ())  # fmt: skip
        assert stats.engine == engine
        paths[engine] = stats.trace_path
    compiled, simpy = load(paths["compiled"]), load(paths["simpy"])
    pd.testing.assert_frame_equal(compiled, simpy, check_exact=True)
    pd.testing.assert_frame_equal(
        load(paths["compiled"].with_name("instances.parquet")),
        load(paths["simpy"].with_name("instances.parquet")),
        check_exact=True,
    )
    assert row_groups(paths["compiled"]) == row_groups(paths["simpy"])
    stages = [p.with_name("stages.parquet") for p in paths.values()]
    assert stages[0].exists() == stages[1].exists()
    if stages[0].exists():  # pipelines: every stage each request reached
        pd.testing.assert_frame_equal(load(stages[0]), load(stages[1]), check_exact=True)
    facts = {e: engine_facts(p) for e, p in paths.items()}
    assert facts["compiled"].pop("engine") == "compiled"
    assert facts["simpy"].pop("engine") == "simpy"
    assert facts["compiled"] == facts["simpy"]
    return compiled


def one_pool_fleet(
    *,
    count: int = 1,
    replicas: int = 1,
    max_batch: int = 1,
    max_wait: float = 0.0,
    queue_limit: int = 100,
    service=lambda b, s: 1.0,
    depth: int = 1,
    balancer=None,
    capacity_per_s: float = 1.0,
) -> Fleet:
    """A fleet of one hand-built pool (synthetic ``service(batch, longest_seq)`` in s)."""
    pool = Pool(count, 0, replicas, max_batch, max_wait, queue_limit, service,
                pipeline_depth=depth, capacity_per_s=capacity_per_s)  # fmt: skip
    return Fleet([pool], [balancer or RoundRobin(count, stream(0, "balancer"))])


def exponential_service(rng: np.random.Generator, rate: float):
    """A pool service function (``(batch, longest) -> s``) drawing Exp(``rate``) seconds from
    ``rng`` in blocks, whatever the batch."""
    draws = iter(())

    def service(batch: int, longest: int) -> float:
        nonlocal draws
        value = next(draws, None)
        if value is None:
            draws = iter(rng.exponential(1 / rate, 4096).tolist())
            value = next(draws)
        return value

    return service


def reached(times: list[float]) -> list[float]:
    """Times as a SimPy process waiting ``t - now`` from one to the next reaches them."""
    now, out = 0.0, []
    for t in times:
        if t > now:
            now = now + (t - now)
        out.append(now)
    return out


def records_of(fleet: Fleet, chunks, until: float, engine: str, processes=()) -> list:
    """``drive`` a hand-built fleet on one engine; its records in the writer's order."""
    writer = RecordBuffer()
    drive(fleet, writer, chunks, until, engine=engine, processes=processes)
    return writer.records()


def same_records(a: list, b: list) -> bool:
    """Records equal field by field (NaN equal to NaN)."""

    def same(x, y) -> bool:
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            return True
        return x == y

    return len(a) == len(b) and all(
        all(same(x, y) for x, y in zip(ra, rb, strict=True)) for ra, rb in zip(a, b, strict=True)
    )


def chunk(times, seqs=None, models=None):
    """One request chunk from lists (times in s)."""
    n = len(times)
    return (
        np.asarray(times, dtype=np.float64),
        np.zeros(n, dtype=np.int64) if models is None else np.asarray(models, dtype=np.int64),
        np.full(n, 128, dtype=np.int64) if seqs is None else np.asarray(seqs, dtype=np.int64),
    )


def instance_log(
    arrivals,
    *,
    engine: str = "simpy",
    replicas: int = 1,
    max_batch: int = 1,
    max_wait: float = 0.0,
    queue_limit: int = 100,
    service=lambda b, s: 1.0,
    until: float = 100.0,
    depth: int = 1,
):
    """Run one instance on ``engine``; its rows by request id, and its state at the end.

    ``arrivals`` are times (s) or (time, seq_len) pairs; each arrives at the time a SimPy
    process waiting from the one before reaches (``reached``). A row is (id, arrival, start,
    finish, batch size, replica, status); the state answers ``waiting(0)``,
    ``in_service(0)``, ... (``sim.engine.view.FleetState``).
    """
    items = [a if isinstance(a, tuple) else (a, 128) for a in arrivals]
    times = reached([t for t, _ in items])
    keep = [i for i, t in enumerate(times) if t < until]
    fleet = one_pool_fleet(replicas=replicas, max_batch=max_batch, max_wait=max_wait,
                           queue_limit=queue_limit, service=service, depth=depth)  # fmt: skip
    writer = RecordBuffer()
    chunks = [chunk([times[i] for i in keep], [items[i][1] for i in keep])] if keep else []
    driven = drive(fleet, writer, chunks, until, engine=engine)
    rows = sorted(
        (rid, arrival, start, finish, size, replica, status)
        for start, finish, _s, size, _j, replica, status, requests in writer.records()
        for rid, arrival, _seq in requests
    )
    return rows, driven.state


BASE_SCENARIO = {
    "name": "base",
    "seed": 7,
    "duration": "2s",
    "warmup": "200ms",
    "workload": {
        "arrivals": {"kind": "poisson", "rate": 500},
        "mix": [{"model": "bert-base", "weight": 1, "seq_len": 128}],
    },
    "fleet": [
        {
            "name": "bert",
            "instance": "inf2.xlarge",
            "count": 2,
            "model": "bert-base",
            "dtype": "bf16",
            "batching": {"max_batch": 4, "max_wait": "1ms"},
            "queue_limit": 100,
        }
    ],
    "balancer": {"kind": "power_of_two"},
    "slo": {"percentile": 99, "target": "10ms"},
}
"""A small valid scenario dict, as written in YAML (inputs for error and property tests)."""


def batching_oracle(times, seqs, *, replicas, max_batch, max_wait, queue_limit, service, until):
    """An independent reference model of the batching rule, for one instance.

    It steps through candidate instants (next arrival, replica completions, the oldest
    waiting request's deadline); at each it applies every completion and every arrival first
    (drops see the queue as it stands), then starts batches while the rule allows. Events at
    ``until`` are not processed. Returns one row [start, finish, size, replica, status] per
    request arriving before ``until``.
    """
    arrivals = [a for a in reached(times) if a < until]
    n = len(arrivals)
    rows = [[NAN, NAN, 0, -1, IN_FLIGHT] for _ in range(n)]
    queue: list[int] = []  # waiting request ids, oldest first
    busy: list[tuple[float, list[int]] | None] = [None] * replicas  # (finish, batch) per replica
    nxt, now = 0, -math.inf
    while True:
        cands = [b[0] for b in busy if b is not None]
        if nxt < n:
            cands.append(arrivals[nxt])
        if queue and arrivals[queue[0]] + max_wait > now:
            cands.append(arrivals[queue[0]] + max_wait)
        if not cands or min(cands) >= until:
            return rows
        now = min(cands)
        for r, b in enumerate(busy):
            if b is not None and b[0] == now:
                for i in b[1]:
                    rows[i][1], rows[i][4] = now, OK
                busy[r] = None
        while nxt < n and arrivals[nxt] == now:
            if len(queue) >= queue_limit:
                rows[nxt][4] = DROPPED
            else:
                queue.append(nxt)
            nxt += 1
        while (
            queue
            and None in busy
            and (len(queue) >= max_batch or now >= arrivals[queue[0]] + max_wait)
        ):
            r = busy.index(None)
            batch, queue = queue[:max_batch], queue[max_batch:]
            finish = now + service(len(batch), max(seqs[i] for i in batch))
            busy[r] = (finish, batch)
            for i in batch:
                rows[i][0], rows[i][2], rows[i][3] = now, len(batch), r


# --- hypothesis strategies -------------------------------------------------------------

SERVICES = st.sampled_from(
    [
        None,
        {"kind": "exponential", "mean": "2ms"},
        {"kind": "deterministic", "base": "1ms", "per_request": "500us"},
        {"kind": "deterministic", "base": "1ms"},
        {"kind": "lognormal", "mean": "1500us", "cv": 1.5},
    ]
)
ARRIVAL_KINDS = ["poisson", "gamma", "mmpp", "diurnal"]


@st.composite
def scenario_dicts(draw, replay: bool = False) -> tuple[dict, list[float] | None]:
    """A valid scenario dict, as written in YAML, and replayed arrival times (if ``replay``
    and it drew ``grid`` arrivals: the caller writes them to ``arrivals.csv``).

    Small runs (150 ms or a few hundred requests) over 1-3 pools: hardware or synthetic
    service, pipelines, every balancer, batching and queue limits, every arrival kind; with
    two models the first pool may serve both, each on its own cores.
    """
    models = draw(st.sampled_from([["bert-base"], ["bert-base", "distilbert-base"]]))
    pools = []
    for p in range(draw(st.integers(len(models), 3))):
        pool = {
            "name": f"p{p}",
            "instance": draw(st.sampled_from(["inf2.xlarge", "inf1.xlarge", "inf1.2xlarge"])),
            "count": draw(st.integers(1, 4)),
            "model": models[p % len(models)],
            "batching": {
                "max_batch": draw(st.sampled_from([1, 2, 3, 8])),
                "max_wait": draw(st.sampled_from(["0", "500us", "1ms", "2ms"])),
            },
            "queue_limit": draw(st.sampled_from([1, 2, 5, 100])),
        }
        service = draw(SERVICES)
        if service is None:
            pool["cores_per_replica"] = draw(st.sampled_from([1, 1, 2]))
        else:
            pool["service"] = service
        if p == 0 and len(models) == 2 and draw(st.booleans()):  # both models on its cores
            cores = 2 if pool["instance"] == "inf2.xlarge" else 4
            first = draw(st.integers(1, cores - 1))
            del pool["model"]
            pool["models"] = [
                {"model": models[0], "cores": first},
                {"model": models[1], "cores": draw(st.integers(1, cores - first))},
            ]
            pool["cores_per_replica"] = 1  # divides any group
            if draw(st.booleans()):
                pool["models"][1]["batching"] = {"max_batch": draw(st.sampled_from([1, 4]))}
        pools.append(pool)
    capacity = sum(p["count"] for p in pools) * 1000.0
    rate = capacity * draw(st.floats(0.2, 1.5))
    kind = draw(st.sampled_from(ARRIVAL_KINDS + ["grid"] if replay else ARRIVAL_KINDS))
    replayed = None
    if kind == "poisson":
        arrivals = {"kind": "poisson", "rate": rate}
    elif kind == "gamma":
        arrivals = {"kind": "gamma", "rate": rate, "cv": draw(st.sampled_from([0.3, 2.0]))}
    elif kind == "mmpp":
        arrivals = {"kind": "mmpp", "rates": [rate / 4, rate * 2], "mean_sojourn": ["20ms", "5ms"]}
    elif kind == "diurnal":
        arrivals = {"kind": "diurnal", "mean_rate": rate, "peak_to_mean": 1.5, "period": "100ms"}
    else:  # on a 0.5 ms grid, like the deterministic service times: exact ties everywhere
        steps = draw(st.lists(st.sampled_from([0, 0, 1, 2]), min_size=20, max_size=300))
        replayed = (np.cumsum(steps) * 0.5e-3).tolist()
        arrivals = {"kind": "trace", "path": "arrivals.csv"}
    data = {
        "name": "generated",
        "seed": draw(st.integers(0, 2**32)),
        "duration": "150ms" if replayed is None else f"{replayed[-1] + 0.03}s",
        "warmup": draw(st.sampled_from(["0", "20ms"])),
        "workload": {
            "arrivals": arrivals,
            "mix": [
                {"model": m, "seq_len": {"kind": "choice", "values": [64, 128]}} for m in models
            ],  # fmt: skip
        },
        "fleet": pools,
        "balancer": draw(st.sampled_from(BALANCER_KINDS)),
        "slo": {"target": "10ms"},
    }
    return data, replayed
