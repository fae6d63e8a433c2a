"""The sweep file: a base scenario, overrides for every point, and axes that vary fields.

::

    name: search-sizing            # default output: runs/sweeps/search-sizing
    base: ../scenarios/amazon_search.yaml   # relative to the sweep file
    replications: 3                # replication r of every point shares its arrivals
    duration: 30s                  # optional overrides of the base, for every point
    set: {balancer: join_shortest_queue}    # any other field, by dotted path
    axes:                          # blocks combine as a cartesian product
      - grid:                      # cartesian product of its fields
          fleet.0.count: [6, 8, 10]
      - zip:                       # paired lists, same length
          fleet.0.instance: [inf1.6xlarge, inf2.xlarge]
          fleet.0.cores_per_replica: [4, 1]
      - random: {n: 20, seed: 7, ranges: {workload.arrivals.rate: [10000, 30000]}}
    trace: summary                 # summary | sample | full

A field is named by its dotted path in the scenario as written, list indexes as numbers
(``fleet.0.batching.max_batch``). ``random`` draws each field uniformly from its range:
integers if both ends are integers, else real numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from sim.scenario.base import Config
from sim.scenario.errors import ScenarioError, format_path
from sim.scenario.loading import read_scenario_text
from sim.scenario.problems import validation_problems
from sim.scenario.yaml_text import line_map, parse_yaml

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
MAX_POINTS = 100_000  # a sweep larger than this is surely a mistake (it would be many days)


def _non_empty_lists(value: Any) -> Any:
    """Each field of an axis must list at least one value."""
    if isinstance(value, dict):
        for path, values in value.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{path}: expected a non-empty list of values, got {values!r}")
    return value


Values = Annotated[dict[str, list[Any]], BeforeValidator(_non_empty_lists)]


class Ranges(Config):
    """``n`` points drawn uniformly from each field's ``[low, high]`` (seeded)."""

    n: int = Field(ge=1, le=MAX_POINTS)
    seed: int = Field(ge=0, lt=2**63)
    ranges: dict[str, list[int | float]] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Ranges:
        for path, bounds in self.ranges.items():
            if len(bounds) != 2:
                raise ValueError(f"{path}: expected [low, high], got {bounds}")
            low, high = bounds
            if low > high:
                raise ValueError(f"{path}: low ({low}) must not exceed high ({high})")
        return self

    def settings(self) -> list[dict[str, Any]]:
        """The drawn points: integers if both ends are integers, else real numbers."""
        import numpy as np

        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed)))
        points: list[dict[str, Any]] = [{} for _ in range(self.n)]
        for path, (low, high) in self.ranges.items():
            if isinstance(low, int) and isinstance(high, int):
                drawn = rng.integers(low, high + 1, self.n).tolist()
            else:
                drawn = rng.uniform(low, high, self.n).tolist()
            for point, value in zip(points, drawn, strict=True):
                point[path] = value
        return points


class Axis(Config):
    """One block of the axes: exactly one of ``grid``, ``zip`` or ``random``.

    Attributes:
        grid: Every combination of the listed values (a cartesian product of its fields).
        zip: Lists read in step: the i-th values of every field together.
        random: Points drawn at random, for ranges too wide to grid.

    """

    grid: Values | None = None
    zip: Values | None = None
    random: Ranges | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Axis:
        given = [k for k in ("grid", "zip", "random") if getattr(self, k) is not None]
        if len(given) != 1:
            shown = ", ".join(given) or "none"
            raise ValueError(f"an axis has exactly one of grid, zip or random; got {shown}")
        if self.grid is not None and not self.grid:
            raise ValueError("grid: expected at least one field")
        if self.zip is not None:
            lengths = {path: len(values) for path, values in self.zip.items()}
            if not lengths:
                raise ValueError("zip: expected at least one field")
            if len(set(lengths.values())) > 1:
                raise ValueError(f"zip lists must have one length, got {lengths}")
        return self

    @property
    def kind(self) -> str:
        """``grid``, ``zip`` or ``random``."""
        return "grid" if self.grid is not None else "zip" if self.zip is not None else "random"

    def paths(self) -> list[str]:
        """The dotted paths this axis varies."""
        if self.random is not None:
            return list(self.random.ranges)
        return list(self.grid if self.grid is not None else self.zip or {})

    def settings(self) -> list[dict[str, Any]]:
        """The settings this axis contributes, in order: path -> value for each."""
        if self.random is not None:
            return self.random.settings()
        if self.zip is not None:
            paths = list(self.zip)
            rows = zip(*self.zip.values(), strict=True)
            return [dict(zip(paths, row, strict=True)) for row in rows]
        combos: list[dict[str, Any]] = [{}]
        for path, values in (self.grid or {}).items():
            combos = [{**combo, path: value} for combo in combos for value in values]
        return combos


class SweepSpec(Config):
    """A sweep: a base scenario, fixed overrides, and axes whose product gives the points."""

    name: str = Field(pattern=NAME_PATTERN, max_length=100)
    base: str
    replications: int = Field(default=1, ge=1, le=1000)
    duration: str | int | float | None = None  # checked with the point's scenario
    warmup: str | int | float | None = None
    set: dict[str, Any] = Field(default_factory=dict)
    axes: list[Axis] = Field(default_factory=list)
    trace: Literal["summary", "sample", "full"] = "summary"
    sample_fraction: float = Field(default=0.01, gt=0, le=1)

    def varied(self) -> list[str]:
        """The dotted paths the axes vary, in order of first appearance."""
        paths: dict[str, None] = {}
        for axis in self.axes:
            paths.update(dict.fromkeys(axis.paths()))
        return list(paths)

    def settings(self) -> list[dict[str, Any]]:
        """Every point's settings (path -> value): the product of the axes, in order."""
        points: list[dict[str, Any]] = [{}]
        for axis in self.axes:
            points = [{**point, **extra} for point in points for extra in axis.settings()]
            if len(points) > MAX_POINTS:
                raise ValueError(
                    f"the axes give more than {MAX_POINTS:,} points; a sweep that large would "
                    "take days: split it, or use a random axis"
                )
        return points


def load_sweep_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file.

    Raises:
        ScenarioError: the file cannot be read or is not a valid sweep (``file:line: field``).

    """
    return parse_sweep_spec(read_scenario_text(path), str(path))


def parse_sweep_spec(text: str, source: str) -> SweepSpec:
    """Validate a sweep file's text (``source`` names it in messages).

    Raises:
        ScenarioError: not a valid sweep (``file:line: field``).

    """
    root, data = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ScenarioError.single(
            "<sweep>", f"expected a mapping (name, base, axes, ...), got {data!r}", 1, source
        )
    lines, duplicates = line_map(root)
    if duplicates:
        raise ScenarioError(
            [(format_path(p), "key appears twice in one mapping", line) for p, line in duplicates],
            source,
        )
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, data, lines), source) from None
