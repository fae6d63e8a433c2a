"""The search for each candidate's smallest instance count that meets the SLO.

For every candidate at once: start at the analytic lower bound (``sim.planning.bounds``),
grow the count geometrically until the SLO is met in every replication, then bisect
between the largest count that misses and the smallest that meets, and finally run one
instance fewer than the answer if nothing has yet (so every answer is shown, by simulation,
to be the smallest). Each round runs its counts for all candidates in parallel on the
sweep machinery (``sim.sweep.SweepSession``): as many counts per candidate as the workers
can take, each with replications ``0..R-1`` exactly as a sweep runs them (common random
numbers across candidates and counts). Results are cached in the plan directory's points,
so a plan run again, or with one more candidate, re-uses every count already simulated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.sweeps import RUN_SUMMARY, failure_file, replication_dir
from sim.planning.bounds import lower_bound_count, unloaded_latency_s
from sim.planning.candidates import Candidate, candidate_point
from sim.scenario.errors import ScenarioError
from sim.sweep.points import Point
from sim.sweep.runner import SweepSession
from sim.sweep.tasks import read_failure

GROWTH = 1.5  # factor between counts tried before the SLO is first met


@dataclass
class Evaluation:
    """One candidate at one count, over every replication.

    Attributes:
        count: Instances in the planned pool.
        point_id: The point's hash (its results: ``points/point_id=<id>``).
        p99_s: The 99th-percentile latency of each replication (s; NaN where it failed).
        met: The SLO was met in every replication (drops count as misses).
        utilisation: The planned pool's utilisation, mean over replications.
        usd_per_hour: The whole fleet's On-Demand price (USD per hour).
        cost_per_million_usd: Cost per million inferences, mean over replications (USD).
        cores_per_replica: Cores per replica as run (``auto`` resolved).
        error: Why a replication failed, if one did.

    """

    count: int
    point_id: str
    p99_s: list[float]
    met: bool
    utilisation: float
    usd_per_hour: float
    cost_per_million_usd: float
    cores_per_replica: int | None
    error: str | None = None


@dataclass
class CandidateResult:
    """What the search found for one candidate.

    Attributes:
        candidate: The fleet design.
        lower_bound: The analytic lower bound on the count.
        bound_reason: How the bound was found (or why there is none).
        max_count: The largest count the search may try.
        evaluations: Every count simulated, by count.
        answer: The smallest count that meets the SLO (None if none up to ``max_count``).
        error: Why the candidate cannot run at all (the model does not fit, ...).
        floor_s: The SLO percentile of the latency in an idle pool (s), when it exceeds the
            SLO target: no count can meet it (only the largest count is run, for its p99).

    """

    candidate: Candidate
    lower_bound: int = 1
    bound_reason: str = ""
    max_count: int = 1
    evaluations: dict[int, Evaluation] = field(default_factory=dict)
    answer: int | None = None
    error: str | None = None
    floor_s: float | None = None
    _assumed_below: int = 0  # counts up to this are taken to miss (the bound) until tried

    @property
    def chosen(self) -> Evaluation | None:
        """The evaluation to report: the answer, else the count with the best p99."""
        if self.answer is not None:
            return self.evaluations[self.answer]
        tried = [e for e in self.evaluations.values() if not math.isnan(_worst(e.p99_s))]
        return min(tried, key=lambda e: _worst(e.p99_s), default=None)

    def next_counts(self, slots: int) -> list[int]:
        """Counts to try next (up to ``slots``); empty once the search is over."""
        if self.error is not None or self.answer is not None:
            return []
        met = [c for c, e in self.evaluations.items() if e.met]
        hi = min(met, default=None)
        if hi is not None and hi <= self._assumed_below:
            self._assumed_below = 0  # the bound was wrong: search below it too
        missed = [c for c, e in self.evaluations.items() if not e.met and (hi is None or c < hi)]
        lo = max([*missed, self._assumed_below])
        if hi is None:  # not met yet: grow geometrically, up to the largest count allowed
            if lo >= self.max_count:
                return []  # missed at the largest count allowed
            count = lo + 1 if lo == self._assumed_below else max(lo + 1, math.ceil(lo * GROWTH))
            counts = []
            while len(counts) < slots and count < self.max_count:
                counts.append(count)
                count = max(count + 1, math.ceil(count * GROWTH))
            if len(counts) < slots:
                counts.append(self.max_count)
            return counts
        if hi - lo > 1:  # bisect (k-sect, with k counts in parallel)
            k = min(slots, hi - lo - 1)
            step = (hi - lo) / (k + 1)
            return sorted({lo + max(1, round(step * i)) for i in range(1, k + 1)})
        if lo >= 1 and lo not in self.evaluations:
            return [lo]  # one fewer than the answer: show it misses
        self.answer = hi
        return []


def _worst(values: list[float]) -> float:
    """The largest of the values (NaN if any is NaN)."""
    return max(values) if values and not any(math.isnan(v) for v in values) else math.nan


def plan_candidates(
    session: SweepSession,
    base: dict[str, Any],
    base_dir: Path,
    pool_index: int,
    candidates: list[Candidate],
    *,
    replications: int,
    max_count: int,
    on_round: Callable[[int, dict[Candidate, list[int]]], None] | None = None,
) -> tuple[list[CandidateResult], list[Point]]:
    """Find each candidate's smallest count meeting the SLO in every replication.

    Args:
        session: An open sweep session on the plan directory.
        base: The scenario's data (``sim.sweep.points.load_base``).
        base_dir: Where its relative data files start.
        pool_index: The pool being sized.
        candidates: The designs to size.
        replications: Replications of every count (0..R-1).
        max_count: The largest count to try.
        on_round: Called with the round number and the counts it runs.

    Returns:
        The result of each candidate, and every point simulated.

    """
    results = [CandidateResult(c, max_count=max_count) for c in candidates]
    for result in results:
        _bound(result, base, base_dir, pool_index)
    points: dict[str, Point] = {}
    slots = max(1, session.start().slots // replications) if results else 1
    round_number = 0
    while True:
        active = [r for r in results if r.error is None and r.answer is None]
        per_candidate = max(1, slots // max(1, len(active)))
        wanted = {r.candidate: r.next_counts(per_candidate) for r in active}
        wanted = {c: counts for c, counts in wanted.items() if counts}
        if not wanted:
            break
        round_number += 1
        if on_round is not None:
            on_round(round_number, wanted)
        batch: dict[tuple[Candidate, int], Point] = {}
        for candidate, counts in wanted.items():
            for count in counts:
                batch[candidate, count] = candidate_point(
                    base, base_dir, pool_index, candidate, count
                )
        unique = list({p.point_id: p for p in batch.values()}.values())
        points.update({p.point_id: p for p in unique})
        session.run(unique, session.tasks(unique, replications, "summary", 0.01))
        by_candidate = {r.candidate: r for r in results}
        for (candidate, count), point in batch.items():
            by_candidate[candidate].evaluations[count] = _evaluate(
                session.out_dir, point, count, pool_index, replications
            )
    return results, list(points.values())


def _bound(result: CandidateResult, base: dict[str, Any], base_dir: Path, index: int) -> None:
    """Set the candidate's lower bound, or its error if it cannot run the scenario."""
    try:
        point = candidate_point(base, base_dir, index, result.candidate, 1)
    except ScenarioError as exc:
        result.error = "; ".join(message for _, message, _ in exc.problems)
        return
    pool = point.scenario.fleet[index].name
    count, reason = lower_bound_count(point.scenario, pool)
    result.lower_bound, result.bound_reason = count, reason
    result._assumed_below = min(count, result.max_count) - 1  # the largest count is run
    floor = unloaded_latency_s(point.scenario, pool)
    if floor is not None and floor > point.scenario.slo.target:
        result.floor_s = floor
        result._assumed_below = result.max_count - 1  # run only the largest count


