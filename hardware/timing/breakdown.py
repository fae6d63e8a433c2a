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
        staged_s: Seconds of this batch's service that the replica's next batch overlaps by
            staging its input while this one runs (double buffering; 0 where the runtime does
            not, on GPUs, and in pipelines); part of ``total_s``, see :attr:`interval_s`.

    """

    compute_s: np.ndarray
    vector_s: np.ndarray
    memory_s: np.ndarray
    transfer_s: np.ndarray
    overhead_s: np.ndarray
    host_s: np.ndarray | float = 0.0
    staged_s: np.ndarray | float = 0.0

    @property
    def total_s(self) -> np.ndarray:
        """Service time of the batch, seconds: fixed costs + max(engines, memory) + transfers."""
        engines = np.maximum(self.compute_s + self.vector_s, self.memory_s)
        return self.overhead_s + engines + self.transfer_s + self.host_s

    @property
    def interval_s(self) -> np.ndarray:
        """Seconds between batches on a busy replica: ``total_s - staged_s``.

        A batch still takes ``total_s`` from start to finish; the replica takes the next one
        ``staged_s`` before that, while the next input's transfer overlaps this batch's work.
        """
        return self.total_s - self.staged_s


def hidden_host_s(total_s: np.ndarray, host_s: np.ndarray) -> np.ndarray:
    """Seconds of a batch's service that a queued batch can hide by staging its input.

    That is its input transfer, up to the rest of the service (the device work it overlaps).

    Args:
        total_s: Service time of the batch, seconds.
        host_s: Its host-to-device input transfer, seconds (part of ``total_s``).

    Returns:
        ``min(host_s, total_s - host_s)``, seconds.

    """
    return np.minimum(host_s, total_s - host_s)
