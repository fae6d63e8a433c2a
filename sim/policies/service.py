"""Synthetic service-time models that replace the hardware model in a pool.

A pool with ``service: {kind: ...}`` draws each batch's service time from one of these
instead of ``hardware.service_time``; they exist for what-if studies and to check the engine
against queueing theory. Each states the mean and variance of a batch's service time (s,
s^2) for a batch of ``b`` requests, so tests can compare the simulation with closed forms.
Random draws come from the pool's own stream, in blocks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from sim.scenario.base import Config, Duration, PositiveDuration
from sim.scenario.datafiles import numbers, read_table, resolve_path

ServiceFn = Callable[[int, int], float]
"""``service_s(batch_size, max_seq_len) -> seconds`` for one batch."""

_BLOCK = 4096


def _blocked(draw: Callable[[int], np.ndarray]) -> ServiceFn:
    """A service function that takes successive values of ``draw(_BLOCK)`` blocks."""
    block: list[float] = []
    position = 0

    def service_s(batch_size: int, seq_len: int) -> float:
        nonlocal block, position
        if position >= len(block):
            block = draw(_BLOCK).tolist()
            position = 0
        value = block[position]
        position += 1
        return value

    return service_s


class ExponentialService(Config):
    """Exponential batch service time with mean ``mean`` (s), whatever the batch size."""

    kind: Literal["exponential"]
    mean: PositiveDuration

    def mean_s(self, batch_size: int = 1) -> float:
        """Mean service time of a batch (s)."""
        return self.mean

    def variance_s2(self, batch_size: int = 1) -> float:
        """Variance of a batch's service time (s^2)."""
        return self.mean**2

    def build(self, rng: np.random.Generator) -> ServiceFn:
        """Sampler drawing from ``rng``."""
        return _blocked(lambda n: rng.exponential(self.mean, n))


class DeterministicService(Config):
    """Affine deterministic service: a batch of b requests takes ``base + b * per_request``."""

    kind: Literal["deterministic"]
    base: Duration = 0.0
    per_request: Duration = 0.0

    @model_validator(mode="after")
    def _positive(self) -> DeterministicService:
        if self.base + self.per_request <= 0:
            raise ValueError("base + per_request must be > 0 (a batch cannot take no time)")
        return self

    def mean_s(self, batch_size: int = 1) -> float:
        """Service time of a batch of ``batch_size`` (s)."""
        return self.base + batch_size * self.per_request

    def variance_s2(self, batch_size: int = 1) -> float:
        """Zero: deterministic."""
        return 0.0

    def build(self, rng: np.random.Generator) -> ServiceFn:
        """Exact affine function (``rng`` unused)."""
        base, per = self.base, self.per_request
        return lambda batch_size, seq_len: base + batch_size * per


class LognormalService(Config):
    """Lognormal batch service time with the given mean (s) and coefficient of variation."""

    kind: Literal["lognormal"]
    mean: PositiveDuration
    cv: float = Field(gt=0, le=100)

    def mean_s(self, batch_size: int = 1) -> float:
        """Mean service time of a batch (s)."""
        return self.mean

    def variance_s2(self, batch_size: int = 1) -> float:
        """Variance (s^2) = (cv * mean)^2."""
        return (self.cv * self.mean) ** 2

    def build(self, rng: np.random.Generator) -> ServiceFn:
        """Sampler drawing from ``rng``.

        In log space sigma^2 = ln(1 + cv^2) and mu = ln(mean) - sigma^2 / 2.
        """
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean) - sigma2 / 2
        return _blocked(lambda n: rng.lognormal(mu, math.sqrt(sigma2), n))


class EmpiricalService(Config):
    """Batch service times resampled (i.i.d., with replacement) from measured values.

    The file (csv or parquet, path relative to the scenario) has a column ``column`` of
    service times in seconds.
    """

    kind: Literal["empirical"]
    path: str
    column: str = "service_s"
    _samples: np.ndarray | None = PrivateAttr(default=None)  # read once per config value

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        return resolve_path(value, info)

    @model_validator(mode="after")
    def _check_samples(self) -> EmpiricalService:
        self.samples_s()
        return self

    def samples_s(self) -> np.ndarray:
        """The measured service times (s), validated finite and positive; read once."""
        if self._samples is None:
            df = read_table(self.path, [self.column])
            self._samples = numbers(df, self.path, self.column, low=0.0, low_inclusive=False,
                                    what="a service time in seconds > 0")  # fmt: skip
        return self._samples

    def mean_s(self, batch_size: int = 1) -> float:
        """Mean of the samples (s)."""
        return float(self.samples_s().mean())

    def variance_s2(self, batch_size: int = 1) -> float:
        """Population variance of the samples (s^2)."""
        return float(self.samples_s().var())

    def build(self, rng: np.random.Generator) -> ServiceFn:
        """Sampler resampling the file's values with ``rng``."""
        samples = self.samples_s()
        return _blocked(lambda n: samples[rng.integers(0, samples.size, n)])


ServiceConfig = Annotated[
    ExponentialService | DeterministicService | LognormalService | EmpiricalService,
    Field(discriminator="kind"),
]
