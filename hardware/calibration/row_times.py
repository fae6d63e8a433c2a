"""Predictions for many published benchmark rows at once, grouped and vectorised.

Rows are grouped by (model, instance, dtype, replica cores); each group is one
:func:`hardware.timing.neuroncore.service_work` call over its (batch, size) arrays, and the
works of one NeuronCore generation are concatenated so that a parameter set is applied to all of
them in one vectorised :meth:`~hardware.timing.neuroncore.ServiceWork.breakdown` (this is what
makes the fit fast). GPU rows go through :func:`hardware.service_time`. :func:`predict` turns
the service times into each row's instance throughput and p50 latency; it also takes rows in
the published GPU file's layout (:func:`predict_gpu_published`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from hardware import catalog
from hardware.calibration.benchmarks import interpret, throughput_and_latency
from hardware.calibration.gpu_benchmarks import interpret as interpret_gpu
from hardware.models import zoo
from hardware.timing.breakdown import hidden_host_s
from hardware.timing.neuroncore import ServiceWork, service_work
from hardware.timing.neuroncore_parameters import ServiceParameters, service_parameters
from hardware.timing.predictor import predictor_for
from hardware.timing.service_times import service_time


def _groups(info: pd.DataFrame, instances: pd.Series) -> dict[tuple, np.ndarray]:
    """Row positions per (model, instance, dtype, input dtype, replica cores), predictable rows."""
    b, size = info.batch.astype(float), info.seq_len.astype(float)
    limits = {m: zoo.model(m) for m in info.zoo_model.dropna().unique()}
    low = info.zoo_model.map(lambda m: limits[m].min_seq_len if m in limits else np.nan)
    high = info.zoo_model.map(lambda m: limits[m].max_seq_len if m in limits else np.nan)
    ok = info.generation.notna() & info.hw_dtype.notna() & (b >= 1) & (b % 1 == 0)
    ok &= (size >= low.astype(float)) & (size <= high.astype(float)) & (size % 1 == 0)
    keys = pd.DataFrame(
        {
            "model": info.zoo_model,
            "instance": instances,
            "dtype": info.hw_dtype,
            "input_dtype": info.input_dtype.fillna(info.hw_dtype),
            "cores": info.replica_cores,
        }
    )
    rows_ok = np.flatnonzero(ok.to_numpy())
    groups = keys.iloc[rows_ok].groupby(list(keys.columns), sort=False).indices
    return {key: rows_ok[np.asarray(idx)] for key, idx in groups.items()}


def _neuron_work(
    info: pd.DataFrame, instances: pd.Series, positions: np.ndarray, key: tuple
) -> ServiceWork | None:
    """Work of the rows at ``positions`` (one group), or None if the chip cannot run them."""
    model, instance, dtype, input_dtype, cores = key
    spec, inst = zoo.model(model), catalog.instance_type(instance)
    b = info.batch.to_numpy()[positions]
    s = info.seq_len.to_numpy()[positions]
    if not inst.chip.supports(dtype) or not 1 <= cores <= inst.cores:
        return None
    if np.any((b < 1) | (s < spec.min_seq_len) | (s > spec.max_seq_len)):
        return None
    if np.any(b % 1) or np.any(s % 1):
        return None
    params = service_parameters(inst.chip.name)
    b, s = b.astype(np.int64), s.astype(np.int64)
    return service_work(spec, inst.chip, params, dtype, b, s, int(cores), input_dtype)


def work_table(rows: pd.DataFrame, info: pd.DataFrame) -> dict[str, tuple[ServiceWork, np.ndarray]]:
    """Per NeuronCore generation: the concatenated work of its predictable rows.

    Args:
        rows: Rows in the calibration file's format.
        info: :func:`hardware.calibration.benchmarks.interpret` of ``rows``.

    Returns:
        ``{generation: (work, row positions)}``; GPU rows are not included.

    """
    parts: dict[str, tuple[list[ServiceWork], list[np.ndarray]]] = {}
    for key, positions in _groups(info, rows.instance).items():
        generation = info.generation.iloc[positions[0]]
        if generation == "gpu":
            continue
        work = _neuron_work(info, rows.instance, positions, key)
        if work is not None:
            works, where = parts.setdefault(generation, ([], []))
            works.append(work)
            where.append(positions)
    return {
        g: (ServiceWork.concatenate(works), np.concatenate(where))
        for g, (works, where) in parts.items()
    }


NEURON_FILE_GPU_STACK = "eager"
"""Stack of the GPU rows of the Neuron calibration file (the Hugging Face g5 sweep: eager)."""


def _gpu_service(rows: pd.DataFrame, info: pd.DataFrame, out: np.ndarray) -> list[str]:
    """Fill GPU rows' service times through :func:`hardware.service_time`; return failures."""
    failed = []
    for key, positions in _groups(info, rows.instance).items():
        if info.generation.iloc[positions[0]] != "gpu":
            continue
        model, instance, dtype, _, _ = key
        try:
            out[positions] = service_time(
                model,
                instance,
                info.batch.to_numpy()[positions].astype(np.int64),
                info.seq_len.to_numpy()[positions].astype(np.int64),
                dtype,
                stack=NEURON_FILE_GPU_STACK,
            )
        except Exception as error:  # the GPU model is another module's: never let it raise
            failed.append(f"{model} on {instance}: {error}")
    return failed


