"""Numeric data types understood by the hardware model.

A dtype names the format of the *weights and matmul inputs* of a compiled model. Activations
between layers are kept in bf16 for every dtype except fp32 (weights-only quantisation, which is
what the Neuron compilers do for int8/fp8/fp4 inference); this only affects memory traffic and
the memory-fit check.
"""

from __future__ import annotations

from types import MappingProxyType

DTYPES: tuple[str, ...] = ("fp32", "bf16", "fp16", "int8", "fp8", "fp4")
"""Every dtype name accepted anywhere in :mod:`hardware`."""

_BYTES_PER_ELEMENT = MappingProxyType(
    {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "int8": 1.0, "fp8": 1.0, "fp4": 0.5}
)


def check_dtype(dtype: str) -> str:
    """Validate a dtype name.

    Args:
        dtype: One of :data:`DTYPES`.

    Returns:
        The same name, for chaining.

    Raises:
        ValueError: If ``dtype`` is not a known dtype name.

    """
    if dtype not in _BYTES_PER_ELEMENT:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    return dtype


def bytes_per_element(dtype: str) -> float:
    """Storage size of one weight element.

    Block-scale overheads of microscaling formats (one 8-bit scale per 32 elements, about 3%)
    are ignored.

    Args:
        dtype: One of :data:`DTYPES`.

    Returns:
        Bytes per element (0.5 for fp4).

    """
    return _BYTES_PER_ELEMENT[check_dtype(dtype)]


def activation_bytes_per_element(dtype: str) -> float:
    """Storage size of one activation element for a model compiled in ``dtype``.

    Args:
        dtype: One of :data:`DTYPES`.

    Returns:
        4.0 bytes for fp32, otherwise 2.0 bytes (bf16 activations).

    """
    return 4.0 if check_dtype(dtype) == "fp32" else 2.0
