"""Fit the NeuronCore timing model on published Neuron benchmarks.

``python -m hardware.calibration`` fits, per NeuronCore generation, six physical parameters of
:class:`~hardware.timing.neuroncore_parameters.ServiceParameters` (TensorE and VectorE achieved
fractions of peak, achieved memory bandwidth per core, fixed per-batch and per-layer-step
overheads, host-to-device time per input byte) to the published rows in
``hardware/data/neuron_published_calibration.csv`` and writes them to
``hardware/data/calibrated_parameters.csv``. No parameter is per model.

The fit minimises robust (soft-L1, 10% scale) log errors of predicted instance throughput and
p50 latency, with weak log-normal priors at the physically expected values (``PRIORS``) so that
parameters the rows barely constrain stay physical. :mod:`hardware.calibration.benchmarks`
explains how a service time becomes a row's throughput and latency;
:func:`hardware.calibration.row_times.predict` predicts rows with the shipped parameters.
"""

from __future__ import annotations

import csv
import dataclasses
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from hardware import catalog
from hardware.calibration.benchmarks import throughput_and_latency
from hardware.calibration.row_times import RowTimes, predict_row_times, work_table
from hardware.timing.breakdown import hidden_host_s
from hardware.timing.neuroncore import ServiceWork
from hardware.timing.neuroncore_parameters import ServiceParameters, service_parameters

FITTED = (
    "tensor_efficiency",
    "vector_efficiency",
    "core_bandwidth_share",
    "overhead_s",
    "step_overhead_s",
    "host_transfer_s_per_byte",
)
"""Parameters fitted per NeuronCore generation (``input_overlap`` is assumed: see
``model_parameters.csv`` and docs/hardware.md, "CNNs on inf1")."""

BOUNDS = {
    "tensor_efficiency": (0.05, 1.0),
    "vector_efficiency": (0.02, 1.0),
    "core_bandwidth_share": (0.02, 1.0),
    "overhead_s": (1e-6, 5e-3),
    "step_overhead_s": (1e-8, 1e-4),
    "host_transfer_s_per_byte": (1e-12, 1e-8),
}
"""Physical bounds of the fitted parameters."""

PRIORS = {
    "NeuronCore-v1": {
        "tensor_efficiency": 0.75,
        "vector_efficiency": 0.5,
        "core_bandwidth_share": 0.45,  # HF inf1 sweep: ~24 GB/s per core of 50 GiB/s
        "overhead_s": 3e-4,
        "step_overhead_s": 8e-6,
        "host_transfer_s_per_byte": 1e-10,  # ~10 GB/s host link
    },
    "NeuronCore-v2": {
        "tensor_efficiency": 0.85,
        "vector_efficiency": 0.7,
        "core_bandwidth_share": 0.3089,  # NKI DMA guide: 16 engines x 17 B/ns = 272 GB/s
        "overhead_s": 1.4e-4,
        "step_overhead_s": 8e-6,
        "host_transfer_s_per_byte": 5e-11,  # ~20 GB/s PCIe Gen4 x16
    },
}
"""Prior centres (log-normal, sigma :data:`PRIOR_SIGMA`) per NeuronCore generation."""


PRIOR_SIGMA = float(np.log(4.0))
"""Log-space width of every prior: a factor of 4 is one standard deviation."""

LOSS_SCALE = 0.1
"""Soft-L1 scale of the log errors: residuals beyond ~10% count linearly, not quadratically."""

DMA_BYTES_PER_S_PER_CORE = {"NeuronCore-v2": 272e9, "NeuronCore-v4 (projected)": 528e9}
"""Theoretical DMA bandwidth per core (NKI DMA guides: 16 engines x 17 resp. 33 B/ns)."""

PARAMETER_FILE = "calibrated_parameters.csv"
"""Output file in hardware/data."""


def _residuals(
    theta: np.ndarray,
    work: ServiceWork,
    base: ServiceParameters,
    data: dict[str, np.ndarray],
    prior: np.ndarray,
) -> np.ndarray:
    """Log errors of throughput and p50 (where published), then the prior residuals."""
    params = dataclasses.replace(base, **dict(zip(FITTED, np.exp(theta), strict=True)))
    split = work.breakdown(params)
    service = split.total_s
    hidden = params.input_overlap * hidden_host_s(service, split.host_s)
    thr, p50 = throughput_and_latency(
        service, data["batch"], data["replicas"], data["in_flight"], hidden
    )
    res_thr = np.log(thr[data["has_thr"]] / data["thr"][data["has_thr"]])
    res_p50 = np.log(p50[data["has_p50"]] / data["p50"][data["has_p50"]])
    return np.concatenate([res_thr, res_p50, (theta - prior) / PRIOR_SIGMA * LOSS_SCALE])


