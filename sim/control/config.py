"""The YAML of the fleet's controllers: autoscaling, failures and spot per pool, events per run.

Durations are written with their unit (``"60s"``, ``"30d"``, ``"10m"``) and held in seconds.
Defaults follow AWS Application Auto Scaling (the service SageMaker endpoints scale with)
where it has one; each field says where its default comes from. The rules that use these
numbers are in ``sim.control.autoscaling``, ``failures``, ``spot`` and ``events``; the
reasoning and sources are in docs/fleet-dynamics.md ("Controllers").
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.scenario.base import Config, Duration, PositiveDuration

Metric = Literal["utilisation", "in_flight_per_instance"]
"""What an autoscaler tracks, averaged over one ``period`` on the instances in service:
``utilisation`` is the busy share of their replicas (0..1); ``in_flight_per_instance`` is the
mean number of requests waiting or in service per instance."""

AWS_COOLDOWN_S = 300.0
"""Application Auto Scaling's default scale-out and scale-in cooldown (s) for SageMaker
variants and most other scalable targets (API reference, TargetTrackingScalingPolicyConfiguration
and StepScalingPolicyConfiguration)."""


class _Bounds(Config):
    """The ``min`` and ``max`` instance counts an autoscaler keeps the pool between."""

    min: int = Field(ge=0, le=1_000_000)
    max: int = Field(ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _ordered(self) -> _Bounds:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class ScheduleEntry(_Bounds):
    """From ``at`` (s into the run, or into each cycle of ``every``) keep [min, max].

    ``max: 0`` empties the pool (scale to zero, e.g. at night).
    """

    max: int = Field(ge=0, le=1_000_000)
    at: Duration


def check_schedule(schedule: list[ScheduleEntry], every: float | None) -> None:
    """Entries in increasing ``at`` (s), each before ``every`` (s) when it repeats.

    Raises:
        ValueError: naming the entry (``schedule.N.at``) and its value.

    """
    times = [entry.at for entry in schedule]
    if any(b <= a for a, b in zip(times, times[1:], strict=False)):
        raise ValueError(f"schedule: the entries' at must increase, got {times} s")
    if every is not None and times and times[-1] >= every:
        raise ValueError(
            f"schedule.{len(times) - 1}.at ({times[-1]!r} s) must be less than every ({every!r} s)"
        )


class _MetricBounds(_Bounds):
    """Bounds of a metric-driven autoscaler (at least one instance), and their schedule.

    ``schedule`` (optional) holds scheduled actions on the same pool, with the entries of
    ``kind: scheduled``: from each entry's ``at`` its [min, max] replace the autoscaler's,
    as an AWS scheduled action changes the MinCapacity and MaxCapacity of a scalable target
    that a scaling policy also scales. ``min`` and ``max`` hold from the start until the first
    entry; ``every`` repeats the schedule (each entry's bounds hold until the next entry, the
    last one's into the next cycle).
    """

    schedule: list[ScheduleEntry] | None = Field(default=None, min_length=1)
    every: PositiveDuration | None = None

    @model_validator(mode="after")
    def _not_zero(self) -> _MetricBounds:
        if self.min < 1:
            raise ValueError(
                f"min: a metric-driven autoscaler needs min >= 1, got {self.min!r} (the metric "
                "is measured on instances in service: at 0 there is none, and nothing would "
                "scale the pool out again; to scale to zero use kind: scheduled, or a schedule "
                "entry with max: 0)"
            )
        if self.every is not None and self.schedule is None:
            raise ValueError(
                f"every ({self.every!r} s) repeats a schedule: give schedule: too, or remove every"
            )
        check_schedule(self.schedule or [], self.every)
        for i, entry in enumerate(self.schedule or []):
            if entry.min < 1 and entry.max > 0:
                raise ValueError(
                    f"schedule.{i}.min: a metric-driven autoscaler needs min >= 1 while max > 0, "
                    f"got min {entry.min!r} with max {entry.max!r} (at 0 instances there is no "
                    "metric and nothing would scale the pool out again; max: 0 empties the pool "
                    "until the next entry)"
                )
        return self


class TargetTrackingConfig(_MetricBounds):
    """Keep ``metric`` near ``target`` (AWS target tracking scaling).

    Every ``period`` the metric over the last period is one datapoint. Scale out when the last
    ``scale_out_datapoints`` are all above target, scale in when the last
    ``scale_in_datapoints`` are all below it: 3 and 15 one-minute datapoints are the alarms
    Application Auto Scaling creates for a target tracking policy. Desired capacity is
    ``ceil(serving * metric / target)`` clamped to [min, max], or to the bounds of the
    ``schedule`` entry in force.
    """

    kind: Literal["target_tracking"]
    metric: Metric = "utilisation"
    target: float = Field(gt=0)
    period: PositiveDuration = Field(default=60.0, description="evaluation period (AWS: 1 min)")
    scale_out_cooldown: Duration = AWS_COOLDOWN_S
    scale_in_cooldown: Duration = AWS_COOLDOWN_S
    scale_out_datapoints: int = Field(default=3, ge=1, le=1000)
    scale_in_datapoints: int = Field(default=15, ge=1, le=1000)

    @model_validator(mode="after")
    def _utilisation_below_one(self) -> TargetTrackingConfig:
        if self.metric == "utilisation" and self.target > 1:
            raise ValueError(
                f"target: a utilisation target is a share of busy replicas in (0, 1], got "
                f"{self.target!r}"
            )
        return self


class StepAdjustment(Config):
    """One step: from ``beyond`` past the threshold (metric units) to the next step's start."""

    beyond: float = Field(ge=0)
    change: int = Field(description="instances added (> 0, scale_out) or removed (< 0, scale_in)")


class StepPolicy(Config):
    """One direction of step scaling: an alarm threshold and the adjustments past it.

    The alarm breaches when the metric is above ``threshold`` (scale_out) or below it
    (scale_in) for ``datapoints`` periods in a row (CloudWatch's EvaluationPeriods, default
    1). The step applied is the one whose interval holds the distance past the threshold;
    steps must start at 0 and increase (AWS requires intervals without gaps or overlaps).
    """

    threshold: float = Field(ge=0)
    steps: list[StepAdjustment] = Field(min_length=1)
    cooldown: Duration = AWS_COOLDOWN_S
    datapoints: int = Field(default=1, ge=1, le=1000)

    @model_validator(mode="after")
    def _steps_ordered(self) -> StepPolicy:
        starts = [s.beyond for s in self.steps]
        if starts[0] != 0:
            raise ValueError(f"steps: the first step must start at beyond: 0, got {starts[0]!r}")
        if any(b <= a for a, b in zip(starts, starts[1:], strict=False)):
            raise ValueError(f"steps: beyond must increase from step to step, got {starts}")
        return self


class StepConfig(_MetricBounds):
    """AWS step scaling: fixed capacity changes by how far the metric is past a threshold.

    The result is clamped to [min, max], or to the bounds of the ``schedule`` entry in force.
    """

    kind: Literal["step"]
    metric: Metric = "utilisation"
    period: PositiveDuration = Field(default=60.0, description="evaluation period (AWS: 1 min)")
    scale_out: StepPolicy | None = None
    scale_in: StepPolicy | None = None

    @model_validator(mode="after")
    def _signs(self) -> StepConfig:
        if self.scale_out is None and self.scale_in is None:
            raise ValueError("step scaling needs scale_out, scale_in or both")
        directions = (("scale_out", self.scale_out, 1), ("scale_in", self.scale_in, -1))
        for name, policy, sign in directions:
            for i, step in enumerate(policy.steps if policy else []):
                if step.change * sign <= 0:
                    word = "positive" if sign > 0 else "negative"
                    raise ValueError(
                        f"{name}.steps.{i}.change must be {word} (instances "
                        f"{'added' if sign > 0 else 'removed'}), got {step.change!r}"
                    )
        if self.scale_out and self.scale_in and self.scale_in.threshold > self.scale_out.threshold:
            raise ValueError(
                f"scale_in.threshold ({self.scale_in.threshold!r}) must not exceed "
                f"scale_out.threshold ({self.scale_out.threshold!r})"
            )
        return self


class ScheduledConfig(Config):
    """AWS scheduled scaling: [min, max] bounds that change at set times, optionally repeating.

    From each entry's ``at`` until the next one, the capacity is clamped into the entry's
    [min, max] (scaled out to min, in to max), as a scheduled action does to a scalable
    target. With ``every`` the schedule repeats (``every: 24h`` is a daily schedule) and the
    time before the first entry takes the last entry's bounds. ``period`` is how often the
    bounds are re-checked after failures and terminations.
    """

    kind: Literal["scheduled"]
    schedule: list[ScheduleEntry] = Field(min_length=1)
    every: PositiveDuration | None = None
    period: PositiveDuration = 60.0

    @model_validator(mode="after")
    def _times_ordered(self) -> ScheduledConfig:
        check_schedule(self.schedule, self.every)
        return self


AutoscalingConfig = Annotated[
    TargetTrackingConfig | StepConfig | ScheduledConfig, Field(discriminator="kind")
]
"""A pool's ``autoscaling:`` block, by ``kind``."""


class FailuresConfig(Config):
    """Instance failures: up time ~ ``distribution`` with mean ``mtbf``, then repair or replace.

    ``exponential`` up times have the given mean; ``weibull`` ones have ``shape`` k and the
    scale that gives the same mean, ``mtbf / Gamma(1 + 1/k)`` (k < 1: infant mortality, k > 1:
    wear-out). ``repair``: the instance is down for a time ~ exponential with mean ``mttr``,
    then back in service; ``replace``: it is terminated and a new one launched (cold start).
    """

    mtbf: PositiveDuration
    mttr: PositiveDuration | None = Field(default=None, description="needed by action: repair")
    distribution: Literal["exponential", "weibull"] = "exponential"
    shape: float | None = Field(default=None, gt=0, le=100)
    action: Literal["repair", "replace"] = "repair"

    @model_validator(mode="after")
    def _consistent(self) -> FailuresConfig:
        if self.distribution == "weibull" and self.shape is None:
            raise ValueError("shape: a weibull distribution needs its shape (e.g. shape: 1.5)")
        if self.distribution == "exponential" and self.shape is not None:
            raise ValueError(f"shape: only a weibull distribution has one, got {self.shape!r}")
        if self.action == "repair" and self.mttr is None:
            raise ValueError("mttr: action repair needs the mean time to repair (e.g. 10m)")
        return self


class SpotConfig(Config):
    """Spot capacity: a ``share`` of the pool's instances, interrupted at a Poisson rate.

    ``usd_per_hour`` is the spot price. It has no default: spot prices move by region, zone
    and week, and fleetsim carries no spot price data, so it is required when share > 0.
    """

    share: float = Field(ge=0, le=1)
    interruptions_per_hour: float = Field(ge=0, le=3600)
    usd_per_hour: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _priced(self) -> SpotConfig:
        if self.share > 0 and self.usd_per_hour is None:
            raise ValueError(
                f"usd_per_hour: the spot price is required when share > 0 (share is "
                f"{self.share!r}); fleetsim has no spot price data"
            )
        return self

    @property
    def interruptions_per_s(self) -> float:
        """The interruption rate of one spot instance (1/s)."""
        return self.interruptions_per_hour / 3600.0


class ZoneOutageConfig(Config):
    """Every instance in ``zone`` fails at ``at`` (s) and comes back ``duration`` s later."""

    kind: Literal["zone_outage"]
    zone: str = Field(min_length=1, max_length=64)
    at: Duration
    duration: PositiveDuration


EventConfig = Annotated[ZoneOutageConfig, Field(discriminator="kind")]
"""One entry of the scenario's ``events:`` list, by ``kind``."""
