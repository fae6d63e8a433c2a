"""Controller cost: bench case (b) with autoscaling and failures, against (b) without them.

Issue 15 asks that (b) with a 60-second target-tracking autoscaler and exponential failures
stay on the compiled kernel at no more than 1.3x the per-request cost of the same run without
them. Each case runs ``--repeat`` times interleaved with the baseline and the best run of each
is compared (noise only slows a run down), as in ``bench/engine_speed.py``, whose case (b)
this reuses (``simulate``, full parquet trace). The controllers are given as processes
to a scenario without cold starts of its own, so added instances serve at once.

    python bench/controller_speed.py                  # 1 million requests, 3 repeats
    python bench/controller_speed.py --requests 200000 --repeat 2

Cases (all (b): 64 instances, power-of-two, batching up to 8, parquet trace):

- a process that never wakes: what running with any process costs (the kernel then steps
  SimPy between its own events), to tell it from the controllers' own work;
- the issue's: target tracking every 60 s (min 32, max 128, target 0.6) and exponential
  failures (MTBF 30 d, MTTR 10 min) - in a run of a few simulated seconds they rarely act,
  so this measures what having them costs;
- stressed: the same with a 1 s period, no datapoint wait, and MTBF 1 min, MTTR 5 s per
  instance, so that the controllers read the fleet, fail, restore and add
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

from engine_speed import fleet, fleetsim_rate  # noqa: E402
from pydantic import TypeAdapter  # noqa: E402

from sim.control.config import AutoscalingConfig, FailuresConfig  # noqa: E402
from sim.control.controllers import controllers_for  # noqa: E402
from sim.engine.engines import kernel_built  # noqa: E402


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
        "(b)": lambda: fleetsim_rate(data),
        "(b) + a process that never wakes": lambda: fleetsim_rate(data, processes=[idle]),
        "(b) + 60 s target tracking + failures (MTBF 30 d)": lambda: fleetsim_rate(
            data, processes=controllers_for(controlled("60s", 3, "30d", "10m"))
        ),
        "(b) + 1 s target tracking + failures (MTBF 1 min)": lambda: fleetsim_rate(
            data, processes=controllers_for(controlled("1s", 1, "1m", "5s"))
        ),
    }
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        for label, case in cases.items():
            per_s, _requests = case()
            best[label] = max(best.get(label, 0.0), per_s)
    print(
        f"compiled kernel built: {kernel_built()}; {args.requests} requests, best of {args.repeat}"
    )
    base = best["(b)"]
    for label, per_s in best.items():
        print(f"{label:52s} {per_s / 1e6:6.3f} M req/s  per-request cost {base / per_s:.2f}x (b)")


if __name__ == "__main__":
    main()
