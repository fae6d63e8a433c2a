"""Structured (M:N) weight sparsity, documented from NeuronCore-v3 on (Trainium2/3).

An ``"M:N"`` pattern keeps M non-zero weights in every group of N. The TensorE skips the
zeros on the stationary (weight) side only, so matmuls against weights speed up by N/M, capped
by the chip's published sparse peak over the dense peak of the dtype (NC-v4: sparse
FP16/BF16 = 315 TFLOPS = 4x dense bf16, equal to the MX-FP8 rate, so fp8/fp4 gain nothing
more); attention matmuls (activations on both sides) do not speed up. Weights stored sparse
take M/N of their dense bytes (index metadata is not counted). Source: NKI Trainium2 and
Trainium3 architecture guides (patterns 4:16, 4:12, 4:8, 2:8, 2:4, 1:4, 1:2; "up to 4x"),
see hardware-facts.md section 1c. No NeuronCore-v1/v2 chip documents sparsity.
"""

from __future__ import annotations

from hardware.catalog.chips import Chip

PATTERNS = ("4:16", "4:12", "4:8", "2:8", "2:4", "1:4", "1:2")


def density(pattern: str | None) -> float:
    """Fraction of weights kept: M/N for ``"M:N"``, 1 for dense (None).

    Raises:
        ValueError: a pattern the hardware does not document.

    """
    if pattern is None:
        return 1.0
    if pattern not in PATTERNS:
        raise ValueError(f"sparsity must be one of {', '.join(PATTERNS)}, got {pattern!r}")
    kept, group = (int(x) for x in pattern.split(":"))
    return kept / group


def supports(chip: Chip) -> bool:
    """Whether the chip's TensorE documents structured-sparse execution."""
    return chip.sparse_flop_per_s_per_core > 0


def weight_speedup(chip: Chip, dtype: str, pattern: str | None) -> float:
    """Speed-up of weight matmuls in ``dtype`` under ``pattern`` (1 when dense).

    Raises:
        ValueError: sparsity asked of a chip without it, or an unknown pattern.

    """
    if pattern is None:
        return 1.0
    keep = density(pattern)
    if not supports(chip):
        raise ValueError(f"{chip.name} has no structured-sparsity support (sparsity {pattern!r})")
    cap = chip.sparse_flop_per_s_per_core / chip.peak_flop_per_s_per_core(dtype)
    return max(1.0, min(1.0 / keep, cap))
