"""Catalog of chips and instance types: the facts the timing model starts from."""

from hardware.catalog.chips import (
    GIB,
    MIB,
    Chip,
    InstanceType,
    chip,
    chip_names,
    instance_type,
    instance_type_names,
)

__all__ = [
    "GIB",
    "MIB",
    "Chip",
    "InstanceType",
    "chip",
    "chip_names",
    "instance_type",
    "instance_type_names",
]
