"""Service-time jitter: a multiplicative lognormal factor on each batch's service time.

A batch that the deterministic model times at ``s`` seconds takes ``s * F`` with

    F = exp(sigma * Z - sigma**2 / 2),  Z ~ N(0, 1),

so ``E[F] = 1`` (throughput is unbiased), ``Var[F] = exp(sigma**2) - 1 = cv**2``, the median is
``exp(-sigma**2 / 2)`` and ``p99(F) / p50(F) = exp(z99 * sigma)`` with ``z99 = 2.3263``.

The ``cv`` per chip is fitted by :mod:`hardware.calibration.jitter_fit` on published p99/p50
ratios of benchmark rows with about one batch in flight per replica, and shipped in
``hardware/data/jitter.csv`` (one row per catalog chip; Inferentia3 is projected, L4 and A10G
are assumed from the pooled GPU rows). :func:`service_cv` reads it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from types import MappingProxyType

import numpy as np

from hardware.catalog import instance_type, instance_type_names
from hardware.catalog.data_files import data_rows, parse_bool

JITTER_FILE = "jitter.csv"
"""The fitted jitter table in hardware/data (written by ``python -m
hardware.calibration.jitter_fit``)."""

Z99 = NormalDist().inv_cdf(0.99)
"""The standard normal's 99th percentile (2.3263...)."""


@dataclass(frozen=True, slots=True)
class JitterFit:
    """One chip's fitted service-time variability (a row of ``jitter.csv``).

    Attributes:
        chip: Catalog chip name (``"inferentia2"``, ``"nvidia-t4"``...).
        cv: Coefficient of variation of the multiplicative factor (dimensionless).
        sigma: Lognormal shape: ``sqrt(log(1 + cv**2))``.
        n_rows: Published rows behind the figure.
        median_p99_p50: Median p99/p50 of those rows (the factor's p99/p50 equals it).
        p90_p99_p50: 90th percentile of the rows' p99/p50 (the tail the median leaves out).
        basis: ``"fit"`` (the chip's own rows), ``"projected"`` (Inferentia3, from the pooled
            NeuronCore-v2 rows) or ``"assumed"`` (a GPU without enough rows: pooled GPU rows).
        projected: True for a projected chip.
        selection: The selection rule, in words.
        source: Where the rows come from.

    """

    chip: str
    cv: float
    sigma: float
    n_rows: int
    median_p99_p50: float
    p90_p99_p50: float
    basis: str
    projected: bool
    selection: str
    source: str


def lognormal_sigma(cv: float) -> float:
    """The lognormal shape ``sigma`` of a mean-1 factor with coefficient of variation ``cv``.

    Args:
        cv: Coefficient of variation (>= 0, dimensionless).

    Returns:
        ``sqrt(log(1 + cv**2))``.

    Raises:
        ValueError: ``cv`` negative or not finite.

    """
    if not (cv >= 0 and math.isfinite(cv)):
        raise ValueError(f"cv must be finite and >= 0, got {cv}")
    return math.sqrt(math.log1p(cv * cv))


def lognormal_cv(sigma: float) -> float:
    """The coefficient of variation of a lognormal factor of shape ``sigma`` (>= 0).

    Args:
        sigma: Lognormal shape (standard deviation of ``log F``).

    Returns:
        ``sqrt(exp(sigma**2) - 1)`` (dimensionless).

    """
    return math.sqrt(math.expm1(sigma * sigma))


def p99_over_p50(cv: float) -> float:
    """The factor's p99/p50 for a coefficient of variation ``cv``: ``exp(z99 * sigma)``.

    Args:
        cv: Coefficient of variation (>= 0).

    Returns:
        p99 over median of the factor (>= 1, dimensionless).

    """
    return math.exp(Z99 * lognormal_sigma(cv))


def jitter_factors(rng: np.random.Generator, n: int, cv: float) -> np.ndarray:
    """``n`` multiplicative service-time factors of mean 1 and coefficient of variation ``cv``.

    The draw is ``exp(sigma * rng.standard_normal(n) - sigma**2 / 2)``: a twin (the compiled
    kernel) that consumes the same normals gets the same factors. ``cv == 0`` returns ones and
    draws nothing from ``rng``.

    Args:
        rng: The pool's own Generator stream.
        n: Number of factors (batches).
        cv: Coefficient of variation (>= 0).

    Returns:
        Float64 array of shape ``(n,)``; mean 1 in expectation.

    """
    sigma = lognormal_sigma(cv)
    if sigma == 0.0:
        return np.ones(n)
    return np.exp(sigma * rng.standard_normal(n) - 0.5 * sigma * sigma)


@lru_cache(maxsize=1)
def _fits() -> MappingProxyType[str, JitterFit]:
    fits = {}
    for i, row in enumerate(data_rows(JITTER_FILE)):
        where = f"{JITTER_FILE} row {i + 1}"
        fit = JitterFit(
            chip=row["chip"],
            cv=float(row["cv"]),
            sigma=float(row["sigma"]),
            n_rows=int(row["n_rows"]),
            median_p99_p50=float(row["median_p99_p50"]),
            p90_p99_p50=float(row["p90_p99_p50"]),
            basis=row["basis"],
            projected=parse_bool(row["projected"], where),
            selection=row["selection"],
            source=row["source"],
        )
        if not math.isclose(fit.sigma, lognormal_sigma(fit.cv), rel_tol=1e-3):
            raise ValueError(f"{where}: sigma {fit.sigma} != lognormal_sigma(cv={fit.cv})")
        fits[fit.chip] = fit
    # every chip an instance type runs on (calibration-only GPUs serve in no fleet)
    serving = {instance_type(name).chip.name for name in instance_type_names()}
    missing = serving - set(fits)
    if missing:
        raise ValueError(f"{JITTER_FILE}: no row for chips {sorted(missing)}")
    return MappingProxyType(fits)


def jitter_fit(name: str) -> JitterFit:
    """The fitted jitter of a chip, or of the chip of an instance type.

    Args:
        name: Instance type (``"inf2.xlarge"``) or catalog chip name (``"inferentia2"``).

    Returns:
        The chip's :class:`JitterFit`.

    Raises:
        KeyError: Neither an instance type nor a chip of the catalog.

    """
    if name in instance_type_names():
        name = instance_type(name).chip.name
    try:
        return _fits()[name]
    except KeyError:
        raise KeyError(f"no jitter fit for {name!r}: not an instance type or chip") from None


def service_cv(name: str) -> float:
    """The default (``jitter: auto``) service-time cv of a chip or instance type.

    Args:
        name: Instance type (``"inf2.xlarge"``) or catalog chip name.

    Returns:
        Coefficient of variation of the per-batch factor (dimensionless).

    """
    return jitter_fit(name).cv