class RowTimes(NamedTuple):
    """Predicted times per benchmark row (NaN where unknown), aligned with the rows.

    Attributes:
        service_s: Service time of one batch on one replica, seconds.
        hidden_s: Seconds of it a second queued batch overlaps (its input transfer; 0 on GPUs),
            see :func:`hardware.calibration.benchmarks.throughput_and_latency`.

    """

    service_s: np.ndarray
    hidden_s: np.ndarray


def predict_row_times(
    rows: pd.DataFrame,
    info: pd.DataFrame,
    params: Mapping[str, ServiceParameters] | None = None,
) -> RowTimes:
    """Service and overlappable time per row, optionally under other parameters.

    Args:
        rows: Rows in the calibration file's format.
        info: Their interpretation.
        params: Parameters per NeuronCore generation; default: the shipped ones per chip.

    Returns:
        The times, aligned with ``rows``.

    """
    out = np.full(len(rows), np.nan)
    hidden = np.zeros(len(rows))
    for generation, (work, where) in work_table(rows, info).items():
        if params is not None and generation in params:
            split = work.breakdown(params[generation])
            out[where] = split.total_s
            overlap = params[generation].input_overlap
            hidden[where] = overlap * hidden_host_s(split.total_s, split.host_s)
        else:
            chips = {catalog.instance_type(i).chip.name for i in rows.instance.iloc[where]}
            for chip_name in chips:
                mine = rows.instance.iloc[where].map(
                    lambda i, c=chip_name: catalog.instance_type(i).chip.name == c
                )
                sub = np.flatnonzero(mine.to_numpy())
                chip_params = service_parameters(chip_name)
                split = work.breakdown(chip_params)
                out[where[sub]] = split.total_s[sub]
                overlap = chip_params.input_overlap * hidden_host_s(split.total_s, split.host_s)
                hidden[where[sub]] = overlap[sub]
    failed = _gpu_service(rows, info, out)
    if failed:
        warnings.warn("GPU rows not predicted: " + "; ".join(failed), stacklevel=3)
    return RowTimes(out, hidden)


def predict_service_s(
    rows: pd.DataFrame,
    info: pd.DataFrame,
    params: Mapping[str, ServiceParameters] | None = None,
) -> np.ndarray:
    """Service time per row (NaN where unknown): :func:`predict_row_times` without the overlap.

    Args:
        rows: Rows in the calibration file's format.
        info: Their interpretation.
        params: Parameters per NeuronCore generation; default: the shipped ones per chip.

    Returns:
        Seconds per batch on one replica, aligned with ``rows``.

    """
    return predict_row_times(rows, info, params).service_s


