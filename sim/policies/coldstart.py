"""Cold start of a new instance: provision + runtime init + model load, with sourced defaults.

```yaml
fleet:
  - name: nlu
    ...
    cold_start: {provision: 40s, runtime_init: 10s, load_bandwidth: 1GB/s}   # each optional
```

An instance added to a pool (``fleet.add_instance``) is billed from its request and serves
``cold_start_s`` later:

* **provision** (s): from the EC2 launch request to a booted OS that can start the server;
* **runtime_init** (s): the serving process starts and initialises the accelerator runtime;
* **model load** (s) = the model's weight bytes (a pool serving several models: the sum of
  theirs) in the pool's dtype (``hardware`` zoo,
  ``ModelSpec.weight_bytes``; the dtype as ``sim.scenario.checks.pool_dtype`` resolves it)
  / ``load_bandwidth`` (bytes/s). The weights are read once per instance: every replica on
  it loads the same file, from storage once and then from host memory, whose copy to device
  memory (PCIe, GB/s per core) is left in ``runtime_init``.

A key left out takes the instance family's default (:data:`FAMILY_DEFAULTS`, each with its
reasoning or source). A model that is only a label of synthetic pools has no weights: its
load takes 0 s.

The ``cold_start:`` block validates into ``sim.scenario.schema.ColdStartConfig`` (bandwidths
by ``sim.scenario.units.parse_bytes_per_s``); this module turns it into seconds for a pool.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hardware import catalog
from hardware.models.workload import ModelSpec
from sim.scenario.base import BytesPerSecond
from sim.scenario.checks import pool_dtype
from sim.scenario.groups import pool_models
from sim.scenario.models import resolve_model
from sim.scenario.schema import ColdStartConfig, PoolConfig, Scenario
from sim.scenario.units import BANDWIDTH_HELP, parse_bytes_per_s

# the YAML side (ColdStartConfig, the bandwidth type and parser) is defined in sim.scenario,
# where the schema uses it without importing this module; its names stay importable here
__all__ = [
    "BANDWIDTH_HELP",
    "FAMILY_DEFAULTS",
    "BytesPerSecond",
    "ColdStart",
    "ColdStartConfig",
    "FamilyDefaults",
    "cold_start_parts",
    "cold_start_s",
    "family_defaults",
    "parse_bytes_per_s",
    "pool_cold_start",
]


@dataclass(frozen=True, slots=True)
class FamilyDefaults:
    """Default cold-start parts of an instance family, with where each comes from."""

    provision_s: float
    runtime_init_s: float
    load_bytes_per_s: float
    source: str


_PROVISION = (
    "provision 40 s: EC2 publishes no launch time; 40 s (issue 15's example) is an assumed "
    "launch-to-booted time of a Linux AMI on a Nitro instance (pending -> running, then boot) "
    "- replace it by your own measurement"
)
_LOAD = (
    "load 1 GB/s: an EBS gp3 volume at its highest provisionable throughput, 1,000 MiB/s "
    "(AWS EBS volume types; the gp3 baseline is 125 MiB/s: set load_bandwidth: 125MiB/s for "
    "an unprovisioned volume), or weights already in the AMI's page cache"
)
_NEURON = FamilyDefaults(
    provision_s=40.0,
    runtime_init_s=10.0,
    load_bytes_per_s=1e9,
    source=f"{_PROVISION}; runtime_init 10 s: the Neuron runtime's nrt_init takes about 6.7 s "
    "per process (aws-neuron/aws-neuron-sdk issue 1361), plus an assumed 3.3 s for the "
    f"framework import and NEFF load; {_LOAD}",
)
_GPU = FamilyDefaults(
    provision_s=40.0,
    runtime_init_s=5.0,
    load_bytes_per_s=1e9,
    source=f"{_PROVISION}; runtime_init 5 s: assumed (framework import and CUDA context "
    f"creation, a few seconds; no published figure); {_LOAD}",
)
FAMILY_DEFAULTS: dict[str, FamilyDefaults] = {
    "inf1": _NEURON,
    "inf2": _NEURON,
    "inf3": _NEURON,  # projected instances: Inferentia2's figures
    "trn1": _NEURON,
    "g4dn": _GPU,
    "g5": _GPU,
    "g6": _GPU,
    "p3": _GPU,
}
"""Default cold-start parts per instance family (``hardware/data/*instances.csv``)."""


@dataclass(frozen=True, slots=True)
class ColdStart:
    """A pool's cold start in its parts (s), and what the model load is made of.

    Attributes:
        provision_s: Launch request to a booted OS.
        runtime_init_s: Serving process and accelerator runtime start.
        load_s: Model load: ``weight_bytes / load_bytes_per_s``.
        weight_bytes: The model's weights in the pool's dtype (0 for a label).
        load_bytes_per_s: The load bandwidth.
        source: Where the family defaults come from (for the parts not configured).

    """

    provision_s: float
    runtime_init_s: float
    load_s: float
    weight_bytes: int
    load_bytes_per_s: float
    source: str

    @property
    def total_s(self) -> float:
        """Seconds from the request of an instance to its first request served."""
        return self.provision_s + self.runtime_init_s + self.load_s


def family_defaults(instance_type: str) -> FamilyDefaults:
    """The cold-start defaults of an instance type's family.

    Raises:
        KeyError: unknown instance type, or a family without defaults (add it to
            ``FAMILY_DEFAULTS`` with its source).

    """
    family = catalog.instance_type(instance_type).family
    if family not in FAMILY_DEFAULTS:
        raise KeyError(
            f"no cold-start defaults for the {family} family of {instance_type}; set "
            "cold_start: {provision: ..., runtime_init: ..., load_bandwidth: ...}"
        )
    return FAMILY_DEFAULTS[family]


def cold_start_parts(
    config: ColdStartConfig | None,
    instance_type: str,
    model: ModelSpec | None,
    dtype: str,
) -> ColdStart:
    """The cold start of one instance type serving one model in one dtype.

    Args:
        config: The pool's ``cold_start`` (None: every part from the family defaults).
        instance_type: EC2 instance type (``inf2.xlarge``).
        model: The model its replicas load, or None (a label of synthetic pools: no load).
        dtype: The dtype the weights are stored in (``bf16``).

    Raises:
        KeyError: see :func:`family_defaults`.

    """
    config = config if config is not None else ColdStartConfig()
    defaults = family_defaults(instance_type)
    bandwidth = config.load_bandwidth or defaults.load_bytes_per_s
    weight_bytes = 0 if model is None else model.weight_bytes(dtype)
    return ColdStart(
        provision_s=defaults.provision_s if config.provision is None else config.provision,
        runtime_init_s=(
            defaults.runtime_init_s if config.runtime_init is None else config.runtime_init
        ),
        load_s=weight_bytes / bandwidth,
        weight_bytes=weight_bytes,
        load_bytes_per_s=bandwidth,
        source=defaults.source,
    )


def pool_cold_start(
    pool: PoolConfig, scenario: Scenario, config: ColdStartConfig | None = None
) -> ColdStart:
    """A scenario pool's cold start in its parts: its instance, model and dtype resolved.

    Args:
        pool: The pool (validated with the scenario).
        scenario: Its scenario (for custom ``models:``).
        config: The pool's ``cold_start`` (None: family defaults).

    """
    parts = []
    for name in pool_models(pool):  # several models: each group loads its own weights
        try:
            model = resolve_model(scenario, name)
        except KeyError:  # a label of synthetic pools: no weights to load
            model = None
        parts.append(cold_start_parts(config, pool.instance, model, pool_dtype(pool)))
    first = parts[0]
    weight_bytes = sum(p.weight_bytes for p in parts)
    return replace(first, load_s=weight_bytes / first.load_bytes_per_s, weight_bytes=weight_bytes)


def cold_start_s(
    pool: PoolConfig, scenario: Scenario, config: ColdStartConfig | None = None
) -> float:
    """Seconds from requesting an instance of ``pool`` to it serving (``pool_cold_start``)."""
    return pool_cold_start(pool, scenario, config).total_s
