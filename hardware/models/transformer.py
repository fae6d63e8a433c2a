"""Transformer encoders (BERT family, GPT-2 prefill) as GEMMs and vector work.

The layer description (:func:`layer_gemm_rows`, :func:`layer_vector_work`) is shared with the
vision transformers of :mod:`hardware.models.vit`: per layer a fused QKV projection, per-head
``Q K^T`` and ``P V``, the output projection, two FFN GEMMs, and on the vector engine GELU,
softmax and two layernorms. Text models make tokens from token + position (+ segment)
embeddings, vision models from a patch-embedding GEMM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from hardware.models.workload import GemmRow, GemmSet, ModelSpec, VectorWork

TOKEN_INPUT_BYTES = 8
"""Bytes per token per input tensor sent by the host (int64 ids and masks, as HF tokenizers)."""


def check_positive(name: str, **values: int) -> None:
    """Raise ValueError naming the model unless every value is a positive integer.

    Args:
        name: Model name for the message.
        **values: Hyper-parameters to check.

    Raises:
        ValueError: On a non-integer or non-positive value.

    """
    for field, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name}: {field} must be a positive integer, got {value!r}")


def layer_gemm_rows(
    b: np.ndarray, s: np.ndarray, layers: int, hidden: int, heads: int, ffn: int
) -> list[GemmRow]:
    """GEMM rows of ``layers`` transformer layers over ``b`` sequences of ``s`` tokens.

    Args:
        b: Sequences per batch (int64 grid).
        s: Tokens per sequence (int64 grid, same shape).
        layers: Layers applied.
        hidden: Hidden size.
        heads: Attention heads.
        ffn: FFN inner size.

    Returns:
        ``(name, M, K, N, count, b_is_weight)`` rows.

    """
    tokens = b * s
    dh = hidden // heads
    per_head = layers * heads * b
    return [
        ("qkv", tokens, hidden, 3 * hidden, layers, True),
        ("attn_score", s, dh, s, per_head, False),
        ("attn_value", s, s, dh, per_head, False),
        ("attn_out", tokens, hidden, hidden, layers, True),
        ("ffn_up", tokens, hidden, ffn, layers, True),
        ("ffn_down", tokens, ffn, hidden, layers, True),
    ]


def layer_vector_work(
    b: np.ndarray, s: np.ndarray, layers: int, hidden: int, heads: int, ffn: int
) -> VectorWork:
    """Vector-engine element counts of ``layers`` transformer layers (embeddings excluded).

    Args:
        b: Sequences per batch.
        s: Tokens per sequence.
        layers: Layers applied.
        hidden: Hidden size.
        heads: Attention heads.
        ffn: FFN inner size.

    Returns:
        Bias and residual adds plus score scaling (elementwise), softmax inputs, two layernorms
        per layer and the FFN activation, in elements.

    """
    tokens = (b * s).astype(np.float64)
    scores = b * heads * s.astype(np.float64) * s
    bias_adds = tokens * (3 * hidden + hidden + ffn + hidden)
    return VectorWork(
        elementwise=layers * (bias_adds + 2 * tokens * hidden + scores),
        softmax=layers * scores,
        layernorm=2 * layers * tokens * hidden,
        activation=layers * tokens * ffn,
    )


def layer_params(hidden: int, ffn: int) -> int:
    """Parameters of one layer: QKV and output projections, FFN, two layernorms (with biases)."""
    return 4 * hidden * hidden + 2 * hidden * ffn + 9 * hidden + ffn


@dataclass(frozen=True, slots=True)
class TransformerEncoder(ModelSpec):
    """A BERT-style transformer over token sequences; also GPT-2's prefill pass.

    The hyper-parameters are those of the Hugging Face configs. ``params`` follows the HF model
    classes (``BertModel``, ``RobertaModel``, ``AlbertModel``, ``ElectraModel``,
    ``DistilBertModel``, ``GPT2Model``): pre- and post-LN layers have the same parameters.

    Attributes:
        name: Canonical model name.
        layers: Encoder layers applied per forward pass.
        hidden: Hidden size (elements).
        heads: Attention heads; must divide ``hidden``.
        ffn: FFN inner size (elements).
        vocab: Vocabulary size (rows of the token embedding).
        max_positions: Usable positions; also the largest accepted ``seq_len``.
        type_vocab: Segment-embedding rows (2 BERT, 1 RoBERTa, 0 DistilBERT/GPT-2).
        pooler: Whether a ``hidden x hidden`` pooler runs on the first token.
        embedding_size: Factorised embedding width (ALBERT 128, ELECTRA-small 128); 0 means
            ``hidden``. A non-zero width adds an ``embedding_size x hidden`` projection GEMM.
        shared_layers: ALBERT: all layers share one set of weights (parameters of one layer,
            compute of ``layers``; weights not resident on chip are re-read by every layer).
        causal: Decoder prefill (GPT-2): the same dense compute over the prompt, masked.
        position_offset: Position rows that are not usable (RoBERTa's padding offset of 2).

    """

    name: str
    layers: int
    hidden: int
    heads: int
    ffn: int
    vocab: int = 30522
    max_positions: int = 512
    type_vocab: int = 2
    pooler: bool = True
    embedding_size: int = 0
    shared_layers: bool = False
    causal: bool = False
    position_offset: int = 0

    def __post_init__(self) -> None:
        """Validate hyper-parameters."""
        check_positive(
            self.name,
            layers=self.layers,
            hidden=self.hidden,
            heads=self.heads,
            ffn=self.ffn,
            vocab=self.vocab,
            max_positions=self.max_positions,
        )
        if self.hidden % self.heads:
            raise ValueError(
                f"{self.name}: heads ({self.heads}) must divide hidden ({self.hidden})"
            )
        for field in ("type_vocab", "embedding_size", "position_offset"):
            if getattr(self, field) < 0:
                raise ValueError(f"{self.name}: {field} must be >= 0")

    @property
    def kind(self) -> str:
        """Model family: ``"encoder"``, or ``"decoder-prefill"`` for causal models."""
        return "decoder-prefill" if self.causal else "encoder"

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
    def _embedding_width(self) -> int:
        return self.embedding_size or self.hidden

    @property
    def _projected(self) -> bool:
        return self._embedding_width != self.hidden

    @property
    def _unique_layers(self) -> int:
        return 1 if self.shared_layers else self.layers

    @property
    def dense_params(self) -> int:
        """Unique matmul weights (excludes embedding tables and biases)."""
        h = self.hidden
        dense = self._unique_layers * (4 * h * h + 2 * h * self.ffn)
        dense += self._embedding_width * h if self._projected else 0
        return dense + (h * h if self.pooler else 0)

    @property
    def weight_reuse(self) -> int:
        """Passes over the unique dense weights per forward pass (``layers`` for ALBERT)."""
        return self.layers if self.shared_layers else 1

    @property
    def params(self) -> int:
        """Total parameter count (weights, biases, layernorms, embeddings, pooler)."""
        h, e = self.hidden, self._embedding_width
        rows = self.vocab + self.max_positions + self.position_offset + self.type_vocab
        embeddings = rows * e + 2 * e + (e * h + h if self._projected else 0)
        pooler = h * h + h if self.pooler else 0
        return embeddings + self._unique_layers * layer_params(h, self.ffn) + pooler

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
            Embedding projection (factorised models), QKV, attention score and value, output
            projection, FFN up/down and pooler.

        """
        b, s = self._grid(batch, seq_len)
        h = self.hidden
        rows: list[GemmRow] = []
        if self._projected:
            rows.append(("emb_proj", b * s, self._embedding_width, h, 1, True))
        rows += layer_gemm_rows(b, s, self.layers, h, self.heads, self.ffn)
        if self.pooler:
            rows.append(("pooler", b, h, h, 1, True))
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
        h = self.hidden
        work = layer_vector_work(b, s, self.layers, h, self.heads, self.ffn)
        tokens = (b * s).astype(np.float64)
        return VectorWork(
            elementwise=work.elementwise + 2 * tokens * h,
            softmax=work.softmax,
            layernorm=work.layernorm + tokens * h,
            activation=work.activation + (b * h if self.pooler else 0),
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

    def input_bytes(self, batch: ArrayLike, seq_len: ArrayLike, dtype: str = "fp32") -> np.ndarray:
        """Host-to-device input bytes: int64 ids, attention mask and (if any) segment ids.

        Args:
            batch: Sequences per batch.
            seq_len: Tokens per sequence.
            dtype: dtype of the framework model (token ids are int64 regardless).

        Returns:
            Bytes (float64 array).

        """
        b, s = self._grid(batch, seq_len)
        tensors = 2 + (1 if self.type_vocab > 1 else 0)
        return b * s.astype(np.float64) * tensors * TOKEN_INPUT_BYTES
