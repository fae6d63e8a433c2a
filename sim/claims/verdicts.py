"""Verdicts on claims: pure functions of a simulated figure and the claimed one.

Four verdicts (``Verdict``):

- ``reproduced``: the simulated figure's estimate reaches the claimed figure less the
  tolerance the claim is judged by (savings, reductions and throughputs are read as "at
  least": a larger saving supports the claim);
- ``not reproduced``: it falls short; the explanation gives the simulated figure;
- ``not plausible as stated``: the hardware model rules the claim out whatever the fleet
  (a latency floor above the claimed latency, a price no instance has); the explanation
  gives the figure that makes it so;
- ``not testable``: the claim rests on something the model does not have (unpublished
  watts); the explanation gives the reason.

An estimate whose 95% interval reaches across the threshold is called borderline in the
explanation; the verdict follows the estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class VerdictKind(StrEnum):
    """The four verdicts, as they are printed."""

    reproduced = "reproduced"
    not_reproduced = "not reproduced"
    not_plausible = "not plausible as stated"
    not_testable = "not testable"


# combining several parts of one claim: the worst part decides
_SEVERITY = {
    VerdictKind.reproduced: 0,
    VerdictKind.not_reproduced: 1,
    VerdictKind.not_plausible: 2,
    VerdictKind.not_testable: 3,
}


@dataclass(frozen=True)
class Figure:
    """A simulated figure with its interval.

    Attributes:
        name: What it is ("cost saving vs the cheapest GPU fleet").
        estimate: The point estimate, in ``unit``.
        low: Lower end of the interval (NaN if there is none).
        high: Upper end of the interval.
        unit: ``fraction``, ``req/s``, ``ms``, ``ratio`` or ``USD/h``.
        method: How the interval was found ("replications (3), paired", "exact").
        n: Replications (or grid steps) the interval rests on.

    """

    name: str
    estimate: float
    low: float = math.nan
    high: float = math.nan
    unit: str = ""
    method: str = "exact"
    n: int = 1

    def show(self, value: float | None = None) -> str:
        """A value in the figure's unit: ``45.2%``, ``10,250 req/s``, ``27.5 ms``."""
        v = self.estimate if value is None else value
        if math.isnan(v):
            return "-"
        if self.unit == "fraction":
            return f"{v:.1%}"
        if self.unit == "req/s":
            return f"{v:,.0f} req/s"
        if self.unit == "ms":
            return f"{v:.2f} ms"
        if self.unit == "USD/h":
            return f"${v:.3f}/h"
        return f"{v:.3g}{f' {self.unit}' if self.unit else ''}"

    def __str__(self) -> str:
        """``45.2% [43.1%, 47.3%]`` (no brackets without an interval)."""
        if math.isnan(self.low) or math.isnan(self.high):
            return self.show()
        return f"{self.show()} [{self.show(self.low)}, {self.show(self.high)}]"


@dataclass(frozen=True)
class Verdict:
    """A verdict and its one line of explanation."""

    kind: VerdictKind
    explanation: str


def at_least(figure: Figure, claimed: float, tolerance: float, claimed_text: str) -> Verdict:
    """Reproduced when the estimate is at least ``claimed - tolerance``.

    Args:
        figure: The simulated figure.
        claimed: The claimed value, in the figure's unit.
        tolerance: Absolute, in the figure's unit.
        claimed_text: The claimed value as the claim words it ("45%").

    """
    threshold = claimed - tolerance
    if math.isnan(figure.estimate):
        return Verdict(
            VerdictKind.not_reproduced,
            f"no {_what(figure)}: no fleet met the SLO on one side",
        )
    straddles = figure.low < threshold <= figure.high or figure.low <= threshold < figure.high
    borderline = (
        f"; borderline: the interval reaches across {figure.show(threshold)}" if straddles else ""
    )
    if figure.estimate >= threshold or math.isclose(figure.estimate, threshold, rel_tol=1e-9):
        return Verdict(
            VerdictKind.reproduced,
            f"{_what(figure)} {figure} reaches the claimed {claimed_text} "
            f"(threshold {figure.show(threshold)} with the stated tolerance){borderline}",
        )
    return Verdict(
        VerdictKind.not_reproduced,
        f"{_what(figure)} {figure} falls short of the claimed {claimed_text} "
        f"(threshold {figure.show(threshold)} with the stated tolerance){borderline}",
    )


def at_most(figure: Figure, claimed: float, claimed_text: str) -> Verdict:
    """Reproduced when the estimate is at most ``claimed`` (a latency bound)."""
    if math.isnan(figure.estimate):
        return Verdict(VerdictKind.not_reproduced, f"no {_what(figure)}")
    if figure.estimate <= claimed:
        return Verdict(
            VerdictKind.reproduced,
            f"{_what(figure)} {figure} is within the claimed {claimed_text}",
        )
    return Verdict(
        VerdictKind.not_reproduced,
        f"{_what(figure)} {figure} exceeds the claimed {claimed_text}",
    )


def _what(figure: Figure) -> str:
    """``simulated X`` for a figure from runs, ``hardware-model X`` for an exact one."""
    exact = figure.method == "exact" or figure.method.startswith("hardware model")
    return f"{'hardware-model' if exact else 'simulated'} {figure.name}"


def impossible(figure: Figure, claimed_text: str, why: str) -> Verdict:
    """The hardware model rules the claim out; ``figure`` is what makes it so."""
    return Verdict(
        VerdictKind.not_plausible,
        f"{figure.name} {figure} against the claimed {claimed_text}: {why}",
    )


def untestable(reason: str) -> Verdict:
    """The claim cannot be tested with the model; ``reason`` says why."""
    return Verdict(VerdictKind.not_testable, reason)


def combine(parts: list[tuple[str, Verdict]]) -> Verdict:
    """One verdict for a claim of several parts: the worst part decides.

    The explanation names every part that is not reproduced (all parts when all are).
    """
    if not parts:
        raise ValueError("combine needs at least one part")
    worst = max((v.kind for _, v in parts), key=_SEVERITY.__getitem__)
    shown = [(n, v) for n, v in parts if v.kind is not VerdictKind.reproduced] or parts
    return Verdict(worst, "; ".join(f"{name}: {v.explanation}" for name, v in shown))


def flips(base: Verdict, alternative: Verdict) -> bool:
    """Whether the alternative assumption changes the verdict."""
    return base.kind is not alternative.kind
