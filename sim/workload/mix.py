"""The request mix: which model each arrival asks for and its sequence length."""

from __future__ import annotations

import numpy as np

from sim.scenario.schema import ChoiceSeqLen, FixedSeqLen, MixEntry, UniformSeqLen


class RequestMix:
    """Draws mix entries and sequence lengths for vectors of arrivals.

    The entry is drawn from the ``mix`` stream with probabilities proportional to the
    weights; each entry's sequence lengths come from its own ``seq_len`` stream, so adding
    an entry to the mix does not change the lengths drawn for the others.

    Args:
        entries: The scenario's mix (may be empty when a trace names the models).
        default_seq_lens: Per entry, the model's default length (used when none is given).
        mix_rng: Stream for the entry choice.
        seq_rngs: One stream per entry for its sequence lengths.

    """

    def __init__(
        self,
        entries: list[MixEntry],
        default_seq_lens: list[int],
        mix_rng: np.random.Generator,
        seq_rngs: list[np.random.Generator],
    ) -> None:
        weights = np.array([e.weight for e in entries], dtype=float)
        self.probabilities = _normalised(weights) if entries else weights
        self._cumulative = np.cumsum(self.probabilities)
        if entries:
            self._cumulative[-1] = 1.0
        self._entries = entries
        self._defaults = default_seq_lens
        self._mix_rng = mix_rng
        self._seq_rngs = seq_rngs

    def choose(self, n: int) -> np.ndarray:
        """Draw the mix entry (int64 index) of ``n`` requests."""
        if len(self._entries) == 1:
            return np.zeros(n, dtype=np.int64)
        return np.searchsorted(self._cumulative, self._mix_rng.random(n), side="right")

    def seq_lens(self, entry: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:
        """Draw a sequence length for each request of the given entries (int64).

        Requests with entry -1 (a model not in the mix) take ``fallback``.
        """
        seq = np.empty(entry.size, dtype=np.int64)
        if fallback is not None:
            seq[entry < 0] = fallback[entry < 0]
        for i, spec in enumerate(self._entries):
            mask = entry == i
            count = int(mask.sum())
            if count:
                seq[mask] = self._draw_seq(spec, self._defaults[i], self._seq_rngs[i], count)
        return seq

    def sample(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` requests: (entry index int64, sequence length int64) arrays."""
        entry = self.choose(n)
        return entry, self.seq_lens(entry)

    @staticmethod
    def _draw_seq(spec: MixEntry, default: int, rng: np.random.Generator, n: int) -> np.ndarray:
        dist = spec.seq_len
        if dist is None:
            return np.full(n, default, dtype=np.int64)
        if isinstance(dist, FixedSeqLen):
            return np.full(n, dist.value, dtype=np.int64)
        if isinstance(dist, ChoiceSeqLen):
            values = np.asarray(dist.values, dtype=np.int64)
            if dist.weights is None:
                return values[rng.integers(0, len(values), n)]
            p = _normalised(np.asarray(dist.weights, dtype=float))
            return rng.choice(values, size=n, p=p)
        if isinstance(dist, UniformSeqLen):
            return rng.integers(dist.low, dist.high + 1, n, dtype=np.int64)
        raise TypeError(f"unknown seq_len distribution {dist!r}")


def _normalised(weights: np.ndarray) -> np.ndarray:
    """Weights as probabilities; scaled by the largest first, so huge weights cannot overflow."""
    scaled = weights / weights.max()
    return scaled / scaled.sum()
