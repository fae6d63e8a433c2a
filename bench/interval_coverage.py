"""Measure the coverage of the p99 intervals on M/M/1 (the table in docs/analysis.md).

    python bench/interval_coverage.py                   # 200 runs of 100,000 requests, rho 0.7
    python bench/interval_coverage.py --runs 1000 --rho 0.9 --requests 400000

Per batch count (10, 20, 30 with no minimum batch size, then the default: 10 asked with the
minimum of ``analysis.estimates.needed_per_batch``), prints the share of runs whose
batch-means interval contains the true p99 = ln(100) / (mu - lambda) and the mean
interval width, and ``se/sd``: the batch-means standard error (root mean square over the
runs) over the actual run-to-run standard deviation of the estimate (1.0: the batches
measure the error right; below 1: they understate it). Then the coverage of replication
intervals over groups of 5 runs.
``sim.coverage`` holds the method.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from analysis.estimates import DEFAULT_BATCHES
from sim.coverage import (
    SEED,
    batch_means_coverage,
    percentile_runs,
    replication_coverage,
    truth_s,
)


def main() -> None:
    """Run the measurement and print the table (markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rho", type=float, default=0.7)
    parser.add_argument("--requests", type=int, default=100_000, help="requests per run")
    parser.add_argument("--batches", default="10,20,30", help="batch counts, comma-separated")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engine", default="auto")
    args = parser.parse_args()
    counts = [int(b) for b in args.batches.split(",")]
    specs = [(k, 1) for k in counts] + [(DEFAULT_BATCHES, None)]
    labels = [f"{k} asked, no minimum" for k in counts] + [f"default ({DEFAULT_BATCHES} asked)"]
    start = time.perf_counter()
    results = percentile_runs(args.rho, args.runs, args.requests, specs, seed=args.seed,
                              engine=args.engine, workers=args.workers)  # fmt: skip
    truth = truth_s(args.rho)
    print(f"M/M/1 rho={args.rho}, {args.requests:,} requests per run, {args.runs} runs "
          f"(seeds {args.seed}..{args.seed + args.runs - 1}), true p99 {truth * 1e3:.4f} ms, "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    print("| interval | requests per batch | coverage | covered | mean width (% of p99) "
          "| se/sd |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    sd = float(np.std(results[:, 0, 0], ddof=1))
    for j, label in enumerate(labels):
        cov = batch_means_coverage(results, truth, j, label)
        used = results[:, j, 3]
        per_batch = f"{args.requests // int(used.max()):,}" if used.max() > 0 else "-"
        t = stats.t.ppf(0.975, np.maximum(used, 2) - 1)
        se = (results[:, j, 2] - results[:, j, 1]) / 2 / t
        ratio = float(np.sqrt(np.nanmean(se**2)) / sd)
        print(f"| {cov.method} | {per_batch} | {cov.coverage:.1%} | {cov.covered}/"
              f"{cov.intervals} | {cov.mean_relative_width:.1%} | {ratio:.2f} |")  # fmt: skip
    rep = replication_coverage(results[:, 0, 0], truth, 5)
    print(f"| {rep.method} | - | {rep.coverage:.1%} | {rep.covered}/{rep.intervals} | "
          f"{rep.mean_relative_width:.1%} | - |")  # fmt: skip


if __name__ == "__main__":
    main()
