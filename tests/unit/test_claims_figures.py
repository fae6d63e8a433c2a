"""Claim figures from hand-made side results (sim.claims.figures): pairing and branches."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from helpers import ROOT

from sim.claims import figures
from sim.claims.sides import SideRun
from sim.claims.spec import load_claims

CLAIMS, SCENARIOS = load_claims(ROOT / "scenarios" / "claims" / "claims.yaml")
BY_ID = {c.id: c for c in CLAIMS.claims}


def side(instance, costs, p50_s, *, met=True, floor_s=None, stack=None):
    """A side's result as the planner would give it, with one row per replication."""
    reps = pd.DataFrame(
        {
            "replication": range(len(costs)),
            "cost_per_million_usd": costs,
            "latency_p50_s": p50_s,
            "latency_p99_s": [2 * x for x in p50_s],
            "pools.p.stack": [stack] * len(costs),
        }
    )
    row = {"instance": instance, "count": 4, "dtype": "bf16", "max_batch": 8,
           "projected": False, "slo_met": met, "cost_per_million_usd": costs[0]}  # fmt: skip
    scenario = SCENARIOS["search_inferentia.yaml"]
    return SideRun(Path("x.yaml"), scenario, Path("."), [row], reps, floor_s=floor_s)


def test_a_saving_is_paired_by_replication():
    """1 - a/b per replication (the same arrivals on both sides), then the t interval."""
    inf = side("inf2.xlarge", [0.10, 0.12, 0.11], [0.002] * 3)
    gpu = side("g5.xlarge", [0.20, 0.20, 0.22], [0.003] * 3, stack="tensorrt")
    outcome = figures.compare(BY_ID["amazon-search"], inf, gpu)
    savings = [1 - 0.10 / 0.20, 1 - 0.12 / 0.20, 1 - 0.11 / 0.22]
    assert outcome.figure.estimate == pytest.approx(sum(savings) / 3, rel=1e-12)
    assert outcome.figure.low < outcome.figure.estimate < outcome.figure.high
    assert outcome.figure.n == 3 and "paired" in outcome.figure.method
    assert outcome.verdict.kind == "reproduced"  # 0.483 >= 0.45 - 0.05
    assert outcome.stack == "tensorrt"
    assert outcome.comparison == "4 x g5.xlarge (bf16, tensorrt, batch 8)"
    assert "comparison candidates: g5.xlarge b8: 4 for $0.2000/M" in outcome.details


def test_a_latency_reduction_uses_the_claims_metric():
    """Alexa compares p50: 1 - 6/8 = 25% in every replication."""
    inf = side("inf1.xlarge", [0.1] * 2, [0.006, 0.006])
    gpu = side("g4dn.xlarge", [0.1] * 2, [0.008, 0.008])
    outcome = figures.compare(BY_ID["alexa"], inf, gpu)
    assert outcome.figure.estimate == pytest.approx(0.25)
    assert outcome.verdict.kind == "reproduced"
    slower = figures.compare(BY_ID["alexa"], gpu, inf)  # Inferentia slower: negative
    assert slower.figure.estimate == pytest.approx(1 - 8 / 6)
    assert slower.verdict.kind == "not reproduced"


def test_an_inferentia_side_under_its_latency_floor_is_not_plausible():
    """No Inferentia fleet can meet the SLO (floor above it): not plausible, with the floor."""
    inf = side("inf2.xlarge", [math.nan], [0.02], met=False, floor_s=0.0123)
    gpu = side("g5.xlarge", [0.2], [0.003])
    outcome = figures.compare(BY_ID["amazon-search"], inf, gpu)
    assert outcome.verdict.kind == "not plausible as stated"
    assert "12.30 ms" in outcome.verdict.explanation


def test_sides_that_miss_the_slo():
    """Inferentia misses (no floor): not reproduced; the comparison misses: not testable."""
    missed = side("inf2.xlarge", [0.1], [0.02], met=False)
    gpu = side("g5.xlarge", [0.2], [0.003])
    assert figures.compare(BY_ID["amazon-search"], missed, gpu).verdict.kind == "not reproduced"
    inf = side("inf2.xlarge", [0.1], [0.002])
    gpu_missed = side("g5.xlarge", [0.2], [0.03], met=False)
    outcome = figures.compare(BY_ID["amazon-search"], inf, gpu_missed)
    assert outcome.verdict.kind == "not testable"
    assert "no comparison fleet met the SLO" in outcome.verdict.explanation
    assert math.isnan(outcome.figure.estimate)  # no figure without a comparison


def test_efficiency_without_watts_is_not_testable_and_says_what_can_be_said():
    """Inferentia3 has no published watts: not testable, with the projected throughput ratio."""
    claim = BY_ID["inferentia3-efficiency"]
    scenario = SCENARIOS["bert_base_cost_inferentia.yaml"]
    outcome = figures.efficiency(claim, scenario, {})
    assert outcome.verdict.kind == "not testable"
    assert f"{outcome.figure.estimate:.2f}x" in outcome.verdict.explanation
    assert "PROJECTED" in outcome.verdict.explanation
    assumed = figures.efficiency(claim, scenario, {"inferentia3": 160.0})
    # equal watts per chip: the per-watt ratio is the per-chip ratio
    assert assumed.figure.estimate == pytest.approx(outcome.figure.estimate, rel=1e-12)
    assert assumed.verdict.kind in ("reproduced", "not reproduced")
