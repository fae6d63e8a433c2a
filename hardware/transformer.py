"""Transformer encoders (BERT family) as GEMMs and vector work."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from hardware.workload import GemmSet, ModelSpec, VectorWork


@dataclass(frozen=True, slots=True)
class TransformerEncoder(ModelSpec):
    """A BERT-style post-LN transformer encoder (token + position + segment embeddings).

    Per layer: fused QKV projection, per-head ``Q K^T`` and ``P V``, output projection, two FFN
    GEMMs; GELU, softmax and two layernorms on the vector engine. A pooler (``hidden x hidden``)
    runs on the first token. Segment embeddings (2 types) and the pooler are always counted, so
    DistilBERT-like models are over-counted by <1% of parameters.

    Attributes:
        name: Canonical model name.
        layers: Number of encoder layers.
        hidden: Hidden size (elements).
        heads: Attention heads; must divide ``hidden``.
        ffn: FFN inner size (elements).
        vocab: Vocabulary size (rows of the token embedding).
        max_positions: Learned position embeddings; also the largest accepted ``seq_len``.

    """

    name: str
    layers: int
    hidden: int
    heads: int
    ffn: int
    vocab: int = 30522
    max_positions: int = 512

    def __post_init__(self) -> None:
        """Validate hyper-parameters."""
        for field in ("layers", "hidden", "heads", "ffn", "vocab", "max_positions"):
            value = getattr(self, field)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{self.name}: {field} must be a positive integer, got {value!r}")
        if self.hidden % self.heads:
            raise ValueError(
                f"{self.name}: heads ({self.heads}) must divide hidden ({self.hidden})"
            )

    @property
    def kind(self) -> str:
        """Model family: ``"encoder"``."""
        return "encoder"

    @property
    def default_seq_len(self) -> int:
        """Default sequence length in tokens (128, or ``max_positions`` if smaller)."""
        return min(128, self.max_positions)

    @property
    def min_seq_len(self) -> int:
        """Shortest accepted sequence, in tokens."""
        return 1

    @property
    def max_seq_len(self) -> int:
        """Longest accepted sequence, in tokens (= ``max_positions``)."""
        return self.max_positions

    @property
    def dense_params(self) -> int:
        """Weights read by matmuls in one forward pass (excludes embedding tables and biases)."""
        h = self.hidden
        return self.layers * (4 * h * h + 2 * h * self.ffn) + h * h

    @property
    def params(self) -> int:
        """Total parameter count (weights, biases, layernorms, embeddings, pooler)."""
        h = self.hidden
        embeddings = (self.vocab + self.max_positions + 2) * h + 2 * h
        per_layer = 4 * h * h + 4 * h + 2 * h * self.ffn + self.ffn + h + 4 * h
        return embeddings + self.layers * per_layer + h * h + h

    @property
    def layer_steps(self) -> int:
        """Dependent layer steps per forward pass: attention and FFN blocks, 2 per layer."""
        return 2 * self.layers

    def gemms(self, batch: ArrayLike, seq_len: ArrayLike) -> GemmSet:
        """GEMMs of one forward pass.

        Args:
            batch: Sequences per batch (>= 1), broadcastable with ``seq_len``.
            seq_len: Tokens per sequence.

        Returns:
            QKV, attention score, attention value, output projection, FFN up/down and pooler.

        """
        b, s = self._grid(batch, seq_len)
        h, dh, nl = self.hidden, self.hidden // self.heads, self.layers
        tokens = b * s
        per_head = nl * self.heads * b
        rows = [
            ("qkv", tokens, h, 3 * h, nl, True),
            ("attn_score", s, dh, s, per_head, False),
            ("attn_value", s, s, dh, per_head, False),
            ("attn_out", tokens, h, h, nl, True),
            ("ffn_up", tokens, h, self.ffn, nl, True),
            ("ffn_down", tokens, self.ffn, h, nl, True),
            ("pooler", b, h, h, 1, True),
        ]
        return GemmSet.from_rows(rows, b.shape)

    def vector_ops(self, batch: ArrayLike, seq_len: ArrayLike) -> VectorWork:
        """Vector/scalar-engine element counts of one forward pass.

        Args:
            batch: Sequences per batch.
            seq_len: Tokens per sequence.

        Returns:
            Elementwise (bias and residual adds, embedding sums, score scaling), softmax inputs,
            layernorm inputs and GELU/tanh inputs, in elements.

        """
        b, s = self._grid(batch, seq_len)
        h, nl = self.hidden, self.layers
        tokens = (b * s).astype(np.float64)
        scores = b * self.heads * s.astype(np.float64) * s
        bias_adds = tokens * (3 * h + h + self.ffn + h)
        return VectorWork(
            elementwise=nl * (bias_adds + 2 * tokens * h + scores) + 2 * tokens * h,
            softmax=nl * scores,
            layernorm=(2 * nl + 1) * tokens * h,
            activation=nl * tokens * self.ffn + b * h,
        )

    def activation_bytes(self, batch: ArrayLike, seq_len: ArrayLike, dtype: str) -> np.ndarray:
        """Peak live activation bytes: residual stream in and out plus the widest intermediate.

        Args:
            batch: Sequences per batch.
            seq_len: Tokens per sequence.
            dtype: Compiled dtype (sets activation element size).

        Returns:
            Bytes (float64 array).

        """
        b, s = self._grid(batch, seq_len)
        h = self.hidden
        widest = np.maximum(max(3 * h, self.ffn), self.heads * s)
        return b * s.astype(np.float64) * (2 * h + widest) * self._act_bytes(dtype)

    def boundary_activation_elems(self, batch: ArrayLike, seq_len: ArrayLike) -> np.ndarray:
        """Elements crossing one layer boundary (the residual stream, ``batch*seq*hidden``).

        Args:
            batch: Sequences per batch.
            seq_len: Tokens per sequence.

        Returns:
            Elements (float64 array).

        """
        b, s = self._grid(batch, seq_len)
        return b * s.astype(np.float64) * self.hidden
