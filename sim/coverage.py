"""Do the analysis intervals cover the truth? Measured on M/M/1, whose p99 is known.

An M/M/1 queue (Poisson arrivals at rate lambda, one server, exponential service at rate
mu, FIFO) has an exponential sojourn time with rate mu - lambda, so its p99 latency is
``ln(100) / (mu - lambda)`` (``analysis.queueing.mm1_sojourn_quantile_s``). Each of many
seeded runs gives a batch-means interval for the p99 (``analysis.percentile_interval``);
the share of intervals that contain the true p99 is the *coverage*, which should be close
to the nominal 95%. Groups of runs also give replication intervals
(``analysis.replication_interval``) whose coverage is checked the same way.

Used by ``tests/statistical/test_interval_coverage.py`` and ``bench/interval_coverage.py``.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from analysis import percentile_interval, replication_interval
from analysis.estimates import DEFAULT_BATCHES
from analysis.queueing import mm1_sojourn_quantile_s
from sim.engine.api import run
from sim.scenario.loading import parse_scenario
from sim.selfcheck import queue_scenario

SEED = 20261201
"""First seed of the coverage runs (run i uses SEED + i)."""
SERVICE_RATE_PER_S = 1000.0  # mu: 1 ms mean service


@dataclass(frozen=True)
class Coverage:
    """How often intervals of one kind contained the truth.

    Attributes:
        method: ``"batch means (10 batches)"`` or ``"replications (5)"``.
        intervals: Intervals made (runs, or groups of runs).
        covered: How many contained the truth.
        mean_relative_width: Mean of (high - low) / truth.
        without: Intervals that could not be made (NaN ends).

    """

    method: str
    intervals: int
    covered: int
    mean_relative_width: float
    without: int = 0

    @property
    def coverage(self) -> float:
        """The share of intervals that contained the truth (0..1)."""
        return self.covered / self.intervals if self.intervals else math.nan

    def binomial_sd(self, nominal: float = 0.95) -> float:
        """Standard deviation of the coverage of ``intervals`` intervals at ``nominal``."""
        return math.sqrt(nominal * (1 - nominal) / self.intervals)

    def describe(self) -> str:
        """One line: method, coverage with its count, mean width, missing intervals."""
        return (
            f"{self.method}: coverage {self.coverage:.1%} ({self.covered}/{self.intervals}), "
            f"mean width {self.mean_relative_width:.1%} of the truth"
            + (f", {self.without} without an interval" if self.without else "")
        )


def mm1_scenario(rho: float, requests: int, warmup_fraction: float = 0.02) -> dict:
    """An M/M/1 scenario (dict as in YAML) at utilisation ``rho`` with about ``requests``."""
    rate = rho * SERVICE_RATE_PER_S
    service = {"kind": "exponential", "mean": f"{1.0 / SERVICE_RATE_PER_S!r}s"}
    data = queue_scenario(f"mm1-coverage-{rho}", rate, service, requests / rate,
                          warmup_fraction=warmup_fraction)  # fmt: skip
    data["slo"] = {"percentile": 99, "target": "1s"}
    return data


Spec = tuple[int, int | None]
"""(batches asked, min_per_batch): None is the default rule (analysis.estimates)."""
Job = tuple[dict, int, tuple[Spec, ...], float, str, str]


def _one(args: Job) -> list[tuple[float, float, float, int]]:
    """One seeded run: (estimate, low, high, batches used) of the q-percentile per spec."""
    data, seed, specs, q, engine, directory = args
    out_dir = Path(directory) / f"run-{seed}"
    run(parse_scenario(yaml.safe_dump(data)), out_dir, seed=seed, engine=engine)
    out = []
    for batches, min_per_batch in specs:
        interval = percentile_interval(out_dir, q, batches=batches, min_per_batch=min_per_batch)
        out.append((interval.estimate, interval.low, interval.high, interval.n))
    for path in out_dir.iterdir():
        path.unlink()
    out_dir.rmdir()
    return out


def percentile_runs(
    rho: float,
    runs: int,
    requests: int,
    specs: Sequence[Spec] = ((DEFAULT_BATCHES, None),),
    q: float = 99.0,
    *,
    seed: int = SEED,
    engine: str = "auto",
    workers: int = 2,
) -> np.ndarray:
    """Seeded M/M/1 runs and their percentile intervals.

    Args:
        rho: Utilisation lambda / mu.
        runs: Seeded runs (run i uses seed ``seed + i``).
        requests: Requests per run (about).
        specs: (batches asked, min_per_batch) per interval to make on each run.
        q: The percentile, in %.
        seed: The first seed.
        engine: The engine of the runs.
        workers: Processes running them.

    Returns:
        Array (runs, len(specs), 4): estimate, low, high (s) and the batches used.

    """
    data = mm1_scenario(rho, requests)
    with tempfile.TemporaryDirectory() as directory:
        jobs = [(data, seed + i, tuple(specs), q, engine, directory) for i in range(runs)]
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                results = list(pool.map(_one, jobs, chunksize=4))
        else:
            results = [_one(job) for job in jobs]
    return np.asarray(results, dtype=float)


def batch_means_coverage(results: np.ndarray, truth_s: float, j: int, label: str) -> Coverage:
    """Coverage of the ``j``-th spec's batch-means intervals of ``percentile_runs``."""
    low, high, used = results[:, j, 1], results[:, j, 2], results[:, j, 3]
    made = ~(np.isnan(low) | np.isnan(high))
    covered = int(((low <= truth_s) & (truth_s <= high))[made].sum())
    width = float(np.mean((high - low)[made]) / truth_s) if made.any() else math.nan
    batches = sorted({int(b) for b in used[made]})
    if not batches:
        shown = "no interval: too few requests,"
    else:
        shown = f"{batches[0]}" if len(batches) == 1 else f"{batches[0]}-{batches[-1]}"
    return Coverage(f"batch means, {label} ({shown} batches used)", int(made.sum()), covered,
                    width, int((~made).sum()))  # fmt: skip


def replication_coverage(estimates_s: np.ndarray, truth_s: float, group: int) -> Coverage:
    """Coverage of replication intervals over consecutive groups of ``group`` runs' estimates."""
    groups = len(estimates_s) // group
    covered, widths = 0, []
    for g in range(groups):
        interval = replication_interval(estimates_s[g * group : (g + 1) * group])
        covered += interval.contains(truth_s)
        widths.append((interval.high - interval.low) / truth_s)
    return Coverage(f"replications ({group})", groups, covered, float(np.mean(widths)))


def truth_s(rho: float, q: float = 99.0) -> float:
    """The true q-percentile (s) of the M/M/1 sojourn time at utilisation ``rho``."""
    return mm1_sojourn_quantile_s(rho * SERVICE_RATE_PER_S, SERVICE_RATE_PER_S, q / 100.0)
