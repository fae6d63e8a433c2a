"""Speech encoders (wav2vec 2.0, the Whisper encoder) as GEMMs over audio frames.

``seq_len`` of an audio model is the **length of the audio in milliseconds** (an integer, as
for every model): ``seq_len: 4000`` is a 4-second utterance. Milliseconds keep every other part
of fleetsim unchanged (an integer per request, bucketed and padded like tokens: a request
padded to a 8192 ms bucket is timed as 8.192 s of audio, which is what a Neuron model compiled
for a fixed number of samples computes) and are what a user knows about an utterance. The
models turn milliseconds into frames themselves:

* wav2vec 2.0 (Baevski et al. 2020, NeurIPS; HF ``facebook/wav2vec2-base``) reads the raw
  16 kHz waveform. Seven 1-d convolutions of 512 channels, kernels (10,3,3,3,3,2,2) and strides
  (5,2,2,2,2,2,2), no padding, make one frame per 20 ms (49 frames for 1 s); each is one im2col
  GEMM. A layernorm and a 512 -> 768 projection follow, then the convolutional positional
  embedding (kernel 128, 16 groups: 16 GEMMs of ``K = 128*48``, ``N = 48``) and 12 post-LN
  transformer layers (hidden 768, 12 heads, FFN 3072). ``params`` follows ``Wav2Vec2Model``
  (94,371,712, the paper's "95M"); a CTC head (``-960h``: 768 x 32) is not counted.
* The Whisper encoder (Radford et al. 2022; HF ``openai/whisper-base``) reads an 80-bin log-mel
  spectrogram of a **30 s window**, 3,000 frames at 10 ms, always: shorter audio is padded to
  30 s by the feature extractor, so its compute does not depend on ``seq_len`` (at most
  30,000 ms). Two convolutions (kernel 3, the second with stride 2) make 1,500 frames for the
  pre-LN transformer layers. The log-mel features are computed on the host (not modelled).

Neither family has a published Neuron or GPU benchmark row in the calibration data: their
service times are architecture predictions of the calibrated hardware model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from hardware.models.transformer import check_positive, layer_gemm_rows, layer_vector_work
from hardware.models.workload import GemmRow, GemmSet, ModelSpec, VectorWork

MAX_AUDIO_MS = 30_000
"""Longest accepted utterance in milliseconds (Whisper's window; wav2vec2 has no limit)."""


def _transformer_params(layers: int, hidden: int, ffn: int, key_bias: bool) -> int:
    """Parameters of ``layers`` transformer layers (Whisper's key projection has no bias)."""
    per_layer = 4 * hidden * hidden + 2 * hidden * ffn + ffn + 4 * hidden + 4 * hidden
    return layers * (per_layer + (hidden if key_bias else 0))


class SpeechEncoder(ModelSpec):
    """Shared behaviour of the speech encoders: ``seq_len`` is audio length in milliseconds.

    Subclasses provide :meth:`frames`, the conv front end and the parameter counts.
    """

    __slots__ = ()

    name: str
    layers: int
    hidden: int
    heads: int
    ffn: int

    @property
    def kind(self) -> str:
        """Model family: ``"audio"``."""
        return "audio"

    @property
    def seq_len_unit(self) -> str:
        """``seq_len`` is the audio length in milliseconds."""
        return "ms audio"

    @property
    def default_seq_len(self) -> int:
        """Default utterance: 4,000 ms (a spoken request to an assistant lasts a few seconds)."""
        return 4000

    @property
    def max_seq_len(self) -> int:
        """Longest utterance in milliseconds (30,000)."""
        return MAX_AUDIO_MS

    def frames(self, audio_ms: np.ndarray) -> np.ndarray:
        """Transformer frames for ``audio_ms`` milliseconds of audio (int64 array)."""
        raise NotImplementedError

    def _validate(self) -> None:
        check_positive(
            self.name, layers=self.layers, hidden=self.hidden, heads=self.heads, ffn=self.ffn
        )
        if self.hidden % self.heads:
            raise ValueError(
                f"{self.name}: heads ({self.heads}) must divide hidden ({self.hidden})"
            )

    def _front_end(self, b: np.ndarray, ms: np.ndarray) -> list[tuple[GemmRow, np.ndarray]]:
        """Front-end GEMM rows, each with its output elements (for vector work and memory)."""
        raise NotImplementedError

    def _front_norm(self, b: np.ndarray, ms: np.ndarray) -> np.ndarray:
        """Elements normalised in the front end (group norm, layernorm); none by default."""
        return np.zeros(b.shape)

    def gemms(self, batch: ArrayLike, seq_len: ArrayLike) -> GemmSet:
        """GEMMs of one forward pass: conv front end (im2col), then the transformer layers.

        Args:
            batch: Utterances per batch.
            seq_len: Audio length in milliseconds.

        Returns:
            The GEMM set.

        """
        b, ms = self._grid(batch, seq_len)
        rows = [row for row, _ in self._front_end(b, ms)]
        t = self.frames(ms)
        rows += layer_gemm_rows(b, t, self.layers, self.hidden, self.heads, self.ffn)
        return GemmSet.from_rows(rows, b.shape)

    def vector_ops(self, batch: ArrayLike, seq_len: ArrayLike) -> VectorWork:
        """Vector-engine element counts: front end, transformer layers, a final layernorm.

        Every front-end output gets a bias or residual add and a GELU (wav2vec2's linear
        feature projection is counted as activated too: 1% of its front end's elements).

        Args:
            batch: Utterances per batch.
            seq_len: Audio length in milliseconds.

        Returns:
            Element counts per category (float64 arrays).

        """
        b, ms = self._grid(batch, seq_len)
        t = self.frames(ms)
        work = layer_vector_work(b, t, self.layers, self.hidden, self.heads, self.ffn)
        front = sum(out.astype(np.float64) for _, out in self._front_end(b, ms))
        tokens = (b * t).astype(np.float64)
        return VectorWork(
            elementwise=work.elementwise + front + 2 * tokens * self.hidden,
            softmax=work.softmax,
            layernorm=work.layernorm + self._front_norm(b, ms) + tokens * self.hidden,
            activation=work.activation + front,
        )

    def activation_bytes(self, batch: ArrayLike, seq_len: ArrayLike, dtype: str) -> np.ndarray:
        """Peak live activation bytes: the largest conv input + output, or a transformer layer.

        Args:
            batch: Utterances per batch.
            seq_len: Audio length in milliseconds.
            dtype: Compiled dtype (sets activation element size).

        Returns:
            Bytes (float64 array).

        """
        b, ms = self._grid(batch, seq_len)
        t = self.frames(ms).astype(np.float64)
        h = self.hidden
        peak = b * t * (2 * h + np.maximum(max(3 * h, self.ffn), self.heads * t))
        for row, out in self._front_end(b, ms):
            peak = np.maximum(peak, np.asarray(row[6], np.float64) + out)
        return peak * self._act_bytes(dtype)

    def boundary_activation_elems(self, batch: ArrayLike, seq_len: ArrayLike) -> np.ndarray:
        """Mean elements crossing a layer step (conv outputs and the residual stream).

        Args:
            batch: Utterances per batch.
            seq_len: Audio length in milliseconds.

        Returns:
            Elements (float64 array).

        """
        b, ms = self._grid(batch, seq_len)
        front = [out.astype(np.float64) for _, out in self._front_end(b, ms)]
        stream = b * self.frames(ms).astype(np.float64) * self.hidden
        return (sum(front) + 2 * self.layers * stream) / (len(front) + 2 * self.layers)

    @property
    def layer_steps(self) -> int:
        """Dependent steps: one per front-end GEMM, 2 per transformer layer."""
        return len(self._front_end(np.ones(1, np.int64), np.full(1, 1000))) + 2 * self.layers


@dataclass(frozen=True, slots=True)
class Wav2Vec2(SpeechEncoder):
    """wav2vec 2.0 over a raw waveform; ``seq_len`` is the audio length in milliseconds.

    Attributes:
        name: Canonical model name.
        layers: Transformer layers.
        hidden: Hidden size.
        heads: Attention heads; must divide ``hidden``.
        ffn: FFN inner size.
        conv_channels: Channels of every feature-extractor convolution.
        kernels: Kernel of each feature-extractor convolution (samples, then frames).
        strides: Stride of each.
        pos_kernel: Kernel of the convolutional positional embedding.
        pos_groups: Its groups; must divide ``hidden``.
        sample_rate_hz: Waveform samples per second.

    """

    name: str
    layers: int = 12
    hidden: int = 768
    heads: int = 12
    ffn: int = 3072
    conv_channels: int = 512
    kernels: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    strides: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
    pos_kernel: int = 128
    pos_groups: int = 16
    sample_rate_hz: int = 16_000

    def __post_init__(self) -> None:
        """Validate hyper-parameters."""
        self._validate()
        check_positive(self.name, conv_channels=self.conv_channels, pos_kernel=self.pos_kernel)
        if len(self.kernels) != len(self.strides) or not self.kernels:
            raise ValueError(f"{self.name}: kernels and strides must have the same length")
        if self.hidden % self.pos_groups or self.sample_rate_hz % 1000:
            raise ValueError(f"{self.name}: pos_groups must divide hidden; whole samples per ms")

    @property
    def min_seq_len(self) -> int:
        """Shortest audio in milliseconds that yields one frame (25 ms: the receptive field)."""
        field, jump = 1, 1
        for k, s in zip(self.kernels, self.strides, strict=True):
            field += (k - 1) * jump
            jump *= s
        return -(-field * 1000 // self.sample_rate_hz)

    def _lengths(self, ms: np.ndarray) -> list[np.ndarray]:
        """Output length of every feature-extractor convolution, starting with the samples."""
        out = [ms * (self.sample_rate_hz // 1000)]
        for k, s in zip(self.kernels, self.strides, strict=True):
            out.append((out[-1] - k) // s + 1)
        return out

    def frames(self, audio_ms: np.ndarray) -> np.ndarray:
        """Frames after the feature extractor: one per 20 ms (49 for 1 s at 16 kHz)."""
        return self._lengths(np.asarray(audio_ms, np.int64))[-1]

    def _front_end(self, b: np.ndarray, ms: np.ndarray) -> list[tuple[GemmRow, np.ndarray]]:
        c, h = self.conv_channels, self.hidden
        lengths = self._lengths(ms)
        rows: list[tuple[GemmRow, np.ndarray]] = []
        for i, k in enumerate(self.kernels):
            c_in = 1 if i == 0 else c
            src, out = b * lengths[i] * c_in, b * lengths[i + 1]
            rows.append(((f"feature_conv{i}", out, k * c_in, c, 1, True, src), out * c))
        t = b * lengths[-1]
        rows.append((("feature_proj", t, c, h, 1, True, t * c), t * h))
        g = h // self.pos_groups
        rows.append((("pos_conv", t, self.pos_kernel * g, g, self.pos_groups, True, t * h), t * h))
        return rows

    def _front_norm(self, b: np.ndarray, ms: np.ndarray) -> np.ndarray:
        """Group norm after the first convolution, layernorm before the projection."""
        lengths = self._lengths(ms)
        return b * (lengths[1] + lengths[-1]).astype(np.float64) * self.conv_channels

    @property
    def dense_params(self) -> int:
        """Matmul weights: feature convolutions, projection, positional conv, layers."""
        c, h = self.conv_channels, self.hidden
        convs = sum(k * (1 if i == 0 else c) * c for i, k in enumerate(self.kernels))
        pos = self.pos_kernel * h * (h // self.pos_groups)
        return convs + c * h + pos + self.layers * (4 * h * h + 2 * h * self.ffn)

    @property
    def params(self) -> int:
        """``Wav2Vec2Model`` parameters (group norm, weight-normed positional conv, mask)."""
        c, h = self.conv_channels, self.hidden
        group_norm = 2 * c  # after the first convolution only (feat_extract_norm="group")
        projection = 2 * c + h  # layernorm and bias (the weight is in dense_params)
        pos_extra = self.pos_kernel + h  # weight_norm's g (dim=2) and the bias
        mask_embedding, encoder_norm = h, 2 * h
        layers = _transformer_params(self.layers, h, self.ffn, key_bias=True)
        dense_layers = self.layers * (4 * h * h + 2 * h * self.ffn)
        extras = group_norm + projection + pos_extra + mask_embedding + encoder_norm
        return self.dense_params + extras + layers - dense_layers

    def input_bytes(self, batch: ArrayLike, seq_len: ArrayLike, dtype: str = "fp32") -> np.ndarray:
        """Host-to-device bytes: the waveform, one sample of the activation size per sample.

        Args:
            batch: Utterances per batch.
            seq_len: Audio length in milliseconds.
            dtype: dtype of the framework model: fp32 samples take 4 bytes, others 2.

        Returns:
            Bytes (float64 array).

        """
        b, ms = self._grid(batch, seq_len)
        samples = b * ms.astype(np.float64) * (self.sample_rate_hz // 1000)
        return samples * self._act_bytes(dtype)


@dataclass(frozen=True, slots=True)
class WhisperEncoder(SpeechEncoder):
    """The Whisper audio encoder over a 30 s log-mel window; ``seq_len`` is audio in ms.

    Attributes:
        name: Canonical model name.
        layers: Transformer layers.
        hidden: Hidden size (``d_model``).
        heads: Attention heads; must divide ``hidden``.
        ffn: FFN inner size (``4 * d_model``).
        mel_bins: Log-mel channels of the input.
        window_frames: Transformer frames per window (1,500: 3,000 mel frames halved).

    """

    name: str
    layers: int = 6
    hidden: int = 512
    heads: int = 8
    ffn: int = 2048
    mel_bins: int = 80
    window_frames: int = 1500

    def __post_init__(self) -> None:
        """Validate hyper-parameters."""
        self._validate()
        check_positive(self.name, mel_bins=self.mel_bins, window_frames=self.window_frames)

    @property
    def min_seq_len(self) -> int:
        """Shortest audio in milliseconds (1; padded to the 30 s window)."""
        return 1

    def frames(self, audio_ms: np.ndarray) -> np.ndarray:
        """Always ``window_frames``: every input is padded to the 30 s window."""
        return np.full(np.shape(audio_ms), self.window_frames, dtype=np.int64)

    def _front_end(self, b: np.ndarray, ms: np.ndarray) -> list[tuple[GemmRow, np.ndarray]]:
        h, mel = self.hidden, 2 * self.window_frames + 0 * ms
        t = b * self.frames(ms)
        return [
            (
                ("conv1", b * mel, 3 * self.mel_bins, h, 1, True, b * mel * self.mel_bins),
                b * mel * h,
            ),
            (("conv2", t, 3 * h, h, 1, True, b * mel * h), t * h),
        ]

    @property
    def dense_params(self) -> int:
        """Matmul weights: the two convolutions and the layers."""
        h = self.hidden
        convs = 3 * self.mel_bins * h + 3 * h * h
        return convs + self.layers * (4 * h * h + 2 * h * self.ffn)

    @property
    def params(self) -> int:
        """HF ``WhisperEncoder`` parameters (conv biases, position table, final layernorm)."""
        h = self.hidden
        dense_layers = self.layers * (4 * h * h + 2 * h * self.ffn)
        layers = _transformer_params(self.layers, h, self.ffn, key_bias=False)
        positions, final_norm = self.window_frames * h, 2 * h
        return self.dense_params + 2 * h + positions + layers - dense_layers + final_norm

    def input_bytes(self, batch: ArrayLike, seq_len: ArrayLike, dtype: str = "fp32") -> np.ndarray:
        """Host-to-device bytes: the ``mel_bins x 3000`` log-mel window of every utterance.

        Args:
            batch: Utterances per batch.
            seq_len: Audio length in milliseconds.
            dtype: dtype of the framework model: fp32 features take 4 bytes, others 2.

        Returns:
            Bytes (float64 array).

        """
        b, ms = self._grid(batch, seq_len)
        mel = 2.0 * self.window_frames * self.mel_bins + 0 * ms
        return b * mel * self._act_bytes(dtype)