def _evaluate(out_dir: Path, point: Point, count: int, index: int, reps: int) -> Evaluation:
    """Read one count's replications back from their ``summary.json``."""
    summaries, errors = [], []
    for replication in range(reps):
        path = replication_dir(out_dir, point.point_id, replication) / RUN_SUMMARY
        try:
            summaries.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            errors.append(read_failure(failure_file(out_dir, point.point_id, replication)))
    pool_name = point.scenario.fleet[index].name
    p99 = [float(s["latency_p99_s"]) if s["latency_p99_s"] is not None else math.nan
           for s in summaries] + [math.nan] * len(errors)  # fmt: skip
    met = not errors and all(bool(s["slo_met"]) for s in summaries)
    first = summaries[0] if summaries else None
    return Evaluation(
        count=count,
        point_id=point.point_id,
        p99_s=p99,
        met=met,
        utilisation=_mean([s["utilisation"][pool_name] for s in summaries]),
        usd_per_hour=sum(p["usd_per_hour"] * p["count"] for p in first["pools"])
        if first
        else math.nan,
        cost_per_million_usd=_mean([s["cost_per_million_usd"] for s in summaries]),
        cores_per_replica=first["pools"][index]["cores_per_replica"] if first else None,
        error=errors[0] if errors else None,
    )


def _mean(values: list[Any]) -> float:
    """Mean of the numbers (None counts as NaN); NaN for none."""
    numbers = [math.nan if v is None else float(v) for v in values]
    return sum(numbers) / len(numbers) if numbers else math.nan
