"""Compiled shapes: a batch runs at the smallest compiled shape that holds it, padded.

Neuron compiles static shapes: a model is compiled for a batch size and a sequence length,
and a request is padded to its compiled sequence bucket, a partial batch to the compiled
batch size (torch-neuron and optimum-neuron pad both; transformers-neuronx buckets the
sequence). A pool's ``shapes`` says which shapes exist:

* ``auto`` (default): on NeuronCores, sequence buckets at the powers of two from 64 up to
  the model's longest sequence (the Neuron bucketing practice) and one compiled batch size,
  the pool's ``max_batch``; image models (CNNs, ViT) keep their image size; speech models
  bucket their audio length in milliseconds the same way (64 ms ... 16,384 ms, 30,000 ms).
  On GPUs, every shape: TensorRT engines built with dynamic shapes run the batch and
  sequence they are given inside their optimisation profile, and the published GPU rows
  give no padding to fit (docs/hardware.md "Compiled shapes").
* ``none``: every shape compiled (no padding).
* ``{seq_buckets: [...], batch_sizes: [...]}``: these; either list may be left out (no
  padding on that axis).

A batch is timed at its padded shape; the trace records ``padded_batch`` and
``padded_seq_len`` and the summary the padding waste: the share of the (batch x sequence)
token slots computed that held padding.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator

from analysis.schema import MAX_SEQ_LEN
from sim.scenario.base import Config

SMALLEST_BUCKET = 64
"""The first default sequence bucket (tokens, or milliseconds of audio)."""


def _ascending(values: list[int] | None) -> list[int] | None:
    if values is not None and any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"must be strictly ascending, got {values}")
    return values


class CompiledShapes(Config):
    """Explicit compiled shapes (``None`` on an axis: every size on that axis)."""

    seq_buckets: list[Annotated[int, Field(ge=1, le=MAX_SEQ_LEN)]] | None = Field(
        default=None, min_length=1, max_length=64
    )
    batch_sizes: list[Annotated[int, Field(ge=1, le=4096)]] | None = Field(
        default=None, min_length=1, max_length=64
    )

    @field_validator("seq_buckets", "batch_sizes")
    @classmethod
    def _sorted(cls, values: list[int] | None) -> list[int] | None:
        return _ascending(values)


ShapesConfig = Literal["auto", "none"] | CompiledShapes
"""``auto`` (Neuron bucketing on NeuronCores, none on GPUs), ``none``, or explicit shapes."""


def default_seq_buckets(max_seq_len: int) -> list[int]:
    """Powers of two from ``SMALLEST_BUCKET`` to the model's longest sequence (which closes)."""
    buckets = []
    size = SMALLEST_BUCKET
    while size < max_seq_len:
        buckets.append(size)
        size *= 2
    return [*buckets, max_seq_len]


def padded_sizes(sizes: np.ndarray, compiled: list[int] | None) -> np.ndarray:
    """Each size padded to the smallest compiled size that holds it (itself if ``None``).

    Sizes beyond the largest compiled size are checked before a run; here they map to 0.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    if compiled is None:
        return sizes
    table = np.asarray(compiled, dtype=np.int64)
    at = np.searchsorted(table, sizes, side="left")
    return np.where(at < len(table), table[np.minimum(at, len(table) - 1)], 0)


TOKEN_KINDS = ("encoder", "decoder-prefill")
"""Model kinds whose ``seq_len`` is a token count (tokenised on the host)."""

BUCKETED_KINDS = (*TOKEN_KINDS, "audio")
"""Model kinds whose ``seq_len`` is bucketed on NeuronCores: tokens, and audio in milliseconds
(a speech model is compiled for a fixed number of samples); image models keep their size."""


def resolve_shapes(
    shapes: ShapesConfig, *, on_gpu: bool, model_kind: str, max_seq_len: int, max_batch: int
) -> tuple[list[int] | None, list[int] | None]:
    """A pool's compiled ``(seq_buckets, batch_sizes)``; ``None`` on an axis: no padding.

    Args:
        shapes: The pool's ``shapes``.
        on_gpu: Whether the instance's accelerator is a GPU.
        model_kind: ``ModelSpec.kind`` of the pool's model.
        max_seq_len: The model's longest sequence (tokens).
        max_batch: The pool's ``batching.max_batch``.

    """
    if shapes == "none" or (shapes == "auto" and on_gpu):
        return None, None
    if shapes == "auto":
        buckets = default_seq_buckets(max_seq_len) if model_kind in BUCKETED_KINDS else None
        return buckets, [max_batch]
    return shapes.seq_buckets, shapes.batch_sizes
