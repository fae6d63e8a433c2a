"""Arrow arrays straight from numpy buffers, for the files a run writes.

``pa.array`` would do, but its first call imports pandas to check for pandas types: a
quarter of a second of every run's start, for a library a run never uses.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def numbers(values: np.ndarray) -> pa.Array:
    """A numeric numpy array as an Arrow array sharing its memory (no nulls)."""
    values = np.ascontiguousarray(values)
    kind = pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])


def booleans(values: np.ndarray) -> pa.Array:
    """A boolean numpy array as an Arrow boolean array (bit-packed, no nulls)."""
    bits = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def strings(names: list[str] | tuple[str, ...]) -> pa.Array:
    """Strings as an Arrow string array (a dictionary of pool, model or status names)."""
    encoded = [name.encode() for name in names]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(e) for e in encoded])
    data = pa.py_buffer(b"".join(encoded))
    return pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets), data)


def labels(codes: np.ndarray, names: pa.Array) -> pa.DictionaryArray:
    """Codes into ``names`` as a dictionary array; a negative code is a null label."""
    codes = np.ascontiguousarray(codes, dtype=np.int32)
    missing = codes < 0
    if not missing.any():
        return pa.DictionaryArray.from_arrays(numbers(codes), names)
    valid = pa.py_buffer(np.packbits(~missing, bitorder="little"))
    indices = pa.Array.from_buffers(
        pa.int32(), len(codes), [valid, pa.py_buffer(np.where(missing, 0, codes))]
    )
    return pa.DictionaryArray.from_arrays(indices, names)
