"""What a model asks of the hardware: GEMMs, vector-engine work and bytes.

:class:`ModelSpec` is the base every zoo entry implements; :class:`GemmSet` and
:class:`VectorWork` are the array records it returns. All per-shape quantities broadcast over
``batch`` and ``seq_len`` arrays, so a whole grid is one call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from hardware.catalog.dtypes import activation_bytes_per_element, bytes_per_element

GemmRow = (
    tuple[str, ArrayLike, ArrayLike, ArrayLike, ArrayLike, bool]
    | tuple[str, ArrayLike, ArrayLike, ArrayLike, ArrayLike, bool, ArrayLike]
)
"""``(name, M, K, N, count, b_is_weight[, a_elems])`` as produced by the zoo models."""


@dataclass(frozen=True, slots=True)
class GemmSet:
    """The GEMMs ``C[M,N] = A[M,K] @ B[K,N]`` of one forward pass over a grid of shapes.

    Attributes:
        names: One label per GEMM row, length G.
        m: Rows of A and C, int64 array of shape ``(G, *grid)``.
        k: Reduction dimension, same shape.
        n: Columns of B and C, same shape.
        count: How many times the GEMM runs per forward pass (layers x heads x batch ...).
        weight: Bool array of shape ``(G,)``: True when B is a weight matrix (streamed from
            device memory), False when both operands are activations (attention).
        a_elems: Elements of the A operand as stored in memory, shape ``(G, *grid)``; ``M*K``
            except for im2col convolutions, whose input tensor is expanded on the fly.

    """

    names: tuple[str, ...]
    m: np.ndarray
    k: np.ndarray
    n: np.ndarray
    count: np.ndarray
    weight: np.ndarray
    a_elems: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[GemmRow], shape: tuple[int, ...]) -> GemmSet:
        """Stack per-GEMM rows, broadcasting every entry to the grid ``shape``.

        Args:
            rows: ``(name, M, K, N, count, b_is_weight[, a_elems])`` tuples; ``a_elems``
                defaults to ``M*K``.
            shape: Grid shape (broadcast of batch and seq_len).

        Returns:
            The stacked set.

        """

        def stack(i: int) -> np.ndarray:
            return np.stack(
                [np.broadcast_to(np.asarray(r[i], dtype=np.int64), shape) for r in rows]
            )

        return cls(
            names=tuple(r[0] for r in rows),
            m=stack(1),
            k=stack(2),
            n=stack(3),
            count=stack(4),
            weight=np.array([r[5] for r in rows], dtype=bool),
            a_elems=np.stack(
                [
                    np.broadcast_to(
                        np.asarray(r[6] if len(r) > 6 else np.multiply(r[1], r[2]), np.int64),
                        shape,
                    )
                    for r in rows
                ]
            ),
        )

    def flops(self) -> np.ndarray:
        """Multiply-accumulate FLOPs (2 per MAC) summed over the GEMMs, shape ``grid``."""
        macs = self.m.astype(np.float64) * self.k * self.n * self.count
        return 2.0 * macs.sum(axis=0)


@dataclass(frozen=True, slots=True)
class VectorWork:
    """Element counts of vector/scalar-engine work in one forward pass, each of shape ``grid``.

    Attributes:
        elementwise: Elements of one-pass ops (bias and residual adds, scaling, pooling).
        softmax: Elements entering softmax (max, exp, sum and normalise passes).
        layernorm: Elements entering layernorm (mean, variance, normalise passes).
        activation: Elements through a nonlinearity (GELU, tanh, ReLU).

    """

    elementwise: np.ndarray
    softmax: np.ndarray
    layernorm: np.ndarray
    activation: np.ndarray

    def passes(
        self,
        elementwise: float = 1.0,
        softmax: float = 1.0,
        layernorm: float = 1.0,
        activation: float = 1.0,
    ) -> np.ndarray:
        """Weighted sum of element counts: total element-passes through the vector engine.

        Args:
            elementwise: Passes per elementwise element.
            softmax: Passes per softmax element.
            layernorm: Passes per layernorm element.
            activation: Passes per activation element.

        Returns:
            Element-passes (float64 array of shape ``grid``).

        """
        return (
            elementwise * self.elementwise
            + softmax * self.softmax
            + layernorm * self.layernorm
            + activation * self.activation
        )


def as_grid(batch: ArrayLike, seq_len: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Broadcast batch sizes and sequence lengths to int64 arrays of one shape.

    Args:
        batch: Batch sizes (whole numbers).
        seq_len: Sequence lengths in tokens, image sides in pixels, or audio in milliseconds.

    Returns:
        ``(batch, seq_len)`` int64 arrays of the broadcast shape.

    Raises:
        ValueError: If a value is not a whole number.

    """
    b, s = np.broadcast_arrays(np.asarray(batch), np.asarray(seq_len))
    for name, a in (("batch_size", b), ("seq_len", s)):
        if not np.issubdtype(a.dtype, np.integer) and not np.all(np.mod(a, 1) == 0):
            raise ValueError(f"{name} must be whole numbers")
    return b.astype(np.int64), s.astype(np.int64)


