"""Engine speed: fleetsim against a textbook SimPy M/M/c model, in the same process.

Prints a table and writes it to bench/results/engine_speed.json. Not a test: timings on a
shared machine are noisy (the same code varies by up to 30% from minute to minute here), so
every figure is a ratio to a baseline measured in this run, and each case is run ``--repeat``
times interleaved with the baseline; the best run of each is compared (as ``timeit`` does:
noise only ever slows a run down). The spread of the runs is printed too.

    python bench/engine_speed.py            # (a)-(c), (e); about two minutes
    python bench/engine_speed.py --big      # also (d): 10 million requests of (b)

(a) one instance, Poisson arrivals, exponential service, batch 1
(b) 64 instances, power-of-two, dynamic batching up to 8, full trace to parquet (headline)
(c) as (b) with 1,000 instances at the same per-instance load
(d) 10 million requests of (b): wall time and peak RSS, against 1 million
(e) fleetsim run scenarios/alexa.yaml end to end
(f) (b) with a SimPy process that wakes every simulated second and reads the fleet, against
    (b) without it (the kernel steps SimPy between its own events); also every 10 ms
(g) (b) on the SimPy engine (the fleet as SimPy processes: the readable definition)

(a)-(f) run the compiled kernel (sim/engine/_kernel.pyx), as ``fleetsim run`` does when it
is built; (g) runs the SimPy model that replaces it where no C compiler was found.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import simpy
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.engine.engines import kernel_built  # noqa: E402
from sim.engine.runner import simulate  # noqa: E402
from sim.scenario.loading import parse_scenario  # noqa: E402


def textbook_mmc(requests: int, servers: int, rate: float, service_s: float, seed: int = 1):
    """The textbook SimPy model: one process per request, a simpy.Resource for the servers."""
    env = simpy.Environment()
    pool = simpy.Resource(env, capacity=servers)
    rng = np.random.default_rng(seed)
    waits = []

    def customer():
        arrived = env.now
        with pool.request() as req:
            yield req
            waits.append(env.now - arrived)
            yield env.timeout(rng.exponential(service_s))

    def source():
        for _ in range(requests):
            yield env.timeout(rng.exponential(1.0 / rate))
            env.process(customer())

    env.process(source())
    start = time.perf_counter()
    env.run()
    return requests / (time.perf_counter() - start)


def fleet(
    instances: int,
    rate_per_instance: float,
    requests: int,
    batch: int = 8,
    balancer: str = "power_of_two",
    service: dict | None = None,
) -> dict:
    duration = requests / (instances * rate_per_instance)
    pool = {
        "name": "p",
        "instance": "inf2.xlarge",
        "count": instances,
        "model": "bert-base",
        "batching": {"max_batch": batch, "max_wait": "1ms"},
        "queue_limit": 10_000,
    }
    if service:
        pool["service"] = service
    return {
        "name": "bench",
        "seed": 1,
        "duration": f"{duration!r}s",
        "workload": {
            "arrivals": {"kind": "poisson", "rate": instances * rate_per_instance},
            "mix": [{"model": "bert-base", "seq_len": 128}],
        },
        "fleet": [pool],
        "balancer": balancer,
        "slo": {"target": "10ms"},
    }


def observer(every_s: float):
    """A SimPy process that wakes every ``every_s`` simulated seconds and reads the fleet."""

    def process(env, fleet):
        seen = []
        while True:
            yield env.timeout(every_s)
            seen.append((env.now, fleet.waiting, fleet.busy_replicas))

    return process


def fleetsim_rate(data: dict, engine: str = "auto", processes=()) -> tuple[float, int]:
    """Requests per wall-second of ``sim.engine.runner.simulate`` (trace included)."""
    scenario = parse_scenario(yaml.safe_dump(data))
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        stats = simulate(scenario, Path(d) / "t.parquet", engine=engine, processes=processes)
        return stats.requests / (time.perf_counter() - start), stats.requests


def big_run(requests: int) -> dict:
    """Run (b) with ``requests`` in a fresh process; wall time and peak RSS of that process."""
    code = (
        "import sys, time, resource, tempfile, yaml; from pathlib import Path;"
        f"sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'bench')!r});"
        "from engine_speed import fleet; from sim.engine.runner import simulate as run;"
        "from sim.scenario.loading import parse_scenario;"
        f"s = parse_scenario(yaml.safe_dump(fleet(64, 2000.0, {requests})));"
        "d = tempfile.mkdtemp(); t = time.perf_counter(); r = run(s, Path(d) / 't.parquet');"
        "print(time.perf_counter() - t, r.requests,"
        " resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall, n, rss = out.stdout.split()
    return {"requests": int(n), "wall_s": float(wall), "peak_rss_mb": float(rss)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", action="store_true", help="also run (d), 10M requests")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (best kept)")
    args = parser.parse_args()
    cases = {
        "textbook SimPy M/M/2 (baseline)": lambda: textbook_mmc(300_000, 2, 1400.0, 1e-3),
        "(a) 1 instance, M/M/2, batch 1": lambda: fleetsim_rate(
            fleet(1, 1400.0, 300_000, batch=1, service={"kind": "exponential", "mean": "1ms"})
        )[0],
        "(b) 64 instances, P2, batch<=8, parquet trace": lambda: fleetsim_rate(
            fleet(64, 2000.0, 1_000_000)
        )[0],
        "(c) 1,000 instances, same per-instance load": lambda: fleetsim_rate(
            fleet(1000, 2000.0, 1_000_000)
        )[0],
        "(f) (b) with a 1 s observer process": lambda: fleetsim_rate(
            fleet(64, 2000.0, 1_000_000), processes=[observer(1.0)]
        )[0],
        "(f) (b) with a 10 ms observer process": lambda: fleetsim_rate(
            fleet(64, 2000.0, 1_000_000), processes=[observer(0.01)]
        )[0],
        "(g) (b) on the SimPy engine": lambda: fleetsim_rate(
            fleet(64, 2000.0, 1_000_000), engine="simpy"
        )[0],
    }
    loop = "compiled kernel" if kernel_built() else "SimPy engine (kernel not built)"
    print(f"auto engine: {loop}")
    runs: dict[str, list[float]] = {label: [] for label in cases}
    for round_ in range(args.repeat):
        for label, case in cases.items():
            runs[label].append(case())
            print(f"round {round_ + 1}: {label}: {runs[label][-1]:,.0f} req/s", flush=True)
    best = {label: max(rates) for label, rates in runs.items()}
    base_label = next(iter(cases))
    base = best[base_label]
    rows = []
    for label, rates in runs.items():
        note = f"runs {min(rates):,.0f}-{max(rates):,.0f}"
        b_label = next(k for k in cases if k.startswith("(b)"))
        if label.startswith("(c)") or label.startswith("(f)"):
            note += f"; per-request cost {best[b_label] / best[label]:.2f}x (b)"
        if label.startswith("(g)"):
            note += f"; the kernel is {best[b_label] / best[label]:.1f}x faster"
        rows.append((label, best[label], best[label] / base, note))
    big = {}
    if args.big:
        # best of several fresh processes, like the in-process cases (noise only slows)
        one = min((big_run(1_000_000) for _ in range(3)), key=lambda r: r["wall_s"])
        ten = min((big_run(10_000_000) for _ in range(3)), key=lambda r: r["wall_s"])
        big = {"1M": one, "10M": ten, "ratio_10M_to_1M": ten["wall_s"] / one["wall_s"]}
        rate = ten["requests"] / ten["wall_s"]
        rows.append(
            (
                "(d) 10M requests of (b)",
                rate,
                rate / base,
                f"{ten['wall_s']:.0f} s, peak RSS {ten['peak_rss_mb']:.0f} MB, "
                f"10M/1M time {big['ratio_10M_to_1M']:.2f}x",
            )
        )
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sim",
                "run",
                str(ROOT / "scenarios/alexa.yaml"),
                "--out",
                str(Path(d) / "alexa"),
                "--quiet",
            ],
            check=True,
            capture_output=True,
        )
        alexa_s = time.perf_counter() - start
    alexa = f"{alexa_s:.1f} s end to end"
    rows.append(("(e) fleetsim run scenarios/alexa.yaml", None, None, alexa))
    print()
    print(f"{'benchmark':48} {'req/s':>12} {'vs baseline':>12}  note")
    for label, rate, ratio, note in rows:
        if rate is None:
            print(f"{label:48} {'-':>12} {'-':>12}  {note}")
        else:
            print(f"{label:48} {rate:12,.0f} {ratio:11.1f}x  {note}")
    result = {
        "rows": [
            dict(zip(("benchmark", "requests_per_s", "ratio_to_textbook", "note"), r, strict=True))
            for r in rows
        ],
        "runs": runs,
        "big": big,
        "loop": loop,
        "peak_rss_mb_this_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    out = ROOT / "bench" / "results" / "engine_speed.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
