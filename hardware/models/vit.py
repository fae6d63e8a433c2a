"""Vision transformers (ViT, CLIP vision towers) as GEMMs over image patches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from hardware.catalog.dtypes import activation_bytes_per_element
from hardware.models.transformer import (
    check_positive,
    layer_gemm_rows,
    layer_params,
    layer_vector_work,
)
from hardware.models.workload import GemmRow, GemmSet, ModelSpec, VectorWork


@dataclass(frozen=True, slots=True)
class VisionTransformer(ModelSpec):
    """A ViT image encoder: patch-embedding GEMM, class token, transformer layers, head.

    ``seq_len`` is the side of a square image in pixels; the transformer runs on
    ``(side // patch)**2 + 1`` tokens. ``params`` follows ``ViTForImageClassification``
    (``head_bias=True``) or the CLIP vision tower with its projection (``patch_bias=False``,
    ``pre_layernorm=True``, ``head_bias=False``).

    Attributes:
        name: Canonical model name.
        patch: Patch side in pixels.
        layers: Transformer layers.
        hidden: Hidden size.
        heads: Attention heads; must divide ``hidden``.
        ffn: FFN inner size.
        classes: Outputs of the head (classifier classes, or CLIP's projection width).
        image_size: Pre-training image side in pixels (default ``seq_len``; sizes the position
            table).
        patch_bias: Whether the patch-embedding convolution has a bias.
        pre_layernorm: Whether a layernorm precedes the first layer (CLIP).
        head_bias: Whether the head has a bias.

    """

    name: str
    patch: int
    layers: int
    hidden: int
    heads: int
    ffn: int
    classes: int = 1000
    image_size: int = 224
    patch_bias: bool = True
    pre_layernorm: bool = False
    head_bias: bool = True

    def __post_init__(self) -> None:
        """Validate hyper-parameters."""
        check_positive(
            self.name,
            patch=self.patch,
            layers=self.layers,
            hidden=self.hidden,
            heads=self.heads,
            ffn=self.ffn,
            classes=self.classes,
            image_size=self.image_size,
        )
        if self.hidden % self.heads:
            raise ValueError(
                f"{self.name}: heads ({self.heads}) must divide hidden ({self.hidden})"
            )

    @property
    def kind(self) -> str:
        """Model family: ``"vit"``."""
        return "vit"

    @property
    def default_seq_len(self) -> int:
        """Default image side in pixels (the pre-training size)."""
        return self.image_size

    @property
    def seq_len_unit(self) -> str:
        """``seq_len`` is the image side in pixels."""
        return "px"

    @property
    def min_seq_len(self) -> int:
        """Smallest image side in pixels (one patch)."""
        return self.patch

    @property
    def max_seq_len(self) -> int:
        """Largest image side in pixels accepted (1024)."""
        return max(1024, self.image_size)

    def _tokens(self, side: np.ndarray) -> np.ndarray:
        return (side // self.patch) ** 2 + 1

    @property
    def dense_params(self) -> int:
        """Matmul weights: patch embedding, layers and head (biases excluded)."""
        h = self.hidden
        patch = 3 * self.patch**2 * h
        return patch + self.layers * (4 * h * h + 2 * h * self.ffn) + h * self.classes

    @property
    def params(self) -> int:
        """Total parameters (patch embedding, class token, positions, layers, norms, head)."""
        h = self.hidden
        positions = int(self._tokens(np.asarray(self.image_size))) * h
        patch = 3 * self.patch**2 * h + (h if self.patch_bias else 0)
        norms = 2 * h * (2 if self.pre_layernorm else 1)
        head = h * self.classes + (self.classes if self.head_bias else 0)
        return h + positions + patch + self.layers * layer_params(h, self.ffn) + norms + head

    @property
    def layer_steps(self) -> int:
        """Dependent steps: patch embedding, 2 per layer, head."""
        return 2 * self.layers + 2

    def gemms(self, batch: ArrayLike, seq_len: ArrayLike) -> GemmSet:
        """GEMMs of one forward pass: patch embedding, transformer layers, head.

        Args:
            batch: Images per batch.
            seq_len: Image side in pixels.

        Returns:
            The GEMM set (patch embedding ``M = batch*patches``, ``K = 3*patch**2``).

        """
        b, side = self._grid(batch, seq_len)
        t = self._tokens(side)
        h = self.hidden
        rows: list[GemmRow] = [
            ("patch_embed", b * (t - 1), 3 * self.patch**2, h, 1, True, b * 3 * side * side)
        ]
        rows += layer_gemm_rows(b, t, self.layers, h, self.heads, self.ffn)
        rows.append(("head", b, h, self.classes, 1, True))
        return GemmSet.from_rows(rows, b.shape)

    def vector_ops(self, batch: ArrayLike, seq_len: ArrayLike) -> VectorWork:
        """Vector-engine element counts: transformer layers plus embedding adds and final norm.

        Args:
            batch: Images per batch.
            seq_len: Image side in pixels.

        Returns:
            Element counts per category (float64 arrays).

        """
        b, side = self._grid(batch, seq_len)
        t = self._tokens(side)
        h = self.hidden
        work = layer_vector_work(b, t, self.layers, h, self.heads, self.ffn)
        tokens = (b * t).astype(np.float64)
        norms = 2 if self.pre_layernorm else 1
        return VectorWork(
            elementwise=work.elementwise + 2 * tokens * h + b * self.classes,
            softmax=work.softmax + b * self.classes,
            layernorm=work.layernorm + norms * tokens * h,
            activation=work.activation,
        )

    def activation_bytes(self, batch: ArrayLike, seq_len: ArrayLike, dtype: str) -> np.ndarray:
        """Peak live activation bytes: residual stream in and out plus the widest intermediate.

        Args:
            batch: Images per batch.
            seq_len: Image side in pixels.
            dtype: Compiled dtype (sets activation element size).

        Returns:
            Bytes (float64 array).

        """
        b, side = self._grid(batch, seq_len)
        t = self._tokens(side).astype(np.float64)
        h = self.hidden
        widest = np.maximum(max(3 * h, self.ffn), self.heads * t)
        return b * t * (2 * h + widest) * self._act_bytes(dtype)

    def boundary_activation_elems(self, batch: ArrayLike, seq_len: ArrayLike) -> np.ndarray:
        """Elements crossing one layer boundary (``batch*tokens*hidden``).

        Args:
            batch: Images per batch.
            seq_len: Image side in pixels.

        Returns:
            Elements (float64 array).

        """
        b, side = self._grid(batch, seq_len)
        return b * self._tokens(side).astype(np.float64) * self.hidden

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