def predict_gpu_published(rows: pd.DataFrame) -> pd.DataFrame:
    """Predicted throughput and latency for rows in gpu_published.csv's layout.

    Each row is read by :func:`hardware.calibration.gpu_benchmarks.interpret` (stack, catalog
    GPU, zoo model, dtype, size, batch) and timed with one batch in flight under the shipped
    parameters of its stack: latency = service time, throughput = batch / service time. Rows
    that cannot be read get NaN and one :func:`warnings.warn` per call; nothing raises.

    Args:
        rows: Rows with ``gpu, software_stack, model, seq_len_or_image_size, batch_size,
            precision``.

    Returns:
        A copy of ``rows`` with ``pred_throughput_per_s`` and ``pred_latency_ms`` added.

    """
    rows = rows.copy()
    info = interpret_gpu(rows)
    service = np.full(len(rows), np.nan)
    ok = (info.reason == "").to_numpy()
    keys = ["gpu_stack", "chip", "zoo_model", "dtype"]
    for (stack, chip, model, dtype), group in info[ok].groupby(keys):
        spec = zoo.model(model)
        seq = group.seq_len.to_numpy()
        batch = group.batch.to_numpy()
        fine = (seq >= spec.min_seq_len) & (seq <= spec.max_seq_len) & (batch % 1 == 0)
        fine &= seq % 1 == 0
        where = info.index.get_indexer(group.index[fine])
        parts = predictor_for(catalog.chip(chip)).breakdown(
            spec,
            catalog.chip(chip),
            dtype,
            batch[fine].astype(np.int64),
            seq[fine].astype(np.int64),
            1,
            None,
            stack,
        )
        service[where] = parts.total_s
    rows["pred_throughput_per_s"] = info.batch.to_numpy() / service
    rows["pred_latency_ms"] = service * 1e3
    _warn_missing(service, info, "size outside the model's range", "GPU rows", stacklevel=4)
    return rows


def predict(rows: pd.DataFrame) -> pd.DataFrame:
    """Predicted instance throughput and p50 latency for published benchmark rows.

    Rows in gpu_published.csv's layout (a ``gpu`` and a ``software_stack`` column, no
    ``instance``) go to :func:`predict_gpu_published`, which adds ``pred_throughput_per_s`` and
    ``pred_latency_ms``. Rows in the Neuron calibration file's layout are read as below.

    Each row's model, dtype, size, replicas and batches in flight are read as described in
    :mod:`hardware.calibration.benchmarks`; the service time of one batch comes from the shipped
    (calibrated) model. Rows whose model, instance, batch size or size the model does not know
    get NaN and one :func:`warnings.warn` per call; nothing raises.

    Args:
        rows: Rows with the calibration file's columns (at least ``instance, model,
            neuron_cores_used, seq_len_or_image_size, batch_size, dtype, notes``).

    Returns:
        A copy of ``rows`` with ``pred_throughput_per_s`` (inferences per second of the
        instance) and ``pred_latency_p50_ms`` added.

    """
    if {"gpu", "software_stack"} <= set(rows.columns) and "instance" not in rows.columns:
        return predict_gpu_published(rows)
    rows = rows.copy()
    for column in ("notes", "model", "instance", "dtype", "seq_len_or_image_size"):
        if column not in rows:
            rows[column] = np.nan
    for column in ("neuron_cores_used", "batch_size"):
        if column not in rows:
            rows[column] = np.nan
    info = interpret(rows)
    service, hidden = predict_row_times(rows, info)
    thr, p50 = throughput_and_latency(
        service,
        info.batch.to_numpy(),
        info.replicas.to_numpy(),
        info.in_flight.to_numpy(),
        hidden,
    )
    rows["pred_throughput_per_s"] = thr
    rows["pred_latency_p50_ms"] = p50 * 1e3
    _warn_missing(service, info, "model, instance, size or dtype unknown", "rows", stacklevel=3)
    return rows


def _warn_missing(
    service: np.ndarray, info: pd.DataFrame, default: str, what: str, stacklevel: int
) -> None:
    """One warning counting the rows without a prediction, by reason (``default`` if none)."""
    missing = np.isnan(service)
    if missing.any():
        reasons = info.reason.where(info.reason != "", default)
        counts = reasons[missing].value_counts()
        detail = "; ".join(f"{n} x {reason}" for reason, n in counts.items())
        warnings.warn(
            f"{missing.sum()} {what} not predicted (NaN): {detail}", stacklevel=stacklevel
        )
