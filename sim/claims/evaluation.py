"""Evaluating one claim: run its sides, compute the figure with its interval, give a verdict.

The method (written out in ``claims.md`` too): at the same offered load, sequence mix and
latency SLO (the claims loader refuses sides that differ), ``fleetsim plan``'s planner finds
the cheapest fleet on each side that meets the SLO in every replication (instance type x
count x largest batch; GPUs on the stack their scenario names, by default the best
published, TensorRT). The figure is computed per replication at the chosen counts (the
replications share their arrivals: common random numbers), and its 95% interval is the
Student-t interval across replications. The sensitivity alternative re-runs the sides it
changes and gives the verdict again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hardware
from hardware import catalog
from sim.claims import figures
from sim.claims import verdicts as v
from sim.claims.figures import Outcome
from sim.claims.sides import RunOptions, SideRun, capacity_search, plan_side, scenario_for
from sim.claims.spec import Capacity, CostSaving, Efficiency, Headline, LatencyReduction
from sim.scenario.loading import load_scenario
from sim.scenario.schema import Scenario
from sim.scenario.units import format_duration


@dataclass
class ClaimResult:
    """A claim's row: what was simulated, the outcome, and the outcome under the alternative."""

    claim: Any
    simulated: dict[str, str]
    outcome: Outcome
    alternative: Outcome | None
    projected: bool

    @property
    def flips(self) -> bool:
        """True if the alternative assumption changes the verdict."""
        return self.alternative is not None and v.flips(
            self.outcome.verdict, self.alternative.verdict
        )


def evaluate(
    claim: Any,
    scenarios: dict[str, Scenario],
    claims_dir: Path,
    out_dir: Path,
    options: RunOptions,
) -> ClaimResult:
    """Run a claim (and its sensitivity alternative) and judge it."""
    inf_scenario = scenarios[claim.inferentia.scenario]
    comparison = getattr(claim, "comparison", None)
    instances = [*claim.inferentia.instances, *(comparison.instances if comparison else [])]
    projected = any(catalog.instance_type(i).projected for i in instances)
    outcome = _outcome(claim, claims_dir, out_dir / claim.id, options, {}, None)
    alternative = None
    if claim.sensitivity is not None:
        alternative = _outcome(
            claim, claims_dir, out_dir / claim.id, options, claim.sensitivity.set, claim.sensitivity
        )
    return ClaimResult(claim, describe(inf_scenario, outcome), outcome, alternative, projected)


def _outcome(
    claim: Any,
    claims_dir: Path,
    out_dir: Path,
    options: RunOptions,
    settings: dict[str, Any],
    sensitivity: Any,
) -> Outcome:
    """The outcome under the claim's assumptions, or under the alternative ``settings``."""
    tag = "-alternative" if sensitivity is not None else ""
    changed = set(sensitivity.sides) if sensitivity is not None else set()
    why = sensitivity.label if sensitivity is not None else "fleetsim claims --quick"

    def scenario(side_name: str) -> Path:
        side = getattr(claim, side_name)
        applied = settings if side_name in changed else {}
        suffix = tag if applied else ""
        return scenario_for(
            claims_dir / side.scenario, applied, out_dir, f"{side_name}{suffix}", why, options.quick
        )

    def plan(side_name: str) -> SideRun:
        suffix = tag if side_name in changed else ""
        return plan_side(
            getattr(claim, side_name),
            scenario(side_name),
            out_dir / f"{side_name}{suffix}",
            options,
        )

    if isinstance(claim, CostSaving | LatencyReduction):
        return figures.compare(claim, plan("inferentia"), plan("comparison"))
    if isinstance(claim, Capacity):
        suffix = tag if "inferentia" in changed else ""
        factors = claim.rate_factors[::2] if options.quick else claim.rate_factors
        run = capacity_search(
            claim.inferentia,
            scenario("inferentia"),
            out_dir / f"inferentia{suffix}",
            claim.claimed,
            factors,
            options,
        )
        return figures.capacity(claim, run)
    if isinstance(claim, Headline):
        return figures.headline(claim, plan("inferentia"))
    if isinstance(claim, Efficiency):
        watts = dict(sensitivity.watts) if sensitivity is not None else {}
        return figures.efficiency(claim, load_scenario(scenario("inferentia")), watts)
    raise TypeError(f"no evaluation for claim kind {claim.kind!r}")


def describe(scenario: Scenario, outcome: Outcome) -> dict[str, str]:
    """What was simulated: model, sequence lengths, load, SLO, stack, dtype, versions."""
    entry = scenario.workload.mix[0]
    return {
        "model": entry.model,
        "seq_lens": seq_lens_text(entry.seq_len),
        "load": load_text(scenario.workload.arrivals.model_dump(mode="json")),
        "slo": f"p{scenario.slo.percentile:g} <= {format_duration(scenario.slo.target)}",
        "run": f"{format_duration(scenario.duration)} (warm-up {format_duration(scenario.warmup)})",
        "gpu_stack": outcome.stack or "-",
        "dtype": outcome.dtype,
        "hardware_model_version": hardware.HARDWARE_MODEL_VERSION,
    }


def seq_lens_text(seq_len: Any) -> str:
    """``128``, ``16/32/64 tokens (weights 0.5/0.35/0.15)``, ``uniform 64-128 tokens``."""
    if seq_len is None or isinstance(seq_len, int):
        return "model default" if seq_len is None else f"{seq_len} tokens"
    data = seq_len.model_dump(mode="json")
    if data["kind"] == "fixed":
        return f"{data['value']} tokens"
    if data["kind"] == "uniform":
        return f"uniform {data['low']}-{data['high']} tokens"
    weights = data.get("weights")
    shown = f" (weights {'/'.join(f'{w:g}' for w in weights)})" if weights else " (equally likely)"
    return "/".join(str(x) for x in data["values"]) + f" tokens{shown}"


def load_text(arrivals: dict[str, Any]) -> str:
    """``Poisson 5,000 req/s``; other kinds by their fields."""
    kind = arrivals.pop("kind")
    if kind == "poisson":
        return f"Poisson {arrivals['rate']:,.0f} req/s"
    if kind == "diurnal":
        return (
            f"diurnal, mean {arrivals['mean_rate']:,.0f} req/s, peak "
            f"{arrivals['peak_to_mean']:g}x the mean (the run spans the peak)"
        )
    return f"{kind} " + ", ".join(f"{k} {x}" for k, x in arrivals.items() if x is not None)
