"""GPU serving stacks: the one list of stacks a GPU pool can name, and the default.

A GPU's service time depends on the software that runs the model as much as on the chip: a
compiled engine fuses a transformer layer into a few kernels and launches them from a CUDA graph,
an eager framework launches every operator from Python. Each stack has its own fitted
parameters in ``data/gpu_parameters.csv`` (column ``stack``), fitted on published rows of that
stack by :mod:`hardware.calibration.gpu_fit`.

NeuronCore chips have one stack (the Neuron compiler): for them ``stack`` must be None.
"""

from __future__ import annotations

from types import MappingProxyType

from hardware.catalog import Chip

STACKS = MappingProxyType(
    {
        "tensorrt": "compiled engines: NVIDIA TensorRT (demoBERT plugins, Triton TensorRT "
        "backend, transformer-deploy TensorRT); fused kernels, CUDA-graph-like launch cost",
        "onnxruntime": "ONNX Runtime with the CUDA execution provider (Triton ONNX Runtime "
        "backend, transformer-deploy ORT vanilla/optimized): graph-level fusion, no TensorRT",
        "eager": "PyTorch eager (Hugging Face transformers, per-operator kernel launches from "
        "Python): the framework floor",
    }
)
"""Stack name -> what it stands for, in the order best to worst published figures."""

DEFAULT_STACK = "tensorrt"
"""The stack a GPU runs when none is named: the best published stack, what a fair comparison
with Inferentia (compiled by the Neuron compiler) uses."""


def resolve_stack(chip: Chip, stack: str | None) -> str | None:
    """The stack a chip runs: ``stack`` checked, or its default.

    Args:
        chip: A catalog chip.
        stack: A name of :data:`STACKS`, or None for the chip's default.

    Returns:
        The stack name for a GPU (``DEFAULT_STACK`` when ``stack`` is None); None for a
        NeuronCore chip.

    Raises:
        ValueError: An unknown stack, or any stack named for a NeuronCore chip.

    """
    if not chip.is_gpu:
        if stack is not None:
            raise ValueError(
                f"stack applies to GPUs only; {chip.name} runs the Neuron compiler, got {stack!r}"
            )
        return None
    return DEFAULT_STACK if stack is None else check_stack(stack)


def check_stack(stack: str) -> str:
    """``stack`` if it names a stack of :data:`STACKS`.

    Raises:
        ValueError: An unknown stack, with the choices.

    """
    if stack not in STACKS:
        raise ValueError(f"unknown GPU stack {stack!r}; choose one of {', '.join(STACKS)}")
    return stack
