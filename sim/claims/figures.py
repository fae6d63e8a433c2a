"""The figure of each kind of claim, computed from its sides' runs, and its verdict.

- a saving or a reduction (``cost_saving``, ``latency_reduction``): ``1 - inferentia / other``
  per replication at the chosen counts (paired: replication r of both fleets sees the same
  arrivals), with its Student-t interval;
- a capacity: the largest Poisson rate one instance sustains at the SLO (a rate search; the
  interval is the bracket up to the next rate missed);
- a headline (throughput at a latency at a price): each part, from the plan and the hardware
  model, the worst part deciding;
- an efficiency: accelerator throughput per chip from the hardware model, per watt where
  watts exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import hardware
from hardware import catalog
from hardware.catalog.power import chip_power
from sim.claims import verdicts as v
from sim.claims.intervals import replication_interval
from sim.claims.sides import (
    SideRun,
    accelerator_capacity_per_s,
    best_capacity_per_s,
    latency_floor_s,
)
from sim.claims.spec import Capacity, CostSaving, Efficiency, Headline, LatencyReduction
from sim.scenario.schema import Scenario
from sim.scenario.units import format_duration


@dataclass
class Outcome:
    """A claim evaluated under one set of assumptions.

    Attributes:
        figure: The simulated figure and its interval.
        verdict: The verdict and its explanation.
        inferentia: The Inferentia side's chosen fleet, in words.
        comparison: The comparison side's chosen fleet ("" if none).
        stack: The GPU serving stack of the comparison side ("" if none).
        details: Further facts for ``claims.md`` (other figures, floors, prices).

    """

    figure: v.Figure
    verdict: v.Verdict
    inferentia: str = ""
    comparison: str = ""
    stack: str = ""
    dtype: str = ""
    details: list[str] = field(default_factory=list)


def paired(a: list[float], b: list[float], name: str, unit: str = "fraction") -> v.Figure:
    """1 - a/b per replication (a reduction of a against b), with its interval."""
    values = [1 - x / y for x, y in zip(a, b, strict=False) if y > 0]
    estimate, low, high, method, n = replication_interval(values)
    return v.Figure(name, estimate, low, high, unit, f"{method}, paired", n)


def compare(claim: CostSaving | LatencyReduction, inf: SideRun, gpu: SideRun) -> Outcome:
    """A saving (cost per million) or a reduction (latency) of the cheapest verified fleets."""
    metric = "cost_per_million_usd" if isinstance(claim, CostSaving) else claim.metric
    what = "cost saving" if isinstance(claim, CostSaving) else f"{_metric_name(metric)} reduction"
    figure = paired(inf.column(metric), gpu.column(metric), f"{what} vs {gpu.best['instance']}")
    stack = _stack(gpu)
    outcome = Outcome(
        figure,
        v.untestable(""),
        inf.fleet(),
        gpu.fleet(),
        stack,
        f"{inf.best['dtype']} / {gpu.best['dtype']}",
    )
    for label, run in (("Inferentia", inf), ("comparison", gpu)):
        outcome.details.append(
            f"{label}: {run.fleet()}: "
            + ", ".join(
                f"{_metric_name(m)} {_mean_text(run.column(m), m)}"
                for m in ("cost_per_million_usd", "latency_p50_s", "latency_p99_s")
            )
        )
    for label, run in (("Inferentia candidates", inf), ("comparison candidates", gpu)):
        outcome.details.append(f"{label}: " + ", ".join(_candidate(row) for row in run.rows))
    target = format_duration(inf.scenario.slo.target)
    claimed_text = f"{claim.claimed:.0%}"
    if not inf.met and inf.floor_s is not None:
        floor = v.Figure(
            "latency floor of one request on an idle Inferentia pool", inf.floor_s * 1e3, unit="ms"
        )
        outcome.verdict = v.impossible(
            floor,
            f"SLO {target}",
            "no Inferentia fleet of the candidates can meet the SLO the claim states",
        )
    elif not inf.met:
        outcome.verdict = v.Verdict(
            v.VerdictKind.not_reproduced,
            f"no Inferentia fleet up to {claim.inferentia.max_count} "
            f"instances met the SLO ({inf.fleet()})",
        )
    elif not gpu.met:
        outcome.figure = v.Figure(figure.name, math.nan, unit=figure.unit, method="no figure", n=0)
        outcome.verdict = v.untestable(
            f"no comparison fleet met the SLO ({gpu.fleet()}, the best tried), so there is "
            f"no comparison figure; the Inferentia side met it with {inf.fleet()}"
        )
    else:
        outcome.verdict = v.at_least(figure, claim.claimed, claim.tolerance, claimed_text)
    return outcome


def capacity(claim: Capacity, run: SideRun) -> Outcome:
    """The largest rate one instance sustains at the SLO against the claimed rate."""
    rate, missed = run.extra["rate_per_s"], run.extra["missed_per_s"]
    figure = v.Figure(
        f"largest rate one {run.best['instance']} sustains at the SLO",
        rate,
        rate,
        missed,
        "req/s",
        "rate search bracket: met .. next rate missed",
        len(run.reps),
    )
    fleet = f"1 x {run.best['instance']} ({run.best['dtype']}, batch {run.extra['max_batch']})"
    outcome = Outcome(figure, v.untestable(""), fleet, dtype=run.best["dtype"])
    floor = latency_floor_s(run.scenario, run.best["instance"])
    if math.isnan(rate) and floor is not None and floor > run.scenario.slo.target:
        shown = v.Figure("latency floor of one idle instance", floor * 1e3, unit="ms")
        outcome.verdict = v.impossible(
            shown, f"{claim.claimed:,.0f} req/s", "the SLO cannot be met at any rate"
        )
        return outcome
    if math.isnan(rate):
        outcome.verdict = v.Verdict(
            v.VerdictKind.not_reproduced,
            f"not even the lowest rate tried ({figure.show(missed)}) met the SLO",
        )
        return outcome
    tp = run.column("throughput_per_s")
    outcome.details.append(
        f"at {figure.show(rate)} offered: throughput {_mean_text(tp, 'x')} "
        f"req/s, p99 {_mean_text(run.column('latency_p99_s'), 'latency_p99_s')}"
    )
    outcome.verdict = v.at_least(
        figure, claim.claimed, claim.tolerance * claim.claimed, f"{claim.claimed:,.0f} req/s"
    )
    return outcome


def headline(claim: Headline, run: SideRun) -> Outcome:
    """Throughput, latency and price of one Inferentia instance, each checked."""
    scenario, instances = run.scenario, claim.inferentia.instances
    p99 = [x * 1e3 for x in run.column("latency_p99_s")]
    estimate, low, high, method, n = replication_interval(p99)
    figure = v.Figure(
        f"best p99 of any {run.best['instance']} fleet ({run.best['count']} instances)",
        estimate,
        low,
        high,
        "ms",
        method,
        n,
    )
    outcome = Outcome(figure, v.untestable(""), run.fleet(), dtype=run.best["dtype"])
    target_ms = claim.claimed_latency * 1e3
    floors = {i: latency_floor_s(scenario, i, 1) for i in instances}  # batch of one: no wait
    best_floor = min(f for f in floors.values() if f is not None) * 1e3
    floor_text = ", ".join(f"{i} {f * 1e3:.2f} ms" for i, f in floors.items() if f is not None)
    latency = (
        v.impossible(
            figure,
            f"under {target_ms:g} ms",
            f"one request alone on an idle "
            f"instance already takes {best_floor:.2f} ms at the SLO percentile "
            f"({floor_text})",
        )
        if best_floor > target_ms
        else v.at_most(figure, target_ms, f"under {target_ms:g} ms")
    )
    largest = max(claim.inferentia.max_batches or [scenario.fleet[0].batching.max_batch])
    capacities = {i: best_capacity_per_s(scenario, i, largest)[0] for i in instances}
    top = max(capacities, key=capacities.__getitem__)
    capacity = v.Figure(
        f"full-load throughput of one {top} (best batching, no latency bound)",
        capacities[top],
        unit="req/s",
    )
    throughput = v.at_least(capacity, claim.claimed_per_s, 0.0, f"{claim.claimed_per_s:,.0f}/s")
    family = catalog.instance_type(instances[0]).family
    prices = {
        n: catalog.instance_type(n).usd_per_hour
        for n in catalog.instance_type_names()
        if catalog.instance_type(n).family == family
    }
    nearest = min(prices, key=lambda n: abs(prices[n] - claim.claimed_usd_per_hour))
    price_fig = v.Figure(f"nearest {family} price ({nearest})", prices[nearest], unit="USD/h")
    price_text = f"${claim.claimed_usd_per_hour:.2f}/h"
    off = abs(prices[nearest] / claim.claimed_usd_per_hour - 1)
    price = (
        v.impossible(
            price_fig,
            price_text,
            f"no {family} size costs within "
            f"{claim.price_tolerance:.0%} of it ("
            + ", ".join(f"{n} ${p:.3f}" for n, p in sorted(prices.items(), key=lambda x: x[1]))
            + ")",
        )
        if off > claim.price_tolerance
        else v.Verdict(v.VerdictKind.reproduced, f"{nearest} costs ${prices[nearest]:.3f}/h")
    )
    outcome.verdict = v.combine(
        [("latency", latency), ("throughput", throughput), ("price", price)]
    )
    outcome.details += [
        "full-load throughput per instance: "
        + ", ".join(f"{i} {c:,.0f} req/s" for i, c in capacities.items()),
        f"latency floor at the SLO percentile: {floor_text}",
        f"prices: {', '.join(f'{n} ${p:.3f}/h' for n, p in sorted(prices.items()))}",
    ]
    return outcome


def efficiency(claim: Efficiency, scenario: Scenario, assumed_watts: dict[str, float]) -> Outcome:
    """Throughput per chip (and per watt, where watts exist) of two instance types."""
    a, b = claim.inferentia.instances[0], claim.comparison.instances[0]
    batch = (claim.inferentia.max_batches or [scenario.fleet[0].batching.max_batch])[0]
    per_chip = {
        i: accelerator_capacity_per_s(scenario, i, batch) / catalog.instance_type(i).chips
        for i in (a, b)
    }
    with_host = {
        i: best_capacity_per_s(scenario, i, batch)[0] / catalog.instance_type(i).chips
        for i in (a, b)
    }
    ratio = per_chip[a] / per_chip[b]
    chips = {i: catalog.instance_type(i).chip.name for i in (a, b)}
    watts = {i: assumed_watts.get(chips[i], chip_power(chips[i]).watts) for i in (a, b)}
    figure = v.Figure(
        f"projected accelerator throughput per chip, {a} / {b}",
        ratio,
        unit="x",
        method=f"hardware model, full batches of {batch} (exact)",
    )
    dtypes = " / ".join(hardware.resolve_dtype(i, "auto") for i in (a, b))
    outcome = Outcome(figure, v.untestable(""), f"1 x {a}", f"1 x {b}", dtype=dtypes)
    outcome.details.append(
        "accelerator throughput per chip (service time only): "
        + ", ".join(f"{i} {t:,.0f} req/s" for i, t in per_chip.items())
        + "; with the host stage each "
        "replica also waits for: "
        + ", ".join(f"{i} {t:,.0f} req/s" for i, t in with_host.items())
        + f" ({with_host[a] / with_host[b]:.2f}x)"
    )
    missing = [chips[i] for i in (a, b) if watts[i] is None]
    if missing:
        reasons = "; ".join(f"{c}: {chip_power(c).summary}" for c in missing)
        outcome.verdict = v.untestable(
            f"throughput per watt needs watts, and {', '.join(missing)} has none ({reasons}); "
            f"what can be said: the PROJECTED throughput per chip is {ratio:.2f}x"
        )
        return outcome
    per_watt = v.Figure(
        f"throughput per watt, {a} / {b}",
        ratio * watts[b] / watts[a],
        unit="x",
        method="hardware model and watts per chip"
        + (f" (assumed: {assumed_watts})" if assumed_watts else ""),
    )
    outcome.figure = per_watt
    outcome.verdict = v.at_least(
        per_watt, claim.claimed, claim.tolerance * claim.claimed, f"{claim.claimed:g}x"
    )
    return outcome


def _stack(run: SideRun) -> str:
    stacks = run.reps.filter(like=".stack")
    return (
        str(stacks.iloc[0].dropna().iloc[0]) if len(stacks) and stacks.iloc[0].notna().any() else ""
    )


def _candidate(row: dict[str, Any]) -> str:
    """``g6.xlarge b8: 12 for $0.1342/M`` (or ``NOT MET``): one plan row, short."""
    head = f"{row['instance']} b{row['max_batch']}"
    if not row["slo_met"]:
        return f"{head}: SLO NOT MET"
    return f"{head}: {row['count']} for ${row['cost_per_million_usd']:.4f}/M"


def _metric_name(metric: str) -> str:
    return {
        "cost_per_million_usd": "$/million",
        "latency_p50_s": "p50",
        "latency_p99_s": "p99",
    }.get(metric, metric)


def _mean_text(values: list[float], metric: str) -> str:
    estimate, low, high, _, _ = replication_interval(values)
    if metric.startswith("latency"):
        scale, fmt = 1e3, "{:.3f} ms"
    elif metric.startswith("cost"):
        scale, fmt = 1.0, "${:.4f}"
    else:
        scale, fmt = 1.0, "{:,.0f}"
    text = fmt.format(estimate * scale)
    if not math.isnan(low):
        text += f" [{fmt.format(low * scale)}, {fmt.format(high * scale)}]"
    return text
