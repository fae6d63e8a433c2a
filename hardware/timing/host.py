"""Host cost: the vCPU time a request and a batch take before the accelerator.

Per request ``tokenise_fixed_s + tokenise_per_token_s * tokens + request_overhead_s`` (a BERT
WordPiece tokenisation measured on a real tokenizer, plus the server's send/receive of the
request); per batch ``per_batch_s`` (tensor assembly and hand-off around the device call). The
defaults are in ``hardware/data/host_cost.csv``, written by ``python -m
hardware.calibration.host_fit``, which names the machine it measured on; the two overheads are
published Triton latencies read as CPU time (``basis = estimate``). See docs/hardware.md,
"Host cost".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hardware.catalog.data_files import data_rows

HOST_FILE = "host_cost.csv"
"""The host-cost defaults in hardware/data."""


@dataclass(frozen=True, slots=True)
class HostCost:
    """Host-cost parameters (seconds of one vCPU).

    Attributes:
        tokenise_fixed_s: Tokenisation cost of a request independent of its length, s.
        tokenise_per_token_s: Tokenisation cost per token, s/token.
        request_overhead_s: Framework and network cost per request, s.
        per_batch_s: Framework cost per batch, s.

    """

    tokenise_fixed_s: float
    tokenise_per_token_s: float
    request_overhead_s: float
    per_batch_s: float

    def __post_init__(self) -> None:
        """Reject negative costs (a per-token slope of 0 is allowed)."""
        for name in self.__slots__:
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def per_request_s(self, seq_len: float | np.ndarray) -> float | np.ndarray:
        """Host time of one request of ``seq_len`` tokens (vectorised), seconds."""
        tokens = np.asarray(seq_len, dtype=float)
        cost = self.tokenise_fixed_s + self.tokenise_per_token_s * tokens
        cost = cost + self.request_overhead_s
        return float(cost) if cost.ndim == 0 else cost


@lru_cache(maxsize=1)
def host_parameters() -> HostCost:
    """The shipped host-cost defaults (``host_cost.csv``).

    Returns:
        The parameters.

    """
    values = {row["parameter"]: float(row["value"]) for row in data_rows(HOST_FILE)}
    return HostCost(**{name: values[name] for name in HostCost.__slots__})


def host_cost(seq_len: float | np.ndarray) -> tuple[float | np.ndarray, float]:
    """Default host cost of a request of ``seq_len`` tokens, and of a batch.

    Args:
        seq_len: Tokens of the request (scalar or array).

    Returns:
        ``(per_request_s, per_batch_s)``: seconds of one vCPU; ``per_request_s`` has the shape
        of ``seq_len``.

    Raises:
        ValueError: A negative ``seq_len``.

    """
    if np.any(np.asarray(seq_len) < 0):
        raise ValueError(f"seq_len must be >= 0, got {seq_len}")
    params = host_parameters()
    return params.per_request_s(seq_len), params.per_batch_s
