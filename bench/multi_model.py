"""Shared or dedicated instances: scenarios/multi_model.yaml against a pool per model.

The case study puts both Alexa NLU models on every inf1.xlarge (3 + 1 NeuronCores). This
script finds, for the same traffic and seed, the fewest instances that hold it - each model's
p99 within the scenario's SLO target and nothing dropped - when the instances are shared,
and when each model has its own pool of whole inf1.xlarge instances (its balancer, all four
cores on its model); then prints instances, USD per hour and per-group utilisation.

    python bench/multi_model.py                 # the scenario's 2-minute run
    python bench/multi_model.py --duration 30s  # quicker, noisier
    python bench/multi_model.py --rate 1000     # less traffic

The counts are searched upward from 1 (one run each, compiled engine when built); a count
that meets the target is reported as found, without replications: a planning figure, not a
confidence interval (use ``fleetsim sweep`` for that).
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.engine.runner import simulate  # noqa: E402
from sim.scenario.loading import parse_scenario  # noqa: E402

PRICE_USD_PER_HOUR = 0.228  # inf1.xlarge on demand (hardware catalog)


def holds(data: dict, workdir: Path) -> tuple[bool, dict]:
    """Run ``data``; whether every model's p99 meets the target with nothing dropped."""
    sc = parse_scenario(yaml.safe_dump(data))
    stats = simulate(sc, workdir / "requests.parquet")
    trace = pd.read_parquet(stats.trace_path, columns=["model", "status", "latency_s", "warmup"])
    measured = trace[~trace["warmup"]]
    ok = measured[measured["status"].astype(str) == "ok"]
    p99 = ok.groupby("model", observed=True)["latency_s"].quantile(0.99)
    dropped = int((measured["status"].astype(str) == "dropped").sum())
    met = dropped == 0 and bool((p99 <= sc.slo.target).all())
    return met, {"p99_ms": (p99 * 1e3).round(2).to_dict(), "utilisation": stats.metrics[
        "utilisation"], "dropped": dropped}  # fmt: skip


def smallest(make, workdir: Path, limit: int = 30) -> tuple[int, dict]:
    """The fewest instances ``make(count)`` needs to hold the traffic."""
    for count in range(1, limit + 1):
        met, figures = holds(make(count), workdir)
        if met:
            return count, figures
    raise SystemExit(f"no count up to {limit} holds the traffic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default=None, help="run length (default: the scenario's)")
    parser.add_argument("--rate", type=float, default=None, help="requests/s (both models)")
    args = parser.parse_args()
    base = yaml.safe_load((ROOT / "scenarios" / "multi_model.yaml").read_text())
    if args.duration:
        base["duration"] = args.duration
    if args.rate:
        base["workload"]["arrivals"]["rate"] = args.rate
    shared_pool = base["fleet"][0]

    def shared(count: int) -> dict:
        data = copy.deepcopy(base)
        data["fleet"][0]["count"] = count
        return data

    def dedicated(counts: dict[str, int]) -> dict:
        data = copy.deepcopy(base)
        pools = []
        for group in shared_pool["models"]:
            pool = {k: v for k, v in shared_pool.items() if k not in ("models", "count", "name")}
            pool.update(name=group["model"].split("-")[0], model=group["model"],
                        count=counts[group["model"]])  # fmt: skip
            if "batching" in group:
                pool["batching"] = group["batching"]
            pools.append(pool)
        data["fleet"] = pools
        return data

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        n_shared, f_shared = smallest(shared, workdir)
        models = [g["model"] for g in shared_pool["models"]]
        counts = dict.fromkeys(models, 30)
        figures = {}
        for model in models:  # the pools are independent: size one with the other ample
            counts[model], figures[model] = smallest(
                lambda n, m=model: dedicated({**counts, m: n}), workdir
            )
        _, f_dedicated = holds(dedicated(counts), workdir)
    n_dedicated = sum(counts.values())
    print(f"traffic: {base['workload']['arrivals']['rate']} requests/s, "
          f"{base['duration']} run, target p99 <= {base['slo']['target']} per model")  # fmt: skip
    print(f"shared    ({'+'.join(str(g['cores']) for g in shared_pool['models'])} cores): "
          f"{n_shared} x inf1.xlarge = ${n_shared * PRICE_USD_PER_HOUR:.3f}/h; "
          f"p99 {f_shared['p99_ms']} ms; utilisation {_pct(f_shared['utilisation'])}")  # fmt: skip
    print(f"dedicated (4 cores each): {' + '.join(f'{counts[m]} ({m})' for m in models)} = "
          f"{n_dedicated} x inf1.xlarge = ${n_dedicated * PRICE_USD_PER_HOUR:.3f}/h; "
          f"p99 {f_dedicated['p99_ms']} ms; "
          f"utilisation {_pct(f_dedicated['utilisation'])}")  # fmt: skip


def _pct(shares: dict[str, float]) -> str:
    return ", ".join(f"{name} {100 * share:.0f}%" for name, share in shares.items())


if __name__ == "__main__":
    main()