class ModelSpec(ABC):
    """Base of every zoo model; subclasses are frozen slotted dataclasses.

    Implementations provide the architecture-derived quantities below; shape arguments
    broadcast like numpy arrays. Extend the zoo by subclassing and registering in
    :mod:`hardware.models.zoo`.
    """

    __slots__ = ()

    name: str

    @property
    @abstractmethod
    def kind(self) -> str:
        """Model family: ``encoder``, ``decoder-prefill``, ``vit``, ``cnn`` or ``audio``."""

    @property
    def seq_len_unit(self) -> str:
        """What ``seq_len`` counts: ``"tokens"`` here, ``"px"`` or ``"ms audio"`` in subclasses.

        CNNs and ViTs read it as the image side in pixels, speech encoders as milliseconds of
        audio.
        """
        return "tokens"

    @property
    @abstractmethod
    def default_seq_len(self) -> int:
        """Default sequence length in :attr:`seq_len_unit` (tokens, px or ms of audio)."""

    @property
    @abstractmethod
    def min_seq_len(self) -> int:
        """Smallest accepted ``seq_len``."""

    @property
    @abstractmethod
    def max_seq_len(self) -> int:
        """Largest accepted ``seq_len``."""

    @property
    @abstractmethod
    def params(self) -> int:
        """Total parameter count."""

    @property
    @abstractmethod
    def dense_params(self) -> int:
        """Weights read by matmuls in one forward pass (the roofline's weight traffic)."""

    @property
    @abstractmethod
    def layer_steps(self) -> int:
        """Dependent layer steps per forward pass.

        Each step pays a fixed issue/synchronisation overhead and, when a replica spans
        several cores, one exchange of :meth:`boundary_activation_elems` elements.
        """

    @abstractmethod
    def gemms(self, batch: ArrayLike, seq_len: ArrayLike) -> GemmSet:
        """GEMMs of one forward pass for every (batch, seq_len) in the broadcast grid."""

    @abstractmethod
    def vector_ops(self, batch: ArrayLike, seq_len: ArrayLike) -> VectorWork:
        """Vector-engine element counts of one forward pass."""

    @abstractmethod
    def activation_bytes(self, batch: ArrayLike, seq_len: ArrayLike, dtype: str) -> np.ndarray:
        """Peak live activation bytes of one forward pass (for the memory-fit check)."""

    @abstractmethod
    def boundary_activation_elems(self, batch: ArrayLike, seq_len: ArrayLike) -> np.ndarray:
        """Elements exchanged between cores at one layer step."""

    @property
    def weight_reuse(self) -> int:
        """Passes over the unique dense weights per forward pass.

        1 for ordinary models; ALBERT applies one shared layer ``layers`` times, so weights that
        are not resident on chip are read that many times.
        """
        return 1

    def input_bytes(self, batch: ArrayLike, seq_len: ArrayLike, dtype: str = "fp32") -> np.ndarray:
        """Bytes the host sends to the device per batch (token ids, or image pixels).

        The base implementation sends nothing; zoo models override it.

        Args:
            batch: Batch size(s).
            seq_len: Sequence length(s) or image side(s).
            dtype: dtype of the framework model (pixels are 4 bytes for fp32, else 2).

        Returns:
            Bytes, float64 array of the broadcast shape.

        """
        b, _ = as_grid(batch, seq_len)
        return np.zeros(b.shape)

    def weight_bytes(self, dtype: str) -> int:
        """Bytes of all weights stored in ``dtype``.

        Args:
            dtype: Storage dtype (see :mod:`hardware.catalog.dtypes`).

        Returns:
            Bytes, rounded up to a whole byte.

        """
        return int(np.ceil(self.params * bytes_per_element(dtype)))

    def dense_weight_bytes(self, dtype: str) -> float:
        """Bytes of matmul weights read per forward pass in ``dtype``.

        Args:
            dtype: Storage dtype.

        Returns:
            Bytes.

        """
        return self.dense_params * bytes_per_element(dtype)

    def flops(self, batch: ArrayLike, seq_len: ArrayLike) -> np.ndarray:
        """GEMM FLOPs (2 per multiply-accumulate) of one forward pass.

        Args:
            batch: Batch size(s).
            seq_len: Sequence length(s) in tokens, or image side(s) in pixels.

        Returns:
            FLOPs, float64 array of the broadcast shape (0-d for scalars).

        """
        return self.gemms(batch, seq_len).flops()

    def check_seq_len(self, seq_len: ArrayLike) -> None:
        """Raise if any ``seq_len`` lies outside ``[min_seq_len, max_seq_len]``.

        Args:
            seq_len: Sequence length(s) or image side(s).

        Raises:
            ValueError: Naming the model and the accepted range.

        """
        s = np.asarray(seq_len)
        if np.any(s < self.min_seq_len) or np.any(s > self.max_seq_len):
            raise ValueError(
                f"{self.name}: seq_len must be in [{self.min_seq_len}, {self.max_seq_len}], "
                f"got {s.min()}..{s.max()}"
            )

    def _grid(self, batch: ArrayLike, seq_len: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        b, s = as_grid(batch, seq_len)
        if np.any(b < 1):
            raise ValueError(f"{self.name}: batch size must be >= 1")
        self.check_seq_len(s)
        return b, s

    @staticmethod
    def _act_bytes(dtype: str) -> float:
        return activation_bytes_per_element(dtype)
