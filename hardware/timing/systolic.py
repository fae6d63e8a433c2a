"""Closed-form compute cycles of a GEMM on a systolic array.

A GEMM is ``C[M, N] = A[M, K] @ B[K, N]``: M rows of activations (tokens, or output pixels of an
im2col convolution), K the reduction, N the output features. All functions broadcast over array
arguments and return int64 cycle counts; none of them model memory stalls.

Two models live here:

* :func:`gemm_cycles` reproduces SCALE-Sim 3.0.0's reported compute cycles exactly (the
  "Total Cycles" of its COMPUTE_REPORT with zero stalls). SCALE-Sim maps the GEMM onto the array
  in *folds*; each fold loads its stationary tile, streams the moving operand and drains, and
  folds are fully serialised (no double-buffering):

  ====  ==================  ===============================  =====================
  flow  stationary operand  folds                            cycles per fold
  ====  ==================  ===============================  =====================
  ws    weights ``B[K,N]``  ``ceil(K/R) * ceil(N/C)``        ``2R + C + M - 2``
  is    inputs ``A[M,K]``   ``ceil(K/R) * ceil(M/C)``        ``2R + C + N - 2``
  os    outputs ``C[M,N]``  ``ceil(M/R) * ceil(N/C)``        ``R + C + K - 2``
  ====  ==================  ===============================  =====================

  and reports ``folds * cycles_per_fold - 1`` (the last 0-based cycle index of an output write).
  Edge folds pay the full R and C fill/drain. SCALE-Sim 3.0.0's ``os`` omits the R cycles needed
  to drain the stationary outputs (scale-sim-v3 issue #4); we reproduce that, not the paper.

* :func:`neuroncore_gemm_cycles` is the NeuronCore(-v2) TensorE variant used by the service-time
  model. Following the NKI architecture guide for Trainium/Inferentia2: the stationary tile
  (contraction <= R rows, free size <= C columns) is loaded in the background while the previous
  matmul streams, so only the first load is exposed; each matmul instruction streams a moving
  tile of free size <= 512 (one PSUM bank) and costs ``max(n_moving, 64)`` cycles (minimum issue
  interval). The compiler may make either the weights or the activations stationary; we take the
  cheaper orientation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

DATAFLOWS: tuple[str, ...] = ("ws", "os", "is")
"""Dataflows understood by :func:`gemm_cycles`."""

MOVING_FREE_MAX = 512
"""Largest moving-tile free size of one NeuronCore-v2 matmul instruction (one PSUM bank)."""

MIN_ISSUE_CYCLES = 64
"""Minimum initiation interval of a NeuronCore-v2 matmul instruction, in TensorE cycles."""


def _ceil_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return -(-a // b)


def _as_int64(*values: ArrayLike) -> list[np.ndarray]:
    arrays = [np.asarray(v) for v in values]
    for a in arrays:
        if not np.issubdtype(a.dtype, np.integer):
            if not np.all(np.equal(np.mod(a, 1), 0)):
                raise ValueError("GEMM dimensions and array sizes must be whole numbers")
    out = [a.astype(np.int64) for a in arrays]
    for a in out:
        if np.any(a < 1):
            raise ValueError("GEMM dimensions and array sizes must be >= 1")
    return out


def gemm_cycles(
    m: ArrayLike,
    k: ArrayLike,
    n: ArrayLike,
    rows: ArrayLike,
    cols: ArrayLike,
    dataflow: str = "ws",
) -> np.ndarray:
    """Compute cycles of one GEMM on an R x C systolic array, SCALE-Sim 3.0.0 convention.

    Args:
        m: Rows of A and C (streamed dimension in ``ws``).
        k: Reduction dimension.
        n: Columns of B and C (output features).
        rows: Array rows R (PEs).
        cols: Array columns C (PEs).
        dataflow: ``"ws"`` (weight stationary), ``"os"`` (output stationary) or ``"is"``
            (input stationary).

    Returns:
        Compute cycles (int64, dimensionless), broadcast over all array arguments.

    Raises:
        ValueError: If ``dataflow`` is unknown or a dimension is < 1.

    """
    m_, k_, n_, r, c = _as_int64(m, k, n, rows, cols)
    if dataflow == "ws":
        folds = _ceil_div(k_, r) * _ceil_div(n_, c)
        per_fold = 2 * r + c + m_ - 2
    elif dataflow == "is":
        folds = _ceil_div(k_, r) * _ceil_div(m_, c)
        per_fold = 2 * r + c + n_ - 2
    elif dataflow == "os":
        folds = _ceil_div(m_, r) * _ceil_div(n_, c)
        per_fold = r + c + k_ - 2
    else:
        raise ValueError(f"unknown dataflow {dataflow!r}; expected one of {DATAFLOWS}")
    return folds * per_fold - 1


def ideal_cycles(
    m: ArrayLike, k: ArrayLike, n: ArrayLike, rows: ArrayLike, cols: ArrayLike
) -> np.ndarray:
    """Lower bound on cycles: every PE does one MAC per cycle, ``M*K*N / (R*C)``.

    Args:
        m: Rows of A and C.
        k: Reduction dimension.
        n: Columns of B and C.
        rows: Array rows R.
        cols: Array columns C.

    Returns:
        Ideal cycles as float64 (not rounded).

    """
    m_, k_, n_, r, c = _as_int64(m, k, n, rows, cols)
    return m_.astype(np.float64) * k_ * n_ / (r * c)


def _moving_cycles(length: np.ndarray, free_max: int, min_issue: int) -> np.ndarray:
    """Cycles to stream ``length`` moving columns through one stationary tile."""
    full, rest = np.divmod(length, free_max)
    return full * max(free_max, min_issue) + np.where(rest > 0, np.maximum(rest, min_issue), 0)


def neuroncore_gemm_cycles(
    m: ArrayLike,
    k: ArrayLike,
    n: ArrayLike,
    rows: ArrayLike = 128,
    cols: ArrayLike = 128,
    count: ArrayLike = 1,
) -> np.ndarray:
    """TensorE cycles for ``count`` identical independent GEMMs issued back to back.

    Each matmul instruction holds a stationary tile of at most ``rows`` (contraction) x ``cols``
    (free) elements and streams a moving tile of at most :data:`MOVING_FREE_MAX` columns, costing
    ``max(n_moving, MIN_ISSUE_CYCLES)`` cycles. Stationary loads overlap the previous stream, so
    the pipeline fill ``2*rows + cols - 2`` is paid once per call, not once per tile. The cheaper
    of the two orientations is used (weights stationary with tokens moving, or tokens stationary
    with weights moving).

    Args:
        m: Rows of A and C (tokens or output pixels).
        k: Reduction dimension.
        n: Columns of B and C (output features).
        rows: Physical array rows (contraction tile).
        cols: Physical array columns (stationary free tile).
        count: Number of identical GEMMs (e.g. heads x batch), >= 0.

    Returns:
        TensorE cycles (int64) at the dtype's base rate, broadcast over all arguments. Zero when
        ``count`` is zero.

    """
    m_, k_, n_, r, c = _as_int64(m, k, n, rows, cols)
    cnt = np.asarray(count).astype(np.int64)
    if np.any(cnt < 0):
        raise ValueError("count must be >= 0")
    k_tiles = _ceil_div(k_, r)
    weights_stationary = (
        k_tiles * _ceil_div(n_, c) * _moving_cycles(m_, MOVING_FREE_MAX, MIN_ISSUE_CYCLES)
    )
    inputs_stationary = (
        k_tiles * _ceil_div(m_, c) * _moving_cycles(n_, MOVING_FREE_MAX, MIN_ISSUE_CYCLES)
    )
    steady = np.minimum(weights_stationary, inputs_stationary)
    fill = 2 * r + c - 2
    return np.where(cnt > 0, cnt * steady + fill, 0)
