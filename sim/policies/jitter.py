"""Service-time jitter: each batch's hardware-model time times a lognormal factor of mean 1.

The hardware model gives one service time per batch shape; real accelerators vary a little
from call to call (published Neuron p99/p50 for one batch in flight: about 1.02-1.07, with a
tail, see docs/hardware.md "Service-time jitter"). A pool's ``jitter`` multiplies each batch's
time by ``exp(sigma * Z - sigma**2 / 2)``, ``Z`` standard normal and
``sigma**2 = log(1 + cv**2)`` (``hardware.timing.jitter.jitter_factors``): mean exactly 1
(throughput is unbiased), coefficient of variation ``cv``; ``auto`` takes the chip's fitted
cv (``hardware.timing.jitter.service_cv``).

The factors come from the pool's own stream (``sim.streams`` name ``"jitter"``) in blocks,
taken in the order batches start in the pool; both engines read the same blocks, so they
draw identically, and turning jitter on leaves the arrivals and every other stream as they
were.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from hardware.timing.jitter import jitter_factors
from sim.scenario.base import Config

BLOCK = 4096
"""Factors drawn at a time (the kernel reads a block through a pointer)."""

MAX_CV = 1.0
"""Largest coefficient of variation accepted: published tails reach p99/p50 = 1.9, cv ~0.3."""


class JitterCv(Config):
    """An explicit coefficient of variation of the per-batch service-time factor."""

    cv: Annotated[float, Field(ge=0, le=MAX_CV)]


JitterConfig = Literal["auto", "none"] | JitterCv
"""``auto``: the chip family's fitted cv; ``none``: exact hardware-model times; ``{cv: X}``."""


class JitterDraws:
    """A pool's stream of jitter factors, handed out one at a time or a block at a time.

    Args:
        rng: The pool's ``"jitter"`` stream.
        cv: Coefficient of variation of the factor (> 0).

    """

    def __init__(self, rng: np.random.Generator, cv: float) -> None:
        if not 0 < cv <= MAX_CV:
            raise ValueError(f"jitter cv must be in (0, {MAX_CV}], got {cv!r}")
        self.rng = rng
        self.cv = float(cv)
        self._factors: list[float] = []
        self._position = 0

    def block(self) -> np.ndarray:
        """The next ``BLOCK`` factors (float64, mean 1); advances the stream."""
        return jitter_factors(self.rng, BLOCK, self.cv)

    def next(self) -> float:
        """The next factor (from the same blocks :meth:`block` hands out)."""
        if self._position == len(self._factors):
            self._factors = self.block().tolist()
            self._position = 0
        factor = self._factors[self._position]
        self._position += 1
        return factor
