"""EC2 instance types (Inferentia, Trainium, GPU comparators), from ``hardware/data``.

A new instance type is one row in ``instances.csv`` (NeuronCore chips) or ``gpu_instances.csv``
(GPUs), naming its chip from :mod:`hardware.catalog.chips` and carrying its source. Memory in
GiB becomes bytes when the file is loaded; prices stay USD per hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from hardware.catalog.chips import GIB, Chip, chip, chip_names
from hardware.catalog.data_files import data_rows, parse_bool

INSTANCE_FILES: tuple[str, ...] = ("instances.csv", "gpu_instances.csv")
"""Data files of instance types, in catalog order."""


@dataclass(frozen=True, slots=True)
class InstanceType:
    """An EC2 instance type: its accelerator chips, host and On-Demand price.

    Attributes:
        name: Instance type, e.g. ``"inf2.xlarge"``.
        family: E.g. ``"inf1"``, ``"inf2"``, ``"inf3"``, ``"trn1"`` or ``"g5"``.
        chip: The accelerator chip.
        chips: Chips per instance.
        cores: Cores per instance (``chips * chip.cores_per_chip``; one per GPU).
        vcpus: Host vCPUs.
        host_mem_bytes: Host memory, bytes.
        accel_mem_bytes: Total device memory, bytes.
        usd_per_hour: On-Demand price, USD per hour (us-east-1).
        region: Region the price applies to.
        projected: True if the instance (and its price) is a projection.
        source: Where the specs and the price come from.
        note: Free-text remark (projection reasoning, caveats).

    """

    name: str
    family: str
    chip: Chip
    chips: int
    cores: int
    vcpus: int
    host_mem_bytes: int
    accel_mem_bytes: int
    usd_per_hour: float
    region: str
    projected: bool
    source: str
    note: str

    @property
    def mem_bytes_per_core(self) -> float:
        """Device memory per core (NeuronCore, or the whole GPU), bytes."""
        return self.accel_mem_bytes / self.cores

    @property
    def usd_per_core_hour(self) -> float:
        """On-Demand price per core (NeuronCore, or the whole GPU), USD per hour."""
        return self.usd_per_hour / self.cores

    @property
    def mem_bw_bytes_per_s(self) -> float:
        """Total device-memory bandwidth of the instance, bytes/s."""
        return self.chips * self.chip.mem_bw_bytes_per_s_per_chip

    def peak_flop_per_s(self, dtype: str = "bf16") -> float:
        """Peak dense FLOP/s of the whole instance for ``dtype``.

        Args:
            dtype: Requested dtype.

        Returns:
            FLOP/s.

        """
        return self.cores * self.chip.peak_flop_per_s_per_core(dtype)


def _instance_from_row(row: dict[str, str], filename: str) -> InstanceType:
    where = f"{filename} row {row['name']!r}"
    if row["chip"] not in chip_names():
        raise ValueError(f"{where}: unknown chip {row['chip']!r}")
    chip_ = chip(row["chip"])
    inst = InstanceType(
        name=row["name"],
        family=row["family"],
        chip=chip_,
        chips=int(row["chips"]),
        cores=int(row["cores"]),
        vcpus=int(row["vcpus"]),
        host_mem_bytes=int(float(row["host_mem_gib"]) * GIB),
        accel_mem_bytes=int(float(row["accel_mem_gib"]) * GIB),
        usd_per_hour=float(row["usd_per_hour"]),
        region=row["region"],
        projected=parse_bool(row["projected"], where),
        source=row["source"],
        note=row["note"],
    )
    if inst.cores != inst.chips * chip_.cores_per_chip:
        raise ValueError(f"{where}: cores {inst.cores} != chips x cores_per_chip")
    if inst.accel_mem_bytes != inst.chips * chip_.mem_bytes_per_chip:
        raise ValueError(f"{where}: accel_mem != chips x chip memory")
    if not inst.usd_per_hour > 0 or not inst.source.strip():
        raise ValueError(f"{where}: every instance needs a positive price and a source")
    if chip_.projected and not inst.projected:
        raise ValueError(f"{where}: an instance with a projected chip must be projected")
    return inst


@lru_cache(maxsize=1)
def _instances() -> MappingProxyType[str, InstanceType]:
    rows = [_instance_from_row(row, f) for f in INSTANCE_FILES for row in data_rows(f)]
    return MappingProxyType({i.name: i for i in rows})


def instance_type(name: str) -> InstanceType:
    """Look up an instance type by name.

    Args:
        name: E.g. ``"inf2.xlarge"``.

    Returns:
        The instance type.

    Raises:
        KeyError: ``KeyError(name)`` if unknown.

    """
    try:
        return _instances()[name]
    except KeyError:
        raise KeyError(name) from None


def instance_type_names() -> list[str]:
    """Names of all instance types in the catalog, in file order (family, then size)."""
    return list(_instances())


def instance_of(name_or_type: str | InstanceType) -> InstanceType:
    """The instance type named by ``name_or_type``, or ``name_or_type`` itself if it is one.

    Args:
        name_or_type: Name such as ``"inf2.xlarge"`` or an :class:`InstanceType`.

    Returns:
        The instance type.

    Raises:
        KeyError: Unknown name.

    """
    if isinstance(name_or_type, InstanceType):
        return name_or_type
    return instance_type(name_or_type)
