"""Fit the GPU roofline on the published g5 (A10G) rows: ``python -m hardware.calibration.gpu_fit``.

Data: ``data/gpu_calibration_g5.csv``, the 35 g5.2xlarge rows of the published calibration set
(Hugging Face batch-1 sequence sweep, 8-512 tokens, PyTorch eager fp32 on one A10G; the
latency column holds the mean of 100 runs). Rows whose model the zoo does not know are
skipped and listed.

Free parameters, shared by every GPU: ``compute_efficiency``, ``launch_s`` and ``overhead_s``.
Fixed assumptions: ``bandwidth_efficiency`` and ``kernels_per_step_*``. Method:
``scipy.optimize.least_squares`` on ``log(predicted / observed)`` latency, inside bounds, from a
small grid of starting points (the ``max`` of launch and device time makes the objective only
piecewise smooth); the lowest cost wins. ``--write`` rewrites ``data/gpu_parameters.csv``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from hardware.catalog import instance_type
from hardware.models import zoo
from hardware.timing.gpu import GpuParameters, components, gpu_parameters

FIT_INSTANCE = "g5.2xlarge"
"""The instance type of every calibration row."""

FIT_DTYPE = "fp32"
"""PyTorch eager default: fp32 GEMMs on CUDA cores (TF32 matmul is off by default)."""

_BOUNDS = ((0.01, 1e-7, 0.0), (1.0, 2e-4, 5e-3))  # compute_efficiency, launch_s, overhead_s


@dataclass(frozen=True, slots=True)
class FitResult:
    """Outcome of :func:`fit`.

    Attributes:
        params: Fitted parameters (fixed ones as in the data file).
        table: One row per used calibration row: ``model, seq_len, observed_ms,
            predicted_ms, error`` (relative, predicted / observed - 1).
        skipped_models: Calibration models the zoo does not know.

    """

    params: GpuParameters
    table: pd.DataFrame
    skipped_models: tuple[str, ...]


def calibration_rows() -> pd.DataFrame:
    """The copied g5 rows, in the published calibration file's columns.

    Returns:
        One row per published measurement.

    """
    path = resources.files("hardware").joinpath("data", "gpu_calibration_g5.csv")
    with resources.as_file(path) as p:
        return pd.read_csv(p, comment="#")


def _known(rows: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    names: list[str | None] = []
    for name in rows.model:
        try:
            names.append(zoo.model(str(name)).name)
        except KeyError:
            names.append(None)
    known = rows.assign(zoo_model=names)
    skipped = tuple(sorted(set(known.model[known.zoo_model.isna()])))
    return known[known.zoo_model.notna()].reset_index(drop=True), skipped


def predict_latency_s(rows: pd.DataFrame, params: GpuParameters) -> np.ndarray:
    """Predicted batch latency of each row on one A10G with ``params``.

    Args:
        rows: Calibration rows whose ``model`` the zoo resolves (``zoo_model`` column).
        params: GPU parameters to evaluate.

    Returns:
        Seconds, one per row.

    """
    chip = instance_type(FIT_INSTANCE).chip
    out = np.empty(len(rows))
    for name, group in rows.groupby("zoo_model"):
        spec = zoo.model(str(name))
        batch = group.batch_size.to_numpy().astype(np.int64)
        seq = group.seq_len_or_image_size.to_numpy().astype(np.int64)
        parts = components(spec, chip, params, FIT_DTYPE, batch, seq)
        engines = np.maximum(parts["compute_s"] + parts["vector_s"], parts["memory_s"])
        out[group.index.to_numpy()] = parts["overhead_s"] + engines
    return out


def fit(rows: pd.DataFrame | None = None) -> FitResult:
    """Fit ``compute_efficiency``, ``launch_s`` and ``overhead_s`` on the g5 rows.

    Args:
        rows: Calibration rows (default: :func:`calibration_rows`).

    Returns:
        The fit and its per-row errors.

    """
    used, skipped = _known(calibration_rows() if rows is None else rows)
    observed_s = used.latency_p50_ms.to_numpy() / 1e3
    base = gpu_parameters(instance_type(FIT_INSTANCE).chip.name)

    def params_of(x: np.ndarray) -> GpuParameters:
        eff, launch_s, overhead_s = (float(v) for v in x)
        return replace(base, compute_efficiency=eff, launch_s=launch_s, overhead_s=overhead_s)

    def residuals(x: np.ndarray) -> np.ndarray:
        return np.log(predict_latency_s(used, params_of(x)) / observed_s)

    best = None
    for eff in (0.2, 0.5, 0.8):
        for launch_s in (1e-5, 4e-5):
            start = np.array([eff, launch_s, 5e-4])
            result = least_squares(residuals, start, bounds=_BOUNDS, x_scale=[0.1, 1e-5, 1e-4])
            if best is None or result.cost < best.cost:
                best = result
    assert best is not None
    params = params_of(best.x)
    predicted_s = predict_latency_s(used, params)
    table = pd.DataFrame(
        {
            "model": used.model,
            "seq_len": used.seq_len_or_image_size.astype(int),
            "observed_ms": observed_s * 1e3,
            "predicted_ms": predicted_s * 1e3,
            "error": predicted_s / observed_s - 1.0,
        }
    )
    return FitResult(params, table, skipped)


def error_summary(table: pd.DataFrame) -> dict[str, float]:
    """Absolute relative latency errors of a fit table.

    Args:
        table: :attr:`FitResult.table`.

    Returns:
        ``rows``, ``median_abs_error``, ``p90_abs_error``, ``max_abs_error`` (fractions).

    """
    err = table.error.abs()
    return {
        "rows": float(len(table)),
        "median_abs_error": float(err.median()),
        "p90_abs_error": float(err.quantile(0.9)),
        "max_abs_error": float(err.max()),
    }


def parameter_rows(result: FitResult) -> list[dict[str, str]]:
    """Rows of ``data/gpu_parameters.csv`` for a fit, each with its source.

    Args:
        result: A :func:`fit` result.

    Returns:
        Dicts with keys ``chip, parameter, value, unit, source``.

    """
    s = error_summary(result.table)
    how = (
        f"FITTED by python -m hardware.calibration.gpu_fit: scipy least_squares on log latency of "
        f"{int(s['rows'])} g5.2xlarge rows (data/gpu_calibration_g5.csv; PyTorch eager fp32, "
        f"batch 1); median |error| {s['median_abs_error']:.1%}, max {s['max_abs_error']:.1%}. "
        "Used unchanged for every GPU (only A10G data exist)"
    )
    p = result.params
    assumed_bw = (
        "ASSUMED: typical achieved fraction of GDDR6/HBM2 peak for streaming kernels; not "
        "identifiable from the g5 rows (batch-1 weight traffic is below the launch floor)"
    )
    assumed_encoder = (
        "ASSUMED: a Hugging Face BertLayer in PyTorch eager launches ~19 kernels (q/k/v/out/ffn "
        "addmm x6, 2 bmm, 2-3 copies, div, mask add, softmax, gelu, 2 residual adds, "
        "2 layernorms) = 9.5 per step (2 steps per layer)"
    )
    assumed_cnn = (
        "ASSUMED: torchvision eager convolution step = conv + batch-norm + ReLU (3) plus the "
        "residual add and ReLU shared by a block's convolutions (~0.5); only the ratio to the "
        "encoder count matters"
    )
    assumed_other = "ASSUMED: other kinds (ViT, decoders) are transformer layers: encoder count"
    tensor = "; for fp16/bf16/int8/fp8 it is applied to the tensor-core peak, untested"
    table = (
        ("compute_efficiency", p.compute_efficiency, "fraction", how + tensor),
        ("launch_s", p.launch_s, "s", how),
        ("overhead_s", p.overhead_s, "s", how),
        ("bandwidth_efficiency", p.bandwidth_efficiency, "fraction", assumed_bw),
        ("kernels_per_step_encoder", p.kernels_per_step_encoder, "kernels/step", assumed_encoder),
        ("kernels_per_step_cnn", p.kernels_per_step_cnn, "kernels/step", assumed_cnn),
        ("kernels_per_step_other", p.kernels_per_step_other, "kernels/step", assumed_other),
    )
    return [
        {"parameter": name, "value": f"{value:.4g}", "unit": unit, "source": source}
        for name, value, unit, source in table
    ]


def write_parameters(result: FitResult, path: Path) -> None:
    """Write ``gpu_parameters.csv`` (all rows at chip ``*``) for a fit.

    Args:
        result: A :func:`fit` result.
        path: Target CSV path.

    """
    rows = pd.DataFrame(parameter_rows(result))
    rows.insert(0, "chip", "*")
    rows.to_csv(path, index=False)


def main(argv: list[str] | None = None) -> None:
    """Fit, print the per-row table and error summary, optionally write the parameters."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite data/gpu_parameters.csv")
    args = parser.parse_args(argv)
    result = fit()
    with pd.option_context("display.width", 120, "display.max_rows", 100):
        print(result.table.round(3).to_string(index=False))
    p = result.params
    print(
        f"\ncompute_efficiency={p.compute_efficiency:.4g} launch_s={p.launch_s:.4g} "
        f"overhead_s={p.overhead_s:.4g}"
    )
    print({k: round(v, 4) for k, v in error_summary(result.table).items()})
    if result.skipped_models:
        print(f"skipped (not in the zoo): {', '.join(result.skipped_models)}")
    if args.write:
        target = Path(str(resources.files("hardware").joinpath("data", "gpu_parameters.csv")))
        write_parameters(result, target)
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
