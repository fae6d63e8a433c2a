"""The answer every timing model gives: the service time of one batch, by component."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class ServiceBreakdown:
    """Components of the service time of one batch, each in seconds (arrays of one shape).

    The names are the NeuronCore's engines; a GPU fills them with its kernel times (see
    :mod:`hardware.timing.gpu`), so the same sum holds for both.

    Attributes:
        compute_s: Matrix-engine time (TensorE; GEMM kernels on a GPU).
        vector_s: Vector-engine time (VectorE; elementwise kernels on a GPU).
        memory_s: Device-memory (DMA) time; overlaps ``compute_s + vector_s``.
        transfer_s: Hand-off to the next pipeline stage (0 for one core).
        overhead_s: Fixed per-batch and per-layer-step costs (on a GPU also the kernel-launch
            time not hidden behind device work).
        host_s: Host-to-device transfer of the batch's inputs (0 where it is part of
            ``overhead_s``).

    """

    compute_s: np.ndarray
    vector_s: np.ndarray
    memory_s: np.ndarray
    transfer_s: np.ndarray
    overhead_s: np.ndarray
    host_s: np.ndarray | float = 0.0

    @property
    def total_s(self) -> np.ndarray:
        """Service time of the batch, seconds: fixed costs + max(engines, memory) + transfers."""
        engines = np.maximum(self.compute_s + self.vector_s, self.memory_s)
        return self.overhead_s + engines + self.transfer_s + self.host_s
