"""Sweep speed: serial against a 2-worker Dask LocalCluster, per-point overhead, trace modes.

Prints a table and writes it to bench/results/sweep_speed.json. Not a test: timings on a
shared machine are noisy, so each figure is a ratio to a baseline measured in this run.

    python bench/sweep_speed.py            # about three minutes on 2 cores

(a) The same 16-point sweep (points of ~2 s: Amazon Search's ranker fleet at 20,000
    requests/s for 240 simulated seconds, counts 8..15 x max batch 4, 8) run serially in this
    process and on a 2-worker LocalCluster: both wall times and their ratio (target <= 0.6
    on 2 cores), with the cluster's start-up included and, separately, on a warm cluster.
(b) 200 tiny points (100 requests each) on a warm 2-worker cluster: the overhead per point
    (scheduling, start-up of the run, validation, staging and writing) = worker-seconds per
    point minus the simulation's own wall time (``summary.json``'s ``wall_s``); target
    <= 0.2 s.
(c) The sweep of (a) with ``trace: summary`` and with ``trace: full``: time and disk.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.sweep import SweepSession, build_points, load_sweep_spec, run_sweep  # noqa: E402

TINY = {
    "name": "tiny",
    "seed": 7,
    "duration": "200ms",
    "warmup": "0s",
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
        }
    ],
    "balancer": "power_of_two",
    "slo": {"percentile": 99, "target": "10ms"},
}


def write(directory: Path, name: str, sweep: dict) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def timed_sweep(path: Path, out: Path, **options) -> float:
    start = time.perf_counter()
    result = run_sweep(path, out, **options)
    assert not result.failed, result.failed
    return time.perf_counter() - start


def warm_run(path: Path, out: Path) -> tuple[float, float]:
    """Wall time (s) of a sweep on a 2-worker cluster started beforehand; and its start-up."""
    spec = load_sweep_spec(path)
    points = build_points(spec, path)
    with SweepSession(out, workers=2) as session:
        start = time.perf_counter()
        session.start()
        startup = time.perf_counter() - start
        tasks = session.tasks(points, spec.replications, spec.trace, spec.sample_fraction)
        start = time.perf_counter()
        outcomes = session.run(points, tasks)
        wall = time.perf_counter() - start
    assert all(o.status == "ok" for o in outcomes.values())
    return wall, startup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", type=int, default=200, help="points in (b)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fleetsim-sweep-bench-"))
    try:
        base = work / "base.yaml"
        shutil.copy(ROOT / "scenarios" / "amazon_search.yaml", base)
        sixteen = {
            "name": "sixteen",
            "base": "base.yaml",
            "duration": "240s",
            "axes": [{"grid": {"fleet.0.count": list(range(8, 16)),
                               "fleet.0.batching.max_batch": [4, 8]}}],
            "trace": "summary",
        }  # fmt: skip
        path = write(work, "sixteen", sixteen)
        serial = timed_sweep(path, work / "serial", serial=True)
        cold = timed_sweep(path, work / "cold", workers=2)
        warm, startup = warm_run(path, work / "warm")
        full_path = write(work, "sixteen-full", {**sixteen, "trace": "full"})
        full = timed_sweep(full_path, work / "full", workers=2)
        summary_disk = disk_bytes(work / "cold")
        full_disk = disk_bytes(work / "full")

        (work / "tiny.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
        tiny = {
            "name": "tiny-points",
            "base": "tiny.yaml",
            "axes": [{"grid": {"seed": list(range(args.tiny))}}],
            "trace": "summary",
        }
        tiny_path = write(work, "tiny-points", copy.deepcopy(tiny))
        tiny_wall, _ = warm_run(tiny_path, work / "tiny")
        walls = [
            json.loads(f.read_text())["wall_s"]
            for f in (work / "tiny" / "points").glob("*/*/summary.json")
        ]
        assert len(walls) == args.tiny, len(walls)
        simulated = sum(walls) / len(walls)
        per_point = tiny_wall * 2 / args.tiny
        results = {
            "date": time.strftime("%Y-%m-%d"),
            "cores": len(os.sched_getaffinity(0)),
            "a_serial_s": serial,
            "a_local_cluster_cold_s": cold,
            "a_cluster_startup_s": startup,
            "a_local_cluster_warm_s": warm,
            "a_ratio_cold": cold / serial,
            "a_ratio_warm": warm / serial,
            "b_points": args.tiny,
            "b_wall_s": tiny_wall,
            "b_worker_s_per_point": per_point,
            "b_simulation_s_per_point": simulated,
            "b_overhead_s_per_point": per_point - simulated,
            "c_summary_s": cold,
            "c_full_s": full,
            "c_summary_bytes": summary_disk,
            "c_full_bytes": full_disk,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        ("(a) 16 points serially", f"{results['a_serial_s']:.1f} s"),
        ("(a) 2-worker LocalCluster, start-up included",
         f"{results['a_local_cluster_cold_s']:.1f} s = {results['a_ratio_cold']:.2f} x serial"),
        ("(a) 2-worker LocalCluster, warm",
         f"{results['a_local_cluster_warm_s']:.1f} s = {results['a_ratio_warm']:.2f} x serial"),
        ("(a) cluster start-up", f"{results['a_cluster_startup_s']:.1f} s"),
        (f"(b) {args.tiny} tiny points, warm cluster", f"{results['b_wall_s']:.1f} s"),
        ("(b) worker-seconds per point", f"{results['b_worker_s_per_point']:.3f} s"),
        ("(b) of which simulation", f"{results['b_simulation_s_per_point']:.4f} s"),
        ("(b) overhead per point", f"{results['b_overhead_s_per_point']:.3f} s (target <= 0.2)"),
        ("(c) trace: summary", f"{results['c_summary_s']:.1f} s, "
                               f"{results['c_summary_bytes'] / 1e6:.2f} MB"),
        ("(c) trace: full", f"{results['c_full_s']:.1f} s, {results['c_full_bytes'] / 1e6:.1f} MB"),
    ]  # fmt: skip
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label:<{width}}  {value}")
    out = ROOT / "bench" / "results" / "sweep_speed.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
