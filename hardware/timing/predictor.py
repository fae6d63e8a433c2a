"""One protocol for every timing model, and the registry that picks one per chip kind.

A timing model answers two questions about a replica on an instance type: how many cores it may
span (:meth:`ServicePredictor.replica_cores`) and how long one batch takes, by component
(:meth:`ServicePredictor.breakdown`). :func:`predictor_for` picks the model from the chip's
:attr:`~hardware.catalog.Chip.kind` (the data file the chip comes from), so no caller branches
on the kind of accelerator. A new kind of accelerator is one class here plus one line in
:func:`predictors`.
"""

from __future__ import annotations

from functools import cache
from types import MappingProxyType
from typing import Protocol

import numpy as np

from hardware.catalog import Chip, InstanceType
from hardware.models.workload import ModelSpec
from hardware.timing.breakdown import ServiceBreakdown
from hardware.timing.gpu import GpuTiming
from hardware.timing.neuroncore import NeuronCoreTiming


class ServicePredictor(Protocol):
    """Service time of one batch on one model replica, for the chips of one kind.

    Callers validate the model, the instance type and the dtype (the chip supports it) first;
    the predictor validates what is specific to it (cores per replica, sparsity).
    """

    def replica_cores(self, inst: InstanceType, cores: int) -> int:
        """Check the number of cores one replica spans on ``inst``.

        Args:
            inst: The instance type (its chip is of this predictor's kind).
            cores: Requested cores per replica.

        Returns:
            ``cores`` as a Python int.

        Raises:
            ValueError: Not a whole number, or not a layout this kind of chip runs.

        """
        ...

    def breakdown(
        self,
        spec: ModelSpec,
        chip: Chip,
        dtype: str,
        batch: np.ndarray,
        seq_len: np.ndarray,
        cores: int,
        sparsity: str | None = None,
        stack: str | None = None,
    ) -> ServiceBreakdown:
        """Service-time components of one batch; arguments already validated.

        Args:
            spec: The model.
            chip: The instance's chip (supports ``dtype``).
            dtype: Compiled dtype.
            batch: Sequences (images) per batch, broadcast with ``seq_len``.
            seq_len: Tokens per sequence (image side in pixels for CNNs).
            cores: Cores the replica spans (checked by :meth:`replica_cores`).
            sparsity: Structured weight sparsity ``"M:N"``, or None for dense weights.
            stack: GPU serving stack (:data:`hardware.timing.gpu_stacks.STACKS`), or None for
                the chip's default; NeuronCore chips take None only.

        Returns:
            The components in seconds, arrays of the broadcast shape.

        Raises:
            ValueError: A sequence length outside the model's range, a sparsity pattern
                this chip does not run, or a stack it does not run.

        """
        ...


@cache
def predictors() -> MappingProxyType[str, ServicePredictor]:
    """The timing model of each chip kind (:data:`hardware.catalog.KINDS`)."""
    return MappingProxyType({"neuroncore": NeuronCoreTiming(), "gpu": GpuTiming()})


def predictor_for(chip: Chip) -> ServicePredictor:
    """The timing model of a chip, chosen by its kind.

    Args:
        chip: A catalog chip.

    Returns:
        The predictor.

    Raises:
        KeyError: A chip kind without a timing model.

    """
    return predictors()[chip.kind]
