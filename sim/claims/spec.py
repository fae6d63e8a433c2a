"""The claims file: each public claim, where it comes from, and how it is tested.

A claims file (``scenarios/claims/claims.yaml``) lists claims; each names the scenario(s)
that make it testable (paths relative to the claims file), the Inferentia side and the
comparison side (candidate instance types and batch sizes for ``fleetsim plan``), the claimed
figure with the tolerance it is judged by, and a sensitivity alternative (fields set by
dotted path on one side or both, e.g. ``fleet.0.stack: eager``). Validated with pydantic
(``extra="forbid"``); errors read ``file:line: claims[2].comparison.instances: ...`` like the
scenario loader's. Loading also validates every scenario it names and checks that both sides
of a comparison share the workload, the SLO and the run length (the method's fairness rule).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from hardware import catalog
from sim.scenario.base import Config, PositiveDuration
from sim.scenario.errors import ScenarioError, format_path
from sim.scenario.loading import load_scenario, read_scenario_text
from sim.scenario.problems import validation_problems
from sim.scenario.schema import Scenario
from sim.scenario.yaml_text import line_map, line_of, parse_yaml

SideName = Literal["inferentia", "comparison"]


class Side(Config):
    """One side of a claim: a scenario and the fleets the planner may choose from.

    Attributes:
        scenario: The scenario file (relative to the claims file); its pool is sized.
        instances: Candidate instance types (the planner's ``--instances``).
        max_batches: Largest batch sizes searched (default: the scenario's).
        max_count: The largest instance count tried.

    """

    scenario: str
    instances: list[str] = Field(min_length=1)
    max_batches: list[Annotated[int, Field(ge=1, le=4096)]] | None = Field(
        default=None, min_length=1
    )
    max_count: int = Field(default=200, ge=1, le=100_000)

    @model_validator(mode="after")
    def _known_instances(self) -> Side:
        known = catalog.instance_type_names()
        unknown = [name for name in self.instances if name not in known]
        if unknown:
            raise ValueError(f"unknown instance type(s) {', '.join(unknown)}")
        return self


class Sensitivity(Config):
    """The main alternative to an assumption: the claim evaluated again with fields changed.

    Attributes:
        label: What changes, in words ("GPU stack eager instead of tensorrt").
        sides: The sides whose scenario changes.
        set: Field values by dotted path (``fleet.0.stack``, ``workload.mix.0.seq_len``).
        watts: Watts per chip assumed where none is published (by chip name).

    """

    label: str
    sides: list[SideName] = Field(min_length=1)
    set: dict[str, Any] = Field(default_factory=dict)
    watts: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description="watts per chip assumed, by chip (efficiency claims)"
    )

    @model_validator(mode="after")
    def _changes_something(self) -> Sensitivity:
        if not self.set and not self.watts:
            raise ValueError("a sensitivity sets scenario fields (set:) or assumed watts (watts:)")
        return self


class ClaimBase(Config):
    """What every claim states.

    Attributes:
        id: A short name (``amazon-search``), used for directories.
        claim: The public claim in its own words.
        source: Where it comes from (the overview's section; AWS's post if the scenario cites one).
        inferentia: The Inferentia side.
        sensitivity: The main alternative assumption, or None.

    """

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)
    claim: str
    source: str
    inferentia: Side
    sensitivity: Sensitivity | None = None


class CostSaving(ClaimBase):
    """Inferentia's cheapest verified fleet costs ``claimed`` (a fraction) less per million."""

    kind: Literal["cost_saving"]
    comparison: Side
    claimed: float = Field(gt=0, lt=1, description="claimed saving as a fraction (0.45)")
    tolerance: float = Field(ge=0, lt=1, description="absolute, in the same fraction")


class LatencyReduction(ClaimBase):
    """Inferentia's cheapest verified fleet has ``claimed`` lower latency (``metric``)."""

    kind: Literal["latency_reduction"]
    comparison: Side
    metric: Literal["latency_p50_s", "latency_p99_s"]
    claimed: float = Field(gt=0, lt=1, description="claimed reduction as a fraction (0.25)")
    tolerance: float = Field(ge=0, lt=1)


class Capacity(ClaimBase):
    """One instance sustains ``claimed`` requests/s at the scenario's SLO."""

    kind: Literal["capacity"]
    claimed: float = Field(gt=0, description="claimed requests/s per instance")
    tolerance: float = Field(ge=0, lt=1, description="relative")
    rate_factors: list[Annotated[float, Field(gt=0)]] = Field(min_length=2)


class Headline(ClaimBase):
    """Throughput at a latency, at a price, on one instance: each part checked."""

    kind: Literal["headline"]
    claimed_per_s: float = Field(gt=0)
    claimed_latency: PositiveDuration
    claimed_usd_per_hour: float = Field(gt=0)
    price_tolerance: float = Field(ge=0, lt=1, description="relative")


class Efficiency(ClaimBase):
    """Throughput per watt of the Inferentia side over the comparison side's."""

    kind: Literal["efficiency"]
    comparison: Side
    claimed: float = Field(gt=0, description="claimed ratio (2.0)")
    tolerance: float = Field(ge=0, lt=1, description="relative")


ClaimSpec = Annotated[
    CostSaving | LatencyReduction | Capacity | Headline | Efficiency, Field(discriminator="kind")
]


class ClaimsFile(Config):
    """A claims file: the claims, in the order the table shows them."""

    claims: list[ClaimSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> ClaimsFile:
        ids = [c.id for c in self.claims]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"claim ids must be unique; repeated: {', '.join(twice)}")
        return self


def load_claims(path: str | Path) -> tuple[ClaimsFile, dict[str, Scenario]]:
    """Read and validate a claims file and every scenario it names.

    Returns:
        The claims, and each scenario by its path as written in the file.

    Raises:
        ScenarioError: the file or a scenario is not valid, or two sides of a claim differ
            in workload, SLO or run length (``file:line: claims[i].field: message``).

    """
    path = Path(path)
    source = str(path)
    root, data = parse_yaml(read_scenario_text(path), source)
    lines, duplicates = line_map(root)
    if duplicates:
        raise ScenarioError(
            [(format_path(p), "key appears twice in one mapping", line) for p, line in duplicates],
            source,
        )
    if not isinstance(data, dict):
        raise ScenarioError.single(
            "<claims>", f"expected a mapping with claims:, got {data!r}", 1, source
        )
    try:
        claims = ClaimsFile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, data, lines), source) from None
    scenarios: dict[str, Scenario] = {}
    problems: list[tuple[str, str, int | None]] = []
    for i, claim in enumerate(claims.claims):
        for side_name in ("inferentia", "comparison"):
            side = getattr(claim, side_name, None)
            if side is None or side.scenario in scenarios:
                continue
            where = ("claims", i, side_name, "scenario")
            try:
                scenarios[side.scenario] = load_scenario(path.parent / side.scenario)
            except ScenarioError as exc:
                problems.append((format_path(where), str(exc), line_of(lines, where)))
    for i, claim in enumerate(claims.claims):
        comparison = getattr(claim, "comparison", None)
        if comparison is None:
            continue
        a, b = scenarios.get(claim.inferentia.scenario), scenarios.get(comparison.scenario)
        if a is None or b is None:
            continue
        different = [
            f
            for f in ("workload", "slo", "duration", "warmup", "seed")
            if getattr(a, f) != getattr(b, f)
        ]
        if different:
            where = ("claims", i, "comparison", "scenario")
            problems.append(
                (
                    format_path(where),
                    f"{comparison.scenario} and {claim.inferentia.scenario} differ in "
                    f"{', '.join(different)}: both sides of a claim run the same offered load, "
                    "sequence mix, SLO and run length",
                    line_of(lines, where),
                )
            )
    if problems:
        raise ScenarioError(problems, source)
    return claims, scenarios
