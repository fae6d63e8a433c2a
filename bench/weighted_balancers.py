"""Capacity-weighted balancers on a heterogeneous fleet: per-request cost and what they buy.

One model (bert-base, 32-128 tokens) served by 12 inf2.xlarge and 4 g5.xlarge (capacities
``Pool.capacity_per_s`` at max_batch 8: about 3,500/s and 2,100/s) behind one balancer, at
70% of the fleet's capacity, on the compiled kernel. For every balancer it prints the wall
time per request (best of ``--repeat`` runs interleaved, as ``timeit`` does: noise only slows
a run down), its ratio to ``least_outstanding``, each pool's replica utilisation (a balancer
blind to capacity sends the g5s as much as the inf2s), p99 latency and drops. Writes
bench/results/weighted_balancers.json.

    python bench/weighted_balancers.py               # 1 million requests per run, ~1 minute
    python bench/weighted_balancers.py --requests 200000 --repeat 1
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.engine.engines import kernel_built  # noqa: E402
from sim.engine.fleet import Fleet  # noqa: E402
from sim.engine.output import write_json  # noqa: E402
from sim.engine.runner import simulate  # noqa: E402
from sim.engine.trace_writer import TraceMode  # noqa: E402
from sim.policies.balancers import BALANCERS  # noqa: E402
from sim.scenario.loading import parse_scenario  # noqa: E402

LOAD = 0.7  # offered load / fleet capacity


def hetero(balancer: str, rate_per_s: float, duration_s: float) -> dict:
    """12 inf2.xlarge + 4 g5.xlarge serving bert-base behind ``balancer``."""
    pool = {"model": "bert-base", "batching": {"max_batch": 8, "max_wait": "2ms"},
            "queue_limit": 64}  # fmt: skip
    return {
        "name": "hetero_bench",
        "seed": 15,
        "duration": f"{duration_s!r}s",
        "warmup": f"{duration_s * 0.05!r}s",
        "workload": {"arrivals": {"kind": "poisson", "rate": rate_per_s},
                     "mix": [{"model": "bert-base", "weight": 1,
                              "seq_len": {"kind": "choice", "values": [32, 64, 128]}}]},
        "fleet": [{"name": "inf", "instance": "inf2.xlarge", "count": 12, **pool},
                  {"name": "gpu", "instance": "g5.xlarge", "count": 4, **pool}],
        "balancer": balancer,
        "slo": {"percentile": 99, "target": "50ms"},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not kernel_built():
        sys.exit("the compiled kernel is not built: this bench measures it")
    probe = Fleet.from_scenario(parse_scenario(yaml.safe_dump(hetero("random", 1.0, 1.0))))
    capacity = {p.name: p.capacity_per_s * p.count for p in probe.pools}
    rate = LOAD * sum(capacity.values())
    duration = args.requests / rate
    gpu_share = capacity["gpu"] / sum(capacity.values())
    print(f"capacity/s: inf {capacity['inf']:.0f}, gpu {capacity['gpu']:.0f}; offered "
          f"{rate:.0f}/s; gpu capacity share {gpu_share:.3f}")  # fmt: skip
    best: dict[str, float] = {}
    facts: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as directory:
        for _ in range(args.repeat):
            for kind in BALANCERS:
                sc = parse_scenario(yaml.safe_dump(hetero(kind, rate, duration)))
                stats = simulate(sc, Path(directory) / f"{kind}.parquet", engine="compiled",
                                 trace=TraceMode("summary"))  # fmt: skip
                per_request_us = stats.wall_s / stats.requests * 1e6
                best[kind] = min(best.get(kind, per_request_us), per_request_us)
                m = stats.metrics or {}
                facts[kind] = {"requests": stats.requests,
                               "latency_p99_s": m.get("latency_p99_s"),
                               "dropped": m.get("dropped"),
                               "utilisation": m.get("utilisation", {})}  # fmt: skip
    rows = []
    print(f"{'balancer':28} {'us/request':>10} {'x LO':>6} {'util inf':>8} {'util gpu':>8} "
          f"{'p99 ms':>8} {'dropped':>8}")  # fmt: skip
    for kind in BALANCERS:
        f = facts[kind]
        ratio = best[kind] / best["least_outstanding"]
        p99 = f["latency_p99_s"]
        util = f["utilisation"]
        print(
            f"{kind:28} {best[kind]:10.3f} {ratio:6.2f} {util.get('inf', math.nan):8.3f} "
            f"{util.get('gpu', math.nan):8.3f} "
            f"{p99 * 1e3 if p99 is not None else math.nan:8.2f} {f['dropped']!s:>8}"
        )
        rows.append({"balancer": kind, "us_per_request": best[kind], "ratio_to_lo": ratio, **f})
    out = ROOT / "bench" / "results" / "weighted_balancers.json"
    write_json(out, {"requests": args.requests, "repeat": args.repeat, "offered_per_s": rate,
                     "capacity_per_s": capacity, "rows": rows})  # fmt: skip
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
