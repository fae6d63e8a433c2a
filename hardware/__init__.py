"""Hardware model of fleetsim: Inferentia catalog, model zoo, systolic timing, service times.

Pure numpy; never imports simpy. Typical use::

    import hardware

    hardware.service_time("bert-base", "inf2.xlarge", batch_size=8, seq_len=128)
"""

from hardware import catalog
from hardware.models import zoo
from hardware.planning.capacity import dtype_supported, fits, replica_memory_bytes
from hardware.timing import systolic
from hardware.timing.service_times import (
    HARDWARE_MODEL_VERSION,
    ServiceBreakdown,
    service_breakdown,
    service_time,
    service_time_array,
    service_time_table,
)

__all__ = [
    "HARDWARE_MODEL_VERSION",
    "ServiceBreakdown",
    "catalog",
    "dtype_supported",
    "fits",
    "replica_memory_bytes",
    "service_breakdown",
    "service_time",
    "service_time_array",
    "service_time_table",
    "systolic",
    "zoo",
]
