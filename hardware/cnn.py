"""Convolutional networks as im2col GEMMs (ResNet with bottleneck blocks).

A convolution with a ``k x k`` kernel, ``c_in`` input and ``c_out`` output channels on an
``h_out x h_out`` output map becomes one GEMM with ``M = batch * h_out**2`` (output pixels),
``K = k*k*c_in`` and ``N = c_out``. Batch norm is folded into the preceding convolution at
inference time (a per-channel scale and shift), so it costs one bias add per output element.
Here ``seq_len`` is the side of a square input image in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from hardware.workload import GemmRow, GemmSet, ModelSpec, VectorWork

_STAGE_WIDTHS = (64, 128, 256, 512)
_EXPANSION = 4


@dataclass(frozen=True, slots=True)
class _Conv:
    """One convolution of the static layer table (sizes are filled in per image side)."""

    name: str
    kernel: int
    c_in: int
    c_out: int
    stride: int
    relu: bool


def _out_side(side: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Output side of a 'same'-padded (pad = kernel // 2) convolution or pooling."""
    return (side + 2 * (kernel // 2) - kernel) // stride + 1


@dataclass(frozen=True, slots=True)
class ResNet(ModelSpec):
    """ResNet v1.5 with bottleneck blocks (torchvision layout: stride on the 3x3 conv).

    ``blocks=(3, 4, 6, 3)`` is ResNet-50, ``(3, 4, 23, 3)`` ResNet-101, ``(3, 8, 36, 3)``
    ResNet-152.

    Attributes:
        name: Canonical model name.
        blocks: Bottleneck blocks per stage (four stages of width 64, 128, 256, 512).
        classes: Outputs of the final fully connected layer.

    """

    name: str
    blocks: tuple[int, int, int, int] = (3, 4, 6, 3)
    classes: int = 1000

    def __post_init__(self) -> None:
        """Validate hyper-parameters."""
        if len(self.blocks) != 4 or any(n < 1 for n in self.blocks):
            raise ValueError(f"{self.name}: blocks must be four positive integers")
        if self.classes < 1:
            raise ValueError(f"{self.name}: classes must be >= 1")

    @property
    def kind(self) -> str:
        """Model family: ``"cnn"``."""
        return "cnn"

    @property
    def default_seq_len(self) -> int:
        """Default image side in pixels (224)."""
        return 224

    @property
    def min_seq_len(self) -> int:
        """Smallest image side in pixels (32: one pixel left after the last stage)."""
        return 32

    @property
    def max_seq_len(self) -> int:
        """Largest image side in pixels accepted (1024)."""
        return 1024

    def _convs(self) -> list[tuple[_Conv, bool]]:
        """Return the static layer table ``(conv, starts_block)``, stem excluded."""
        table: list[tuple[_Conv, bool]] = []
        c_in = 64
        for stage, (n_blocks, width) in enumerate(zip(self.blocks, _STAGE_WIDTHS, strict=True)):
            c_out = width * _EXPANSION
            for i in range(n_blocks):
                stride = 2 if stage > 0 and i == 0 else 1
                tag = f"s{stage + 1}b{i + 1}"
                table.append((_Conv(f"{tag}_1x1a", 1, c_in, width, 1, True), True))
                table.append((_Conv(f"{tag}_3x3", 3, width, width, stride, True), False))
                table.append((_Conv(f"{tag}_1x1b", 1, width, c_out, 1, True), False))
                if i == 0:
                    table.append((_Conv(f"{tag}_down", 1, c_in, c_out, stride, False), False))
                c_in = c_out
        return table

    def _layers(
        self, side: np.ndarray
    ) -> tuple[list[tuple[_Conv, np.ndarray, np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
        """Return ``(conv, side_in, side_out, block_input_side)`` per conv, stem and pool sides."""
        stem_out = _out_side(side, 7, 2)
        pool_out = _out_side(stem_out, 3, 2)
        layers = [(_Conv("conv1", 7, 3, 64, 2, True), side, stem_out, np.zeros_like(side))]
        current = block_in = pool_out
        for conv, starts_block in self._convs():
            if starts_block:
                block_in = current
            src = block_in if conv.name.endswith("_down") else current
            out = _out_side(src, conv.kernel, conv.stride)
            layers.append((conv, src, out, block_in))
            if not conv.name.endswith("_down"):
                current = out
        return layers, stem_out, pool_out

    @property
    def dense_params(self) -> int:
        """Convolution and FC weights (biases and folded batch norm excluded)."""
        convs = [c for c, _ in self._convs()] + [_Conv("conv1", 7, 3, 64, 2, True)]
        conv_weights = sum(c.kernel**2 * c.c_in * c.c_out for c in convs)
        return conv_weights + 512 * _EXPANSION * self.classes

    @property
    def params(self) -> int:
        """Parameters as torchvision counts them (conv, batch-norm scale/shift, FC)."""
        convs = [c for c, _ in self._convs()] + [_Conv("conv1", 7, 3, 64, 2, True)]
        return self.dense_params + sum(2 * c.c_out for c in convs) + self.classes

    @property
    def layer_steps(self) -> int:
        """Dependent layer steps per forward pass: one per convolution plus the FC layer."""
        return len(self._convs()) + 2

    def gemms(self, batch: ArrayLike, seq_len: ArrayLike) -> GemmSet:
        """im2col GEMMs of every convolution plus the classifier.

        Args:
            batch: Images per batch.
            seq_len: Image side in pixels.

        Returns:
            One GEMM row per convolution (``M = batch*side_out**2``; ``a_elems`` is the
            un-expanded input tensor) and one for the FC layer.

        """
        b, s = self._grid(batch, seq_len)
        layers, _, _ = self._layers(s)
        rows: list[GemmRow] = [
            (c.name, b * out * out, c.kernel**2 * c.c_in, c.c_out, 1, True, b * src * src * c.c_in)
            for c, src, out, _ in layers
        ]
        rows.append(("fc", b, 512 * _EXPANSION, self.classes, 1, True))
        return GemmSet.from_rows(rows, b.shape)

    def vector_ops(self, batch: ArrayLike, seq_len: ArrayLike) -> VectorWork:
        """Vector-engine element counts: bias adds, ReLUs, residual adds, pooling, softmax.

        Args:
            batch: Images per batch.
            seq_len: Image side in pixels.

        Returns:
            Element counts per category (float64 arrays).

        """
        b, s = self._grid(batch, seq_len)
        b = b.astype(np.float64)
        layers, _, pool_out = self._layers(s)
        bias = np.zeros(b.shape)
        relu = np.zeros(b.shape)
        residual = np.zeros(b.shape)
        for conv, _, out, _ in layers:
            elems = b * out * out * conv.c_out
            bias += elems
            relu += elems if conv.relu else 0.0
            if conv.name.endswith("_1x1b"):
                residual += elems
        final = layers[-1][2]
        pooling = 9.0 * b * pool_out * pool_out * 64 + b * final * final * 512 * _EXPANSION
        return VectorWork(
            elementwise=bias + residual + pooling + b * self.classes,
            softmax=b * self.classes,
            layernorm=np.zeros(b.shape),
            activation=relu,
        )

    def activation_bytes(self, batch: ArrayLike, seq_len: ArrayLike, dtype: str) -> np.ndarray:
        """Peak live activation bytes: a conv's input, output and the block's residual input.

        Args:
            batch: Images per batch.
            seq_len: Image side in pixels.
            dtype: Compiled dtype (sets activation element size).

        Returns:
            Bytes (float64 array).

        """
        b, s = self._grid(batch, seq_len)
        layers, _, _ = self._layers(s)
        block_channels = 64
        peak = np.zeros(b.shape)
        for conv, side_in, side_out, block_in in layers:
            if conv.name.endswith("_1x1a"):
                block_channels = conv.c_in
            live = (
                side_in.astype(np.float64) ** 2 * conv.c_in
                + side_out.astype(np.float64) ** 2 * conv.c_out
                + block_in.astype(np.float64) ** 2 * block_channels
            )
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
        layers, _, _ = self._layers(s)
        total = sum(out.astype(np.float64) ** 2 * c.c_out for c, _, out, _ in layers)
        return b * total / len(layers)
