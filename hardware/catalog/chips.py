"""Accelerator chips (Inferentia, Trainium, GPU comparators), from ``hardware/data``.

A new chip is one row in ``chips.csv`` (NeuronCore chips) or ``gpus.csv`` (GPUs); every row
carries its source, and the file it comes from sets its :attr:`Chip.kind`, which picks the
timing model (:mod:`hardware.timing.predictor`). Units are converted once, here: MiB, GiB and
GiB/s in the files become bytes and bytes/s, TFLOPS become FLOP/s.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from hardware.catalog.data_files import data_rows, parse_bool
from hardware.catalog.dtypes import DTYPES, check_dtype

GIB = 2**30
"""Bytes per GiB."""
MIB = 2**20
"""Bytes per MiB."""

CHIP_FILES: tuple[tuple[str, str], ...] = (("chips.csv", "neuroncore"), ("gpus.csv", "gpu"))
"""``(data file, chip kind)``: NeuronCore chips and GPUs, in catalog order."""

KINDS: tuple[str, ...] = tuple(kind for _, kind in CHIP_FILES)
"""Every :attr:`Chip.kind`: each has one timing model."""


@dataclass(frozen=True, slots=True)
class Chip:
    """One accelerator chip (all its cores are identical; a GPU counts as one core).

    Attributes:
        name: Chip name, e.g. ``"inferentia2"``.
        core_name: NeuronCore generation, e.g. ``"NeuronCore-v2"``.
        cores_per_chip: NeuronCores per chip.
        array_rows: TensorE systolic-array rows (contraction tile), PEs.
        array_cols: TensorE systolic-array columns (stationary free tile), PEs.
        clock_hz: TensorE clock, Hz.
        bf16_flop_per_s_per_core: Peak dense bf16 FLOP/s per core.
        fp16_flop_per_s_per_core: Peak dense fp16 FLOP/s per core.
        fp32_flop_per_s_per_core: Peak dense fp32 FLOP/s per core (0 if no fp32 path).
        int8_flop_per_s_per_core: Peak dense int8 OP/s per core (0 if unsupported).
        fp8_flop_per_s_per_core: Peak dense fp8 FLOP/s per core (0 if unsupported).
        fp4_flop_per_s_per_core: Peak dense fp4 FLOP/s per core (0 if unsupported).
        sparse_flop_per_s_per_core: Peak structured-sparse bf16 FLOP/s per core (0 if none);
            informational, dense models do not use it.
        vector_elems_per_s_per_core: VectorE throughput, element-passes per second per core.
        sram_bytes_per_core: On-chip SRAM (state buffer / SBUF) per core, bytes.
        mem_bytes_per_chip: Device memory (DRAM/HBM) per chip, bytes.
        mem_bw_bytes_per_s_per_chip: Device-memory bandwidth per chip, bytes/s.
        link_bw_bytes_per_s_per_chip: Chip-to-chip (NeuronLink) bandwidth per chip, bytes/s.
        dtypes: Dtypes the TensorE accepts natively.
        autocast: ``(requested, executed)`` pairs the compiler converts silently, e.g.
            ``(("fp32", "bf16"),)`` on Inferentia (neuron-cc ``--fast-math all``).
        projected: True if the chip is a projection, not a shipped product.
        assumptions: Which numbers are assumed or derived, and why.
        source: Where the numbers come from.
        kind: ``"neuroncore"`` or ``"gpu"`` (one of :data:`KINDS`): which timing model
            serves it.

    """

    name: str
    core_name: str
    cores_per_chip: int
    array_rows: int
    array_cols: int
    clock_hz: float
    bf16_flop_per_s_per_core: float
    fp16_flop_per_s_per_core: float
    fp32_flop_per_s_per_core: float
    int8_flop_per_s_per_core: float
    fp8_flop_per_s_per_core: float
    fp4_flop_per_s_per_core: float
    sparse_flop_per_s_per_core: float
    vector_elems_per_s_per_core: float
    sram_bytes_per_core: float
    mem_bytes_per_chip: int
    mem_bw_bytes_per_s_per_chip: float
    link_bw_bytes_per_s_per_chip: float
    dtypes: tuple[str, ...]
    autocast: tuple[tuple[str, str], ...]
    projected: bool
    assumptions: str
    source: str
    kind: str

    @property
    def is_gpu(self) -> bool:
        """Whether the chip is a GPU (for display; the timing model is chosen by ``kind``)."""
        return self.kind == "gpu"

    def supports(self, dtype: str) -> bool:
        """Whether a model compiled for ``dtype`` can run (natively or autocast).

        Args:
            dtype: Requested dtype.

        Returns:
            True if supported.

        """
        check_dtype(dtype)
        return dtype in self.dtypes or any(src == dtype for src, _ in self.autocast)

    def compute_dtype(self, dtype: str) -> str:
        """Return the dtype the TensorE actually executes for a ``dtype`` request.

        Args:
            dtype: Requested dtype.

        Returns:
            ``dtype`` itself, or its autocast target.

        Raises:
            ValueError: If the chip cannot run ``dtype``.

        """
        check_dtype(dtype)
        if dtype in self.dtypes:
            return dtype
        for src, dst in self.autocast:
            if src == dtype:
                return dst
        raise ValueError(f"{self.name} does not support dtype {dtype!r}")

    def peak_flop_per_s_per_core(self, dtype: str) -> float:
        """Peak dense FLOP/s of one core for a ``dtype`` request (after autocast).

        Args:
            dtype: Requested dtype.

        Returns:
            FLOP/s per core.

        """
        return float(getattr(self, f"{self.compute_dtype(dtype)}_flop_per_s_per_core"))

    def rate_vs_bf16(self, dtype: str) -> float:
        """Peak rate of ``dtype`` relative to bf16 on this core (0.25 for fp32 on NC-v2).

        Args:
            dtype: Requested dtype.

        Returns:
            Dimensionless ratio.

        """
        return self.peak_flop_per_s_per_core(dtype) / self.bf16_flop_per_s_per_core

    @property
    def mem_bw_bytes_per_s_per_core(self) -> float:
        """Even per-core share of the chip's device-memory bandwidth, bytes/s."""
        return self.mem_bw_bytes_per_s_per_chip / self.cores_per_chip

    @property
    def mem_bytes_per_core(self) -> float:
        """Even per-core share of the chip's device memory, bytes."""
        return self.mem_bytes_per_chip / self.cores_per_chip


