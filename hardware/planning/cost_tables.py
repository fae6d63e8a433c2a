"""Throughput, cost and energy per inference for one model, by batch size and by instance type.

The business logic of ``fleetsim hardware table`` and ``fleetsim hardware compare``. Every
figure is for **full load**: each of an instance's ``cores // cores_per_replica`` replicas serves
batches back to back, so

.. code-block:: text

    replica_throughput_per_s  = batch_size / interval_s
    instance_throughput_per_s = replicas * replica_throughput_per_s
    usd_per_million           = usd_per_hour / (3600 * instance_throughput_per_s) * 1e6
    inferences_per_j          = instance_throughput_per_s / instance_watts
    request_latency_s         = max_wait_s + pipeline_depth * service_time_s

``request_latency_s`` is the longest a request of a full batch spends from its arrival to its
answer when no batch queues: up to ``max_wait_s`` for the batch to form, then the batch's time
in the replica (a replica over ``c`` cores is a ``c``-stage pipeline, and the service time is
its interval: :func:`~hardware.planning.capacity.pipeline_depth`). Queueing at a given load is
what ``fleetsim plan`` simulates. ``interval_s`` is ``service_time_s`` less the input transfer a
queued batch hides (:func:`~hardware.timing.service_times.service_interval`; NeuronCore-v1
one-core replicas stage the next batch's input while one runs): a busy replica takes a batch
every interval, and each batch still takes its service time.

Prices are On-Demand us-east-1; watts are the accelerators' only (:mod:`hardware.catalog.power`).
A chip without a power figure (``power_basis`` ``"unavailable"``: the projected Inferentia3)
gets NaN watts and inferences per joule; ``chip_power(chip).reasoning`` says why.
Rows whose weights and activations do not fit a replica's device memory keep their service
time but get NaN throughput and cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hardware.catalog import InstanceType, instance_of, instance_type_names
from hardware.catalog.dtypes import check_dtype
from hardware.catalog.power import chip_power
from hardware.models.workload import ModelSpec
from hardware.models.zoo import model_spec
from hardware.planning.capacity import (
    AUTO_DTYPE,
    fits,
    pipeline_depth,
    replica_layouts,
    resolve_dtype,
)
from hardware.timing.gpu_stacks import check_stack, resolve_stack
from hardware.timing.service_times import service_breakdown

if TYPE_CHECKING:  # pandas is imported where it is used: runs never need it
    import pandas as pd

DEFAULT_BATCH_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
"""Batch sizes of ``fleetsim hardware table`` when none are given."""

SECONDS_PER_HOUR = 3600.0

NEURON_STACK = "neuron"
"""The ``stack`` column of NeuronCore rows: the Neuron compiler and runtime."""

COLUMNS: tuple[str, ...] = (
    "instance", "family", "projected", "model", "seq_len", "dtype", "stack", "cores", "replicas",
    "pipeline_depth", "batch_size", "fits", "service_time_s", "interval_s", "max_wait_s",
    "request_latency_s", "replica_throughput_per_s",
    "instance_throughput_per_s", "usd_per_hour", "usd_per_million", "instance_watts",
    "power_basis", "inferences_per_j",
)  # fmt: skip
"""Columns of :func:`table` (and of :attr:`Comparison.best`), in order."""


@dataclass(frozen=True, slots=True)
class Comparison:
    """Result of :func:`compare`.

    Attributes:
        best: One row per instance type that can run the model (columns as :func:`table`),
            at its cheapest layout (cores per replica) and batch size, sorted by
            ``usd_per_million``.
        skipped: ``instance, reason`` for every instance type left out.

    """

    best: pd.DataFrame
    skipped: pd.DataFrame

    def cheapest_by_family(self, families: int = 3) -> list[str]:
        """The cheapest instance type of each of the ``families`` cheapest families.

        The candidates to hand ``fleetsim plan --instances``, which sizes a fleet at a load.
        """
        first = self.best.drop_duplicates("family")  # best is sorted cheapest first
        return first.instance.head(families).tolist()


def _check_batch_sizes(batch_sizes: Sequence[int] | np.ndarray) -> np.ndarray:
    b = np.atleast_1d(np.asarray(batch_sizes))
    if b.size == 0 or not np.issubdtype(b.dtype, np.integer) or np.any(b < 1):
        raise ValueError(f"batch sizes must be whole numbers >= 1, got {list(b)}")
    return b.astype(np.int64)


def _check_max_wait(max_wait_s: float) -> None:
    if isinstance(max_wait_s, bool) or not np.isfinite(max_wait_s) or max_wait_s < 0:
        raise ValueError(f"max_wait must be a finite number of seconds >= 0, got {max_wait_s!r}")


def table(
    model: str | ModelSpec,
    instance: str | InstanceType,
    seq_len: int | None = None,
    dtype: str = AUTO_DTYPE,
    cores: int = 1,
    batch_sizes: Sequence[int] | np.ndarray = DEFAULT_BATCH_SIZES,
    max_wait_s: float = 0.0,
    stack: str | None = None,
) -> pd.DataFrame:
    """Throughput, cost and energy of ``model`` on one instance type, one row per batch size.

    Args:
        model: Zoo name or spec.
        instance: Instance-type name or object.
        seq_len: Tokens per sequence (image side for CNNs); None = model default.
        dtype: Compiled dtype, or ``"auto"``: the instance's natural one
            (:func:`~hardware.planning.capacity.natural_dtype`).
        cores: Cores per replica (1 on GPUs); replicas = instance cores // cores.
        batch_sizes: Batch sizes, each >= 1.
        max_wait_s: Longest a request waits for its batch to fill, seconds (the batching
            ``max_wait``); only ``request_latency_s`` depends on it.
        stack: GPU serving stack (:data:`hardware.timing.gpu_stacks.STACKS`); None = the
            GPU's default (the best published, TensorRT). Must be None for NeuronCores.

    Returns:
        One row per batch size, columns :data:`COLUMNS`.

    Raises:
        KeyError: Unknown model or instance.
        ValueError: Bad dtype (unknown or unsupported), cores, seq_len or batch sizes.

    """
    import pandas as pd

    spec = model_spec(model)
    inst = instance_of(instance)
    dtype = check_dtype(resolve_dtype(inst, dtype))
    seq = spec.default_seq_len if seq_len is None else int(seq_len)
    spec.check_seq_len(seq)
    b = _check_batch_sizes(batch_sizes)
    _check_max_wait(max_wait_s)
    split = service_breakdown(spec, inst, b, seq, dtype, cores, stack=stack)
    seconds = np.broadcast_to(split.total_s, b.shape)
    interval = np.broadcast_to(split.interval_s, b.shape)
    ok = np.broadcast_to(fits(spec, inst, dtype, cores, b, seq), b.shape)
    replicas = inst.cores // cores
    replica_tput = np.where(ok, b / interval, np.nan)  # a busy replica: batches queue behind
    instance_tput = replicas * replica_tput
    try:
        power = chip_power(inst.chip.name)
        basis = power.basis
        watts = np.nan if power.watts is None else inst.chips * power.watts
    except KeyError:
        watts, basis = np.nan, "unknown"
    return pd.DataFrame(
        {
            "instance": inst.name,
            "family": inst.family,
            "projected": inst.projected,
            "model": spec.name,
            "seq_len": seq,
            "dtype": dtype,
            "stack": resolve_stack(inst.chip, stack) or NEURON_STACK,
            "cores": cores,
            "replicas": replicas,
            "pipeline_depth": pipeline_depth(cores),
            "batch_size": b,
            "fits": ok,
            "service_time_s": seconds,
            "interval_s": interval,
            "max_wait_s": float(max_wait_s),
            "request_latency_s": max_wait_s + pipeline_depth(cores) * seconds,
            "replica_throughput_per_s": replica_tput,
            "instance_throughput_per_s": instance_tput,
            "usd_per_hour": inst.usd_per_hour,
            "usd_per_million": inst.usd_per_hour / (SECONDS_PER_HOUR * instance_tput) * 1e6,
            "instance_watts": watts,
            "power_basis": basis,
            "inferences_per_j": instance_tput / watts,
        }
    )


def compare(
    model: str | ModelSpec,
    seq_len: int | None = None,
    dtype: str = AUTO_DTYPE,
    max_batch: int = 32,
    latency_budget_s: float | None = None,
    instances: Sequence[str | InstanceType] | None = None,
    max_wait_s: float = 0.0,
    stack: str | None = None,
) -> Comparison:
    """Cheapest full-load configuration of ``model`` on every instance type.

    For each instance type every layout (cores per replica,
    :func:`~hardware.planning.capacity.replica_layouts`) and every batch size ``1..max_batch``
    is tried; the row with the lowest cost per million inferences whose ``request_latency_s``
    (``max_wait_s`` + pipeline depth x service time) is within ``latency_budget_s`` wins
    (ties: fewer cores, then the smaller batch).

    Args:
        model: Zoo name or spec.
        seq_len: Tokens per sequence (image side for CNNs); None = model default.
        dtype: Compiled dtype, or ``"auto"``: each instance's natural one
            (:func:`~hardware.planning.capacity.natural_dtype`: bf16 on NeuronCores, fp16 on
            GPUs). An explicit dtype skips the instance types that do not run it.
        max_batch: Largest batch size tried, >= 1.
        latency_budget_s: Longest acceptable ``request_latency_s``, seconds; None = any.
        instances: Instance types to compare; None = the whole catalog.
        max_wait_s: Longest a request waits for its batch to fill, seconds, >= 0.
        stack: Serving stack of the GPU instance types; None = each GPU's default (the best
            published: TensorRT). NeuronCore instance types run the Neuron compiler.

    Returns:
        The best row per instance type (sorted by ``usd_per_million``) and the skipped ones.

    Raises:
        KeyError: Unknown model or instance.
        ValueError: Unknown dtype, bad seq_len, max_batch, budget or max_wait.

    """
    import pandas as pd

    spec = model_spec(model)
    if dtype != AUTO_DTYPE:
        check_dtype(dtype)
    seq = spec.default_seq_len if seq_len is None else int(seq_len)
    spec.check_seq_len(seq)
    if isinstance(max_batch, bool) or not isinstance(max_batch, int | np.integer):
        raise ValueError(f"max_batch must be a whole number, got {max_batch!r}")
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    if latency_budget_s is not None and not latency_budget_s > 0:
        raise ValueError(f"latency budget must be > 0 s, got {latency_budget_s!r}")
    _check_max_wait(max_wait_s)
    if stack is not None:
        check_stack(stack)
    names = instance_type_names() if instances is None else instances
    batch = np.arange(1, max_batch + 1)
    best: list[pd.DataFrame] = []
    skipped: list[tuple[str, str]] = []
    for name in names:
        inst = instance_of(name)
        run_dtype = resolve_dtype(inst, dtype)
        if not inst.chip.supports(run_dtype):
            skipped.append((inst.name, f"{inst.chip.name} does not run {run_dtype}"))
            continue
        rows = pd.concat(
            [
                table(
                    spec,
                    inst,
                    seq,
                    run_dtype,
                    cores,
                    batch,
                    max_wait_s,
                    stack if inst.chip.is_gpu else None,
                )  # fmt: skip
                for cores in replica_layouts(inst)
            ],
            ignore_index=True,
        )
        if not rows.fits.any():
            skipped.append(
                (
                    inst.name,
                    f"{spec.name} in {run_dtype} does not fit the device memory of a replica "
                    f"on up to {inst.cores} core(s)",
                )
            )
            continue
        ok = rows[rows.fits]
        if latency_budget_s is not None:
            ok = ok[ok.request_latency_s <= latency_budget_s]
            if ok.empty:
                fastest = rows.loc[rows.request_latency_s[rows.fits].idxmin()]
                skipped.append(
                    (
                        inst.name,
                        f"no batch within the {1e3 * latency_budget_s:g} ms budget (fastest: "
                        f"batch {fastest.batch_size} on {fastest.cores} core(s), "
                        f"{1e3 * fastest.request_latency_s:.2f} ms a request)",
                    )
                )
                continue
        best.append(ok.loc[[ok.usd_per_million.idxmin()]])
    result = pd.concat(best, ignore_index=True) if best else pd.DataFrame(columns=list(COLUMNS))
    result = result.sort_values("usd_per_million", kind="stable").reset_index(drop=True)
    return Comparison(result, pd.DataFrame(skipped, columns=["instance", "reason"]))
