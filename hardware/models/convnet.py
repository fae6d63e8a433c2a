"""Convolutional networks as im2col GEMMs, described by a flat layer table.

A convolution with a ``k x k`` kernel, ``c_in`` input and ``c_out`` output channels on an
``h_out x h_out`` output map becomes one GEMM with ``M = batch * h_out**2`` (output pixels),
``K = k*k*c_in`` and ``N = c_out``. Batch norm is folded into the convolution at inference time
(a per-channel scale and shift), so it costs one bias add per output element. ``seq_len`` is the
side of a square input image in pixels.

Each :class:`Conv` names the downsampling factor ``scale`` of its input map relative to the
image, so branches, routes and concatenations (ResNet shortcuts, YOLO's PANet) need no graph:
the input side is ``ceil(side / scale)`` and the output side ``ceil(input side / stride)``
('same' padding; exact for the stride-2 convolutions and pools of ResNet, VGG and YOLO at image
sides divisible by 32). A new CNN is one function returning its :class:`ConvTable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike

from hardware.catalog.dtypes import activation_bytes_per_element
from hardware.models.workload import GemmRow, GemmSet, ModelSpec, VectorWork


@dataclass(frozen=True, slots=True)
class Conv:
    """One convolution of a layer table.

    Attributes:
        name: Layer label.
        kernel: Kernel side.
        c_in: Input channels.
        c_out: Output channels.
        stride: Stride.
        scale: Downsampling factor of the input map relative to the image.
        act_passes: Vector-engine passes per output element of its activation (ReLU and leaky
            ReLU 1; Mish 3: softplus, tanh, multiply; 0 for a linear output).
        bias: Whether the convolution has a bias parameter.
        norm: Whether a (folded) batch norm follows (2 parameters per output channel).
        residual: Whether the output is added to a skip tensor.
        keep: Channels of another tensor (skip or route) alive during the convolution.
        keep_scale: Downsampling factor of that tensor (0 = the input's ``scale``).

    """

    name: str
    kernel: int
    c_in: int
    c_out: int
    stride: int = 1
    scale: int = 1
    act_passes: float = 1.0
    bias: bool = False
    norm: bool = True
    residual: bool = False
    keep: int = 0
    keep_scale: int = 0


@dataclass(frozen=True, slots=True)
class Dense:
    """A fully connected layer after global pooling.

    Attributes:
        name: Layer label.
        c_in: Input features.
        c_out: Output features.
        act_passes: Activation passes per output element (0 = linear).
        bias: Whether the layer has a bias.

    """

    name: str
    c_in: int
    c_out: int
    act_passes: float = 0.0
    bias: bool = True


@dataclass(frozen=True, slots=True)
class Pool:
    """Vector-engine work outside convolutions: pooling, upsampling, global averaging.

    Attributes:
        name: Label.
        passes: Passes per element (``k*k`` compares for ``k x k`` max pooling, 1 to copy).
        channels: Channels of the map.
        scale: Downsampling factor of the map whose elements are counted.

    """

    name: str
    passes: float
    channels: int
    scale: int


@dataclass(frozen=True, slots=True)
class ConvTable:
    """The layers of a CNN: convolutions in execution order, dense head, extra vector work."""

    convs: tuple[Conv, ...]
    dense: tuple[Dense, ...]
    pools: tuple[Pool, ...]


def _ceil_div(a: np.ndarray, b: int) -> np.ndarray:
    return -(-a // b)


class ConvNet(ModelSpec):
    """Base of CNN zoo entries: everything follows from :meth:`table`.

    Subclasses are frozen slotted dataclasses holding the hyper-parameters; they implement
    :meth:`table` and :attr:`default_seq_len`.
    """

    __slots__ = ()

    name: str

    def table(self) -> ConvTable:
        """The layer table (convolutions, dense head, pooling work)."""
        raise NotImplementedError

    @property
    def kind(self) -> str:
        """Model family: ``"cnn"``."""
        return "cnn"

    @property
    def seq_len_unit(self) -> str:
        """``seq_len`` is the image side in pixels."""
        return "px"

    @property
    def min_seq_len(self) -> int:
        """Smallest image side in pixels (32: one pixel left after five stride-2 stages)."""
        return 32

    @property
    def max_seq_len(self) -> int:
        """Largest image side in pixels accepted (1024)."""
        return 1024

    @property
    def dense_params(self) -> int:
        """Convolution and dense weights (biases and folded batch norm excluded)."""
        t = _table(self)
        convs = sum(c.kernel**2 * c.c_in * c.c_out for c in t.convs)
        return convs + sum(d.c_in * d.c_out for d in t.dense)

    @property
    def params(self) -> int:
        """Parameters as torchvision/darknet count them (weights, biases, batch-norm affine)."""
        t = _table(self)
        extra = sum(c.c_out * (int(c.bias) + 2 * int(c.norm)) for c in t.convs)
        return self.dense_params + extra + sum(d.c_out for d in t.dense if d.bias)

    @property
    def layer_steps(self) -> int:
        """Dependent layer steps per forward pass: one per convolution and dense layer."""
        t = _table(self)
        return len(t.convs) + len(t.dense)

    def _sides(self, side: np.ndarray) -> list[tuple[Conv, np.ndarray, np.ndarray]]:
        out = []
        for c in _table(self).convs:
            side_in = _ceil_div(side, c.scale)
            out.append((c, side_in, _ceil_div(side_in, c.stride)))
        return out

    def gemms(self, batch: ArrayLike, seq_len: ArrayLike) -> GemmSet:
        """im2col GEMMs of every convolution plus the dense head.

        Args:
            batch: Images per batch.
            seq_len: Image side in pixels.

        Returns:
            One GEMM row per convolution (``M = batch*side_out**2``; ``a_elems`` is the
            un-expanded input tensor) and one per dense layer.

        """
        b, s = self._grid(batch, seq_len)
        rows: list[GemmRow] = [
            (c.name, b * out * out, c.kernel**2 * c.c_in, c.c_out, 1, True, b * src * src * c.c_in)
            for c, src, out in self._sides(s)
        ]
        rows += [(d.name, b, d.c_in, d.c_out, 1, True) for d in _table(self).dense]
        return GemmSet.from_rows(rows, b.shape)

    def vector_ops(self, batch: ArrayLike, seq_len: ArrayLike) -> VectorWork:
        """Vector-engine element counts: bias adds, activations, residual adds, pools, softmax.

        Args:
            batch: Images per batch.
            seq_len: Image side in pixels.

        Returns:
            Element counts per category (float64 arrays).

        """
        b, s = self._grid(batch, seq_len)
        b = b.astype(np.float64)
        t = _table(self)
        elementwise = np.zeros(b.shape)
        activation = np.zeros(b.shape)
        for c, _, out in self._sides(s):
            elems = b * out * out * c.c_out
            elementwise += elems * (1 + int(c.residual))
            activation += c.act_passes * elems
        for p in t.pools:
            elementwise += p.passes * b * p.channels * _ceil_div(s, p.scale) ** 2
        for d in t.dense:
            elementwise += b * d.c_out
            activation += d.act_passes * b * d.c_out
        classes = t.dense[-1].c_out if t.dense else 0
        return VectorWork(
            elementwise=elementwise,
            softmax=b * classes,
            layernorm=np.zeros(b.shape),
            activation=activation,
        )

    def activation_bytes(self, batch: ArrayLike, seq_len: ArrayLike, dtype: str) -> np.ndarray:
        """Peak live activation bytes: a conv's input, output and any kept skip/route tensor.

        Args:
            batch: Images per batch.
            seq_len: Image side in pixels.
            dtype: Compiled dtype (sets activation element size).

        Returns:
            Bytes (float64 array).

        """
        b, s = self._grid(batch, seq_len)
        peak = np.zeros(b.shape)
        for c, side_in, side_out in self._sides(s):
            kept = _ceil_div(s, c.keep_scale or c.scale).astype(np.float64) ** 2 * c.keep
            live = side_in.astype(np.float64) ** 2 * c.c_in + side_out**2.0 * c.c_out + kept
            peak = np.maximum(peak, live)
        return b * peak * self._act_bytes(dtype)

    def boundary_activation_elems(self, batch: ArrayLike, seq_len: ArrayLike) -> np.ndarray:
        """Mean output elements of a convolution (exchanged at each synchronisation point).

        Args:
            batch: Images per batch.
            seq_len: Image side in pixels.

        Returns:
            Elements (float64 array).

        """
        b, s = self._grid(batch, seq_len)
        sides = self._sides(s)
        total = sum(out.astype(np.float64) ** 2 * c.c_out for c, _, out in sides)
        return b * total / len(sides)

    def input_bytes(self, batch: ArrayLike, seq_len: ArrayLike, dtype: str = "fp32") -> np.ndarray:
        """Host-to-device input bytes: a ``3 x side x side`` pixel tensor per image.

        Args:
            batch: Images per batch.
            seq_len: Image side in pixels.
            dtype: dtype of the framework model: fp32 pixels take 4 bytes, others 2.

        Returns:
            Bytes (float64 array).

        """
        b, s = self._grid(batch, seq_len)
        return b * 3.0 * s.astype(np.float64) ** 2 * activation_bytes_per_element(dtype)


@lru_cache(maxsize=64)
def _table(net: ConvNet) -> ConvTable:
    """Memoised layer table of a (hashable, frozen) network."""
    return net.table()
