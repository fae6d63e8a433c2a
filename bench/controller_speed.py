"""Controller cost: bench case (b) with autoscaling and failures, against (b) without them.

Issue 15 asks that (b) with a 60-second target-tracking autoscaler and exponential failures
stay on the compiled kernel at no more than 1.3x the per-request cost of the same run without
them. Each case runs ``--repeat`` times interleaved with the baseline and the best run of each
is compared (noise only slows a run down), as in ``bench/engine_speed.py``, whose case (b)
this reuses. The runs record into memory (``sim.engine.runner.drive`` with a
``RecordBuffer``), not to parquet: ``simulate`` does not yet give its trace writer the roster
of instances added during a run (an added instance's batch fails in ``batch_columns``), which
the issue-15 wiring fixes. Without the parquet trace the controllers' share of the cost is
larger, so the ratios here are an upper bound for a run with a trace.

    python bench/controller_speed.py                  # 1 million requests, 3 repeats
    python bench/controller_speed.py --requests 200000 --repeat 2

Cases (all (b): 64 instances, power-of-two, batching up to 8, parquet trace):

- a process that never wakes: what running with any process costs (the kernel then steps
  SimPy between its own events), to tell it from the controllers' own work;
- the issue's: target tracking every 60 s (min 32, max 128, target 0.6) and exponential
  failures (MTBF 30 d, MTTR 10 min) - in a run of a few simulated seconds they rarely act,
  so this measures what having them costs;
- stressed: the same with a 1 s period, no datapoint wait, and MTBF 1 min, MTTR 5 s per
  instance, 1 s cold start, so that the controllers read the fleet, fail, restore and add
  instances many times per simulated second.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import time  # noqa: E402

import yaml  # noqa: E402
from engine_speed import fleet  # noqa: E402
from pydantic import TypeAdapter  # noqa: E402

from sim.control.config import AutoscalingConfig, FailuresConfig  # noqa: E402
from sim.control.controllers import controllers_for  # noqa: E402
from sim.engine.engines import kernel_built  # noqa: E402
from sim.engine.fleet import Fleet  # noqa: E402
from sim.engine.runner import drive  # noqa: E402
from sim.engine.trace_writer import RecordBuffer  # noqa: E402
from sim.scenario.loading import parse_scenario  # noqa: E402
from sim.workload.requests import request_stream  # noqa: E402


def rate(data: dict, processes=(), cold_start_s: float = 60.0) -> float:
    """Requests per wall-second of ``drive`` on the compiled kernel (records in memory)."""
    scenario = parse_scenario(yaml.safe_dump(data))
    fleet_ = Fleet.from_scenario(scenario, 0)
    chunks = request_stream(scenario, fleet_.model_names, 0)
    writer = RecordBuffer()
    start = time.perf_counter()
    driven = drive(fleet_, writer, chunks, scenario.duration, engine="compiled",
                   processes=processes, cold_start_s=[cold_start_s])  # fmt: skip
    wall_s = time.perf_counter() - start
    return sum(len(r[7]) for r in writer.records()) / wall_s, driven


def controlled(
    period: str, datapoints: int, mtbf: str, mttr: str, low: int = 32, high: int = 128
) -> SimpleNamespace:
    """A scenario-like object: pool ``p`` of case (b) with an autoscaler and failures."""
    scaling = {
        "kind": "target_tracking",
        "target": 0.6,
        "min": low,
        "max": high,
        "period": period,
        "scale_out_datapoints": datapoints,
        "scale_in_datapoints": datapoints,
    }
    pool = SimpleNamespace(
        name="p",
        autoscaling=TypeAdapter(AutoscalingConfig).validate_python(scaling),
        failures=FailuresConfig.model_validate({"mtbf": mtbf, "mttr": mttr}),
        spot=None,
    )
    return SimpleNamespace(seed=1, fleet=[pool], events=[])


def idle(env, fleet):
    """A process that waits past the end of the run: the cost of running with processes."""
    yield env.timeout(1e12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = fleet(64, 2000.0, args.requests)
    cases = {
        "(b)": lambda: rate(data),
        "(b) + a process that never wakes": lambda: rate(data, [idle]),
        "(b) + 60 s target tracking + failures (MTBF 30 d)": lambda: rate(
            data, controllers_for(controlled("60s", 3, "30d", "10m"))
        ),
        "(b) + 1 s target tracking + failures (MTBF 1 min)": lambda: rate(
            data, controllers_for(controlled("1s", 1, "1m", "5s")), cold_start_s=1.0
        ),
    }
    best: dict[str, float] = {}
    lifetimes: dict[str, int] = {}
    for _ in range(args.repeat):
        for label, case in cases.items():
            per_s, driven = case()
            best[label] = max(best.get(label, 0.0), per_s)
            lifetimes[label] = len(driven.roster.lifetimes)
    print(
        f"compiled kernel built: {kernel_built()}; {args.requests} requests, best of {args.repeat}"
    )
    base = best["(b)"]
    for label, per_s in best.items():
        print(
            f"{label:52s} {per_s / 1e6:6.3f} M req/s  per-request cost {base / per_s:.2f}x (b)"
            f"  ({lifetimes[label]} instance lifetimes)"
        )


if __name__ == "__main__":
    main()
