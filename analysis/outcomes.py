"""Request outcomes: the trace's statuses as masks, and which of them miss the SLO.

Every metric that splits requests by status goes through this module, so a new status
(``analysis.schema.STATUSES``) is counted everywhere at once:

* the summary counts every status (``completed`` = ``ok``, ``dropped``, ``in_flight``,
  ``timed_out``, ``failed``);
* only ``ok`` is a success: throughput, goodput and latency percentiles count ``ok``
  requests only;
* for the SLO, an ``ok`` request meets it if its latency is within the target; a
  ``dropped``, ``timed_out`` or ``failed`` request is a known miss whatever its latency (a
  timed-out request served after its deadline has a latency, but its client had given up);
  an ``in_flight`` request is a known miss once it has waited longer than the target by the
  end of the run, and otherwise its outcome is unknown and it is left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from analysis.schema import STATUSES

SUCCESS = "ok"
"""The one successful status."""
MISSES = ("dropped", "timed_out", "failed")
"""Final statuses that miss the SLO whatever the request's latency."""
UNFINISHED = "in_flight"
"""The status of a request the run ended on."""


def status_masks(status_code: np.ndarray, status_names: np.ndarray) -> dict[str, np.ndarray]:
    """One boolean mask per status of ``STATUSES``, from a coded status column.

    Args:
        status_code: Each row's status, as an index into ``status_names``.
        status_names: The names the codes index (a trailing ``""`` may stand for missing).

    Returns:
        ``{status: mask}`` for every status in ``analysis.schema.STATUSES``.

    Raises:
        ValueError: a row's status is not one of ``STATUSES`` (a trace from a newer
            fleetsim, or not a trace).

    """
    names = np.asarray(status_names, dtype=object)
    codes = np.asarray(status_code)
    present = np.bincount(codes.reshape(-1), minlength=len(names)) > 0  # O(n), no sort
    unknown = sorted({str(name) for name in names[present]} - set(STATUSES))
    if unknown:
        raise ValueError(
            f"unknown request status {', '.join(map(repr, unknown))} in the trace; "
            f"known statuses: {', '.join(STATUSES)}"
        )
    position = {str(name): i for i, name in enumerate(names)}
    return {
        name: codes == position[name] if name in position else np.zeros(codes.shape, bool)
        for name in STATUSES
    }


def masks_of(status: Any) -> dict[str, np.ndarray]:
    """``status_masks`` of a status column given as names (array, list or pandas Series).

    A categorical Series (as traces load) is read through its codes, without a string per
    row; a missing status gets the code of a trailing ``""`` name, which is no status.
    """
    cat = getattr(status, "cat", None)
    if cat is not None:
        names = np.array([*map(str, cat.categories), ""], dtype=object)
        codes = cat.codes.to_numpy().astype(np.intp)
        codes[codes < 0] = len(names) - 1
        return status_masks(codes, names)
    names, codes = np.unique(np.asarray(status, dtype=object).astype(str), return_inverse=True)
    return status_masks(codes.reshape(-1), names)


def slo_masks(
    masks: dict[str, np.ndarray],
    latency_s: np.ndarray,
    arrival_s: np.ndarray,
    target_s: float,
    end_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Which rows meet the SLO and which have a known outcome (see the module docstring).

    Args:
        masks: ``status_masks`` of the rows.
        latency_s: Latency (s); only read for ``ok`` rows.
        arrival_s: First arrival (s).
        target_s: Latency target (s).
        end_s: Time the run ended (s).

    Returns:
        (met, known) boolean masks; attainment is met.sum() / known.sum().

    """
    ok = masks[SUCCESS]
    met = ok & (latency_s <= target_s)
    known = ok | (masks[UNFINISHED] & (end_s - arrival_s > target_s))
    for name in MISSES:
        known = known | masks[name]
    return met, known


def slo_counts(
    masks: dict[str, np.ndarray],
    latency_s: np.ndarray,
    arrival_s: np.ndarray,
    target_s: float,
    end_s: float,
) -> tuple[int, int]:
    """(met, known) counts of :func:`slo_masks`: SLO attainment is met / known."""
    met, known = slo_masks(masks, latency_s, arrival_s, target_s, end_s)
    return int(met.sum()), int(known.sum())