def _chip_from_row(row: dict[str, str], kind: str, filename: str) -> Chip:
    where = f"{filename} row {row['name']!r}"
    dtypes = tuple(row["dtypes"].split())
    pairs = [pair.split(":") for pair in row["autocast"].split()]  # e.g. "fp32:bf16"
    if any(len(p) != 2 for p in pairs):
        raise ValueError(f"{where}: autocast entries look like 'fp32:bf16'")
    autocast = tuple((p[0], p[1]) for p in pairs)
    for d in dtypes + tuple(d for pair in autocast for d in pair):
        if d not in DTYPES:
            raise ValueError(f"{where}: unknown dtype {d!r}")

    def tflops(dtype: str) -> float:
        value = float(row[f"{dtype}_tflops_per_core"]) * 1e12
        if (value > 0) != (dtype in dtypes):
            raise ValueError(f"{where}: {dtype} rate {value} disagrees with dtypes {dtypes}")
        return value

    return Chip(
        name=row["name"],
        core_name=row["core_name"],
        cores_per_chip=int(row["cores_per_chip"]),
        array_rows=int(row["array_rows"]),
        array_cols=int(row["array_cols"]),
        clock_hz=float(row["clock_hz"]),
        bf16_flop_per_s_per_core=tflops("bf16"),
        fp16_flop_per_s_per_core=tflops("fp16"),
        fp32_flop_per_s_per_core=tflops("fp32"),
        int8_flop_per_s_per_core=tflops("int8"),
        fp8_flop_per_s_per_core=tflops("fp8"),
        fp4_flop_per_s_per_core=tflops("fp4"),
        sparse_flop_per_s_per_core=float(row["sparse_tflops_per_core"]) * 1e12,
        vector_elems_per_s_per_core=float(row["vector_elems_per_s_per_core"]),
        sram_bytes_per_core=float(row["sram_mib_per_core"]) * MIB,
        mem_bytes_per_chip=int(float(row["mem_gib_per_chip"]) * GIB),
        mem_bw_bytes_per_s_per_chip=float(row["mem_bw_gib_per_s_per_chip"]) * GIB,
        link_bw_bytes_per_s_per_chip=float(row["link_bw_gib_per_s_per_chip"]) * GIB,
        dtypes=dtypes,
        autocast=autocast,
        projected=parse_bool(row["projected"], where),
        assumptions=row["assumptions"],
        source=row["source"],
        kind=kind,
    )


@lru_cache(maxsize=1)
def _chips() -> MappingProxyType[str, Chip]:
    chips = [_chip_from_row(row, kind, f) for f, kind in CHIP_FILES for row in data_rows(f)]
    return MappingProxyType({c.name: c for c in chips})


def chip(name: str) -> Chip:
    """Look up a chip by name.

    Args:
        name: E.g. ``"inferentia2"``, ``"trainium"`` or ``"nvidia-a10g"``.

    Returns:
        The chip.

    Raises:
        KeyError: If unknown.

    """
    try:
        return _chips()[name]
    except KeyError:
        raise KeyError(name) from None


def chip_names() -> list[str]:
    """Names of all chips in the catalog, sorted."""
    return sorted(_chips())
