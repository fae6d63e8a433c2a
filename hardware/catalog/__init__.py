"""Catalog: the facts about chips and instance types that every prediction starts from.

Loaded from ``hardware/data`` (one row per chip or instance type, each with its source):
:mod:`~hardware.catalog.chips`, :mod:`~hardware.catalog.instances`, numeric formats
(:mod:`~hardware.catalog.dtypes`), accelerator power (:mod:`~hardware.catalog.power`) and
structured-sparsity rules (:mod:`~hardware.catalog.sparsity`). Nothing here knows a model or a
timing rule. The lookups are re-exported, so ``hardware.catalog.instance_type("inf2.xlarge")``
works.
"""

from hardware.catalog.chips import GIB, KINDS, MIB, Chip, chip, chip_names
from hardware.catalog.dtypes import DTYPES
from hardware.catalog.instances import (
    InstanceType,
    instance_of,
    instance_type,
    instance_type_names,
)

__all__ = [
    "DTYPES",
    "GIB",
    "KINDS",
    "MIB",
    "Chip",
    "InstanceType",
    "chip",
    "chip_names",
    "instance_of",
    "instance_type",
    "instance_type_names",
]