def fit_generation(
    rows: pd.DataFrame, info: pd.DataFrame, generation: str, mask: np.ndarray | None = None
) -> tuple[ServiceParameters, int]:
    """Fit the :data:`FITTED` parameters of one generation on its ``status == "fit"`` rows.

    Args:
        rows: Rows in the calibration file's format.
        info: Their interpretation.
        generation: ``"NeuronCore-v1"`` or ``"NeuronCore-v2"``.
        mask: Optional boolean mask over ``rows`` restricting the fitted rows (hold-out).

    Returns:
        The fitted parameter set (fixed constants from the shipped files) and the number of
        rows it was fitted on.

    """
    use = ((info.status == "fit") & (info.generation == generation)).to_numpy().copy()
    if mask is not None:
        use &= np.asarray(mask, dtype=bool)
    sub_rows, sub_info = rows[use], info[use]
    work, where = work_table(sub_rows, sub_info)[generation]
    thr = sub_rows.throughput_per_s.to_numpy(dtype=float)[where]
    p50 = sub_rows.latency_p50_ms.to_numpy(dtype=float)[where] * 1e-3
    data = {
        "batch": sub_info.batch.to_numpy()[where],
        "replicas": sub_info.replicas.to_numpy()[where],
        "in_flight": sub_info.in_flight.to_numpy()[where],
        "thr": thr,
        "p50": p50,
        "has_thr": np.isfinite(thr) & (thr > 0),
        "has_p50": np.isfinite(p50) & (p50 > 0),
    }
    chip_name = next(c for c in catalog.chip_names() if catalog.chip(c).core_name == generation)
    base = service_parameters(chip_name)
    prior = np.log([PRIORS[generation][p] for p in FITTED])
    lower = np.log([BOUNDS[p][0] for p in FITTED])
    upper = np.log([BOUNDS[p][1] for p in FITTED])
    result = least_squares(
        _residuals,
        np.clip(prior, lower + 1e-9, upper - 1e-9),
        bounds=(lower, upper),
        loss="soft_l1",
        f_scale=LOSS_SCALE,
        args=(work, base, data, prior),
        xtol=1e-12,
        ftol=1e-12,
    )
    fitted = dataclasses.replace(base, **dict(zip(FITTED, np.exp(result.x), strict=True)))
    return fitted, len(where)


def fit(rows: pd.DataFrame, info: pd.DataFrame) -> dict[str, tuple[ServiceParameters, int]]:
    """Fit every NeuronCore generation that has ``fit`` rows.

    Args:
        rows: Rows in the calibration file's format.
        info: Their interpretation.

    Returns:
        ``{generation: (parameters, rows fitted)}``.

    """
    return {g: fit_generation(rows, info, g) for g in PRIORS}


def holdout_row_times(rows: pd.DataFrame, info: pd.DataFrame, groups: pd.Series) -> RowTimes:
    """Leave-one-group-out predictions: each fit row predicted by a fit without its group.

    A generation whose fit rows all share one group is left NaN (nothing to fit on).

    Args:
        rows: Rows in the calibration file's format.
        info: Their interpretation.
        groups: Group label per row, e.g. model family (``"bert"``) or instance family.

    Returns:
        Service and overlappable seconds per row (NaN for rows that are not ``fit`` rows).

    """
    out = np.full(len(rows), np.nan)
    hidden = np.zeros(len(rows))
    labels = groups.to_numpy()
    for generation in PRIORS:
        mine = ((info.status == "fit") & (info.generation == generation)).to_numpy()
        names = sorted(set(labels[mine]))
        if len(names) < 2:
            continue
        for name in names:
            held = mine & (labels == name)
            params, _ = fit_generation(rows, info, generation, mask=~held)
            times = predict_row_times(rows[held], info[held], {generation: params})
            out[held], hidden[held] = times
    return RowTimes(out, hidden)


def projected_inf3(nc_v2: ServiceParameters) -> dict[str, tuple[float, str]]:
    """Inferentia3 parameters projected from the NeuronCore-v2 fit, with their reasoning.

    Args:
        nc_v2: Fitted NeuronCore-v2 parameters.

    Returns:
        ``{parameter: (value, source)}`` for the Inferentia3 chip.

    """
    same = "PROJECTED: same compiler and runtime as NeuronCore-v2; copied from its fit"
    out = {p: (getattr(nc_v2, p), same) for p in FITTED if p != "core_bandwidth_share"}
    v2, v4 = catalog.chip("inferentia2"), catalog.chip("inferentia3")
    achieved = nc_v2.core_bandwidth_share * v2.mem_bw_bytes_per_s_per_chip
    fraction = achieved / DMA_BYTES_PER_S_PER_CORE[v2.core_name]
    share = fraction * DMA_BYTES_PER_S_PER_CORE[v4.core_name] / v4.mem_bw_bytes_per_s_per_chip
    out["core_bandwidth_share"] = (
        share,
        f"PROJECTED: NeuronCore-v2 achieves {fraction:.0%} of its 272 GB/s DMA peak (fit); "
        "the same fraction of NeuronCore-v4's 528 GB/s (NKI Trainium3 guide) over the "
        "projected 2282 GiB/s chip bandwidth",
    )
    return out


_UNITS = {
    "tensor_efficiency": "fraction",
    "vector_efficiency": "fraction",
    "core_bandwidth_share": "fraction",
    "overhead_s": "s",
    "step_overhead_s": "s",
    "host_transfer_s_per_byte": "s/byte",
}


def write_parameters(
    fitted: dict[str, tuple[ServiceParameters, int]], path: Path | None = None
) -> Path:
    """Write the fitted generations and the projected Inferentia3 rows as the parameter file.

    Args:
        fitted: Output of :func:`fit`.
        path: Target file; default ``hardware/data/calibrated_parameters.csv``.

    Returns:
        The path written.

    """
    target = path or Path(str(resources.files("hardware").joinpath("data", PARAMETER_FILE)))
    lines = []
    for generation, (params, n) in fitted.items():
        source = (
            f"FITTED by python -m hardware.calibration: soft-L1 least squares on log throughput "
            f"and p50 of {n} published {generation} rows (neuron_published_calibration.csv)"
        )
        lines += [(generation, p, getattr(params, p), source) for p in FITTED]
    if "NeuronCore-v2" in fitted:
        for p, (value, source) in projected_inf3(fitted["NeuronCore-v2"][0]).items():
            lines.append(("inferentia3", p, value, source))
    with target.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["scope", "parameter", "value", "unit", "source"])
        for scope, name, value, source in lines:
            out.writerow([scope, name, f"{value:.6g}", _UNITS[name], source])
    return target
