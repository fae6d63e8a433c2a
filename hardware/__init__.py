"""Hardware model of fleetsim: Inferentia catalog, model zoo, systolic timing, service times.

Pure numpy; never imports simpy. Typical use::

    import hardware

    hardware.service_time("bert-base", "inf2.xlarge", batch_size=8, seq_len=128)

Subpackages, each depending only on those above it:

* :mod:`hardware.catalog`: chips, instance types, dtypes, power figures, sparsity rules.
* :mod:`hardware.models`: the model zoo (what a model asks of the hardware: GEMMs, bytes).
* :mod:`hardware.timing`: service time of a batch, one timing model per chip kind behind one
  protocol (systolic roofline for NeuronCores, per-kernel roofline for GPUs).
* :mod:`hardware.planning`: memory fit, and throughput, cost and energy tables.
* :mod:`hardware.calibration`: the fits on published benchmarks and their error report
  (``python -m hardware.calibration [--dry-run]``); :func:`hardware.calibrate.predict` predicts
  published rows (Neuron or GPU layout). Loaded on first use: it needs pandas, runs do not.
"""

from hardware import catalog
from hardware.catalog import instance_of
from hardware.models import zoo
from hardware.models.zoo import model_spec
from hardware.planning.capacity import (
    dtype_supported,
    fits,
    natural_dtype,
    pipeline_depth,
    replica_layouts,
    replica_memory_bytes,
    resolve_dtype,
)
from hardware.timing import systolic
from hardware.timing.gpu_stacks import DEFAULT_STACK, STACKS, resolve_stack
from hardware.timing.service_times import (
    HARDWARE_MODEL_VERSION,
    ServiceBreakdown,
    service_breakdown,
    service_interval,
    service_time,
    service_time_array,
    service_time_table,
)


def __getattr__(name: str) -> object:
    """Load ``hardware.calibrate`` (pandas, scipy) on first access only."""
    if name == "calibrate":
        import importlib

        return importlib.import_module("hardware.calibrate")
    raise AttributeError(f"module 'hardware' has no attribute {name!r}")


__all__ = [
    "DEFAULT_STACK",
    "HARDWARE_MODEL_VERSION",
    "STACKS",
    "ServiceBreakdown",
    "catalog",
    "dtype_supported",
    "fits",
    "natural_dtype",
    "instance_of",
    "model_spec",
    "pipeline_depth",
    "replica_layouts",
    "replica_memory_bytes",
    "resolve_dtype",
    "resolve_stack",
    "service_breakdown",
    "service_interval",
    "service_time",
    "service_time_array",
    "service_time_table",
    "systolic",
    "zoo",
]
