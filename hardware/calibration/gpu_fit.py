"""Fit each GPU serving stack on published rows: ``python -m hardware.calibration.gpu_fit``.

Data: ``data/gpu_published_calibration.csv``, read by :mod:`hardware.calibration.gpu_benchmarks`
(one batch in flight in every row, so the published latency is the service time). For each
stack of :data:`hardware.timing.gpu_stacks.STACKS` the parameters named in
:data:`hardware.calibration.gpu_fit_choices.FREE` are fitted on that stack's rows, shared by
every GPU; the rest keep their ``ASSUMED`` values (same module).
Each GPU with at least :data:`MIN_CHIP_ROWS` TensorRT rows gets its own
``chip_efficiency_scale`` (the shared values fixed), applied under every stack: a 70 W T4
sustains a lower share of its peak than an A100 whatever runs on it. GPUs without such rows
(L4, A10G) keep scale 1.

Method: ``scipy.optimize.least_squares`` on ``log(predicted / observed)`` latency inside bounds,
from a few starting points (the roofline's ``max`` makes the objective piecewise smooth).
:func:`leave_one_model_out` refits without each model's rows and predicts them. ``--write``
rewrites ``data/gpu_parameters.csv``.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from hardware import catalog
from hardware.calibration.gpu_benchmarks import interpret, load_gpu_published, observed
from hardware.calibration.gpu_errors import errors, markdown, report_table
from hardware.calibration.gpu_fit_choices import ASSUMED, BOUNDS, FREE, UNITS
from hardware.models import zoo
from hardware.timing.gpu import GpuParameters, components
from hardware.timing.gpu_parameters import gpu_parameters
from hardware.timing.gpu_stacks import STACKS

MIN_CHIP_ROWS = 40
"""TensorRT rows a GPU needs to get its own ``chip_efficiency_scale``."""


@dataclass(frozen=True, slots=True)
class StackFit:
    """Outcome of :func:`fit_stack`.

    Attributes:
        stack: The stack.
        shared: Parameters of every GPU without its own values.
        per_chip: ``{chip: {"chip_efficiency_scale": value}}`` for the GPUs with
            :data:`MIN_CHIP_ROWS` TensorRT rows, applied under every stack.
        table: The fitted rows with ``observed_ms``, ``predicted_ms`` and ``error``.

    """

    stack: str
    shared: GpuParameters
    per_chip: dict[str, dict[str, float]]
    table: pd.DataFrame

    def params(self, chip: str) -> GpuParameters:
        """Parameters of one GPU under this fit."""
        return replace(self.shared, **self.per_chip.get(chip, {}))


def fit_rows(stack: str) -> pd.DataFrame:
    """The shipped rows of one stack that the model can predict, with their reading.

    Args:
        stack: A stack name.

    Returns:
        Interpretation columns plus ``observed_ms`` and ``observed_per_s``.

    """
    rows = load_gpu_published()
    info = interpret(rows)
    latency_ms, thr = observed(rows)
    out = pd.concat([rows[["source", "gpu", "model"]], info], axis=1)
    out = out.assign(observed_ms=latency_ms, observed_per_s=thr)
    keep = (out.gpu_stack == stack) & (out.reason == "") & out.observed_ms.notna()
    return out[keep].reset_index(drop=True)


def predict_ms(rows: pd.DataFrame, params_of) -> np.ndarray:
    """Predicted latency of interpreted rows, one batch in flight.

    Args:
        rows: Rows with ``chip, zoo_model, dtype, batch, seq_len``.
        params_of: ``chip name -> GpuParameters``.

    Returns:
        Milliseconds per row.

    """
    out = np.empty(len(rows))
    for (chip, model, dtype), group in rows.groupby(["chip", "zoo_model", "dtype"]):
        c = components(
            zoo.model(model),
            catalog.chip(chip),
            params_of(chip),
            dtype,
            group.batch.to_numpy().astype(np.int64),
            group.seq_len.to_numpy().astype(np.int64),
        )
        total = c["overhead_s"] + np.maximum(c["compute_s"] + c["vector_s"], c["memory_s"])
        out[rows.index.get_indexer(group.index)] = total * 1e3
    return out


def _assumed_params(stack: str) -> GpuParameters:
    start = {"compute_efficiency": 0.5, "launch_s": 1e-5, "overhead_s": 1e-4}
    start |= {"bandwidth_efficiency": 0.8, "int8_efficiency": 1.0, "half_rate_rows": 0.0}
    start |= {"unfused_elementwise": 1.0, "chip_efficiency_scale": 1.0}
    start |= {name: value for name, (value, _) in ASSUMED[stack].items()}
    return GpuParameters(**{f.name: float(start[f.name]) for f in fields(GpuParameters)})


def _least_squares(residuals, starts, names):
    low = [BOUNDS[n][0] for n in names]
    high = [BOUNDS[n][1] for n in names]
    scale = [BOUNDS[n][2] for n in names]
    best = None
    for start in starts:
        x0 = np.clip(start, low, high)
        result = least_squares(residuals, x0, bounds=(low, high), x_scale=scale)
        if best is None or result.cost < best.cost:
            best = result
    assert best is not None
    return best.x


def _fit_shared(stack: str, rows: pd.DataFrame, per_chip: dict) -> GpuParameters:
    """The stack's free parameters on ``rows``, the per-GPU values fixed."""
    names = FREE[stack]
    base = _assumed_params(stack)
    observed_ms = rows.observed_ms.to_numpy()

    def shared_of(x: np.ndarray) -> GpuParameters:
        return replace(base, **{n: float(v) for n, v in zip(names, x, strict=True)})

    def residuals(x: np.ndarray) -> np.ndarray:
        params = shared_of(x)
        return np.log(
            predict_ms(rows, lambda c: replace(params, **per_chip.get(c, {}))) / observed_ms
        )

    guesses = {"compute_efficiency": (0.3, 0.7), "launch_s": (3e-6, 3e-5)}
    defaults = {"bandwidth_efficiency": 0.8, "overhead_s": 1e-4, "int8_efficiency": 0.6}
    defaults |= {"half_rate_rows": 64.0, "unfused_elementwise": 0.3}
    grid = [guesses[n] if n in guesses else (defaults[n],) for n in names]
    starts = [np.array(combo) for combo in itertools.product(*grid)]
    return shared_of(_least_squares(residuals, starts, names))


def _fit_chips(rows: pd.DataFrame, shared: GpuParameters) -> dict[str, dict[str, float]]:
    """Per GPU with enough TensorRT rows: its efficiency scale (the shared values fixed)."""
    out: dict[str, dict[str, float]] = {}
    for chip, group in rows.groupby("chip"):
        if len(group) < MIN_CHIP_ROWS:
            continue
        sub = group.reset_index(drop=True)
        names = ("chip_efficiency_scale",)

        def chip_residuals(x: np.ndarray, sub=sub, names=names) -> np.ndarray:
            params = replace(shared, **{n: float(v) for n, v in zip(names, x, strict=True)})
            return np.log(predict_ms(sub, lambda _c: params) / sub.observed_ms.to_numpy())

        start = np.array([1.0])
        x = _least_squares(chip_residuals, [start], names)
        out[str(chip)] = {n: float(v) for n, v in zip(names, x, strict=True)}
    return out


def chip_scales(per_chip: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The stack-independent part of a TensorRT fit's per-GPU values (efficiency scales)."""
    return {c: {"chip_efficiency_scale": v["chip_efficiency_scale"]} for c, v in per_chip.items()}


def shipped_chip_scales() -> dict[str, dict[str, float]]:
    """The shipped ``chip_efficiency_scale`` of every GPU that has its own."""
    out = {}
    for name in catalog.chip_names():
        chip = catalog.chip(name)
        if chip.is_gpu:
            scale = gpu_parameters(name, "tensorrt").chip_efficiency_scale
            if scale != 1.0:
                out[name] = {"chip_efficiency_scale": scale}
    return out


def fit_stack(
    stack: str,
    rows: pd.DataFrame | None = None,
    scales: dict[str, dict[str, float]] | None = None,
) -> StackFit:
    """Fit one stack: shared parameters and, for TensorRT, per-GPU values.

    TensorRT alternates twice between the shared fit (per-GPU values fixed) and the per-GPU
    fits (shared values fixed). The other stacks take the GPUs' efficiency scales from
    ``scales`` (default: the shipped ones, themselves fitted on the TensorRT rows).

    Args:
        stack: A stack name.
        rows: :func:`fit_rows` of the stack, or a subset (default: all).
        scales: Per-GPU ``chip_efficiency_scale`` for the non-TensorRT stacks.

    Returns:
        The fit and its per-row errors.

    """
    rows = fit_rows(stack) if rows is None else rows.reset_index(drop=True)
    if stack == "tensorrt":
        per_chip: dict[str, dict[str, float]] = {}
        for _ in range(2):
            shared = _fit_shared(stack, rows, per_chip)
            per_chip = _fit_chips(rows, shared)
    else:
        per_chip = shipped_chip_scales() if scales is None else scales
        shared = _fit_shared(stack, rows, per_chip)
    result = StackFit(stack, shared, per_chip, rows)
    predicted = predict_ms(rows, result.params)
    table = rows.assign(predicted_ms=predicted, error=predicted / rows.observed_ms - 1.0)
    return StackFit(stack, shared, per_chip, table)


def leave_one_model_out(
    stack: str, scales: dict[str, dict[str, float]] | None = None
) -> pd.DataFrame:
    """Refit without each model's rows and predict them.

    Args:
        stack: A stack name.
        scales: Per-GPU efficiency scales for the non-TensorRT stacks (see :func:`fit_stack`).

    Returns:
        The held-out rows of every model with ``predicted_ms`` and ``error``.

    """
    rows = fit_rows(stack)
    parts = []
    for model in sorted(rows.zoo_model.unique()):
        held = rows.zoo_model == model
        result = fit_stack(stack, rows[~held], scales)
        out = rows[held].reset_index(drop=True)
        predicted = predict_ms(out, result.params)
        parts.append(out.assign(predicted_ms=predicted, error=predicted / out.observed_ms - 1))
    return pd.concat(parts, ignore_index=True)


def parameter_rows(fits: list[StackFit]) -> list[dict[str, str]]:
    """Rows of ``data/gpu_parameters.csv`` for the fits of every stack, each with its source.

    Args:
        fits: One :func:`fit_stack` result per stack, TensorRT first.

    Returns:
        Dicts with keys ``stack, chip, parameter, value, unit, source``.

    """

    def row(stack: str, chip: str, name: str, value: float, source: str) -> dict[str, str]:
        return {"stack": stack, "chip": chip, "parameter": name, "value": f"{value:.4g}"} | {
            "unit": UNITS[name],
            "source": source,
        }

    trt = fits[0]
    assert trt.stack == "tensorrt"
    out = [
        row(
            "*",
            "*",
            "chip_efficiency_scale",
            1.0,
            "ASSUMED: 1 for a GPU without TensorRT rows (L4, A10G): the stack's shared efficiency",
        )
    ]
    for chip, values in sorted(trt.per_chip.items()):
        n = int((trt.table.chip == chip).sum())
        source = (
            f"FITTED by python -m hardware.calibration.gpu_fit on the {n} TensorRT rows of this "
            "GPU (shared values fixed); applied under every stack"
        )
        out.append(row("*", chip, "chip_efficiency_scale", values["chip_efficiency_scale"], source))
    for result in fits:
        e = errors(result.table).iloc[0]
        chips = ", ".join(sorted(result.table.chip.unique()))
        how = (
            f"FITTED by python -m hardware.calibration.gpu_fit: least squares on log latency of "
            f"{int(e.rows)} published {result.stack} rows (data/gpu_published_calibration.csv; "
            f"{chips}); median |error| {e.latency_median:.1%}, p90 {e.latency_p90:.1%}"
        )
        for f in fields(GpuParameters):
            if f.name == "chip_efficiency_scale":
                continue
            value = getattr(result.shared, f.name)
            if f.name in FREE[result.stack]:
                source = how
            else:
                source = "ASSUMED: " + ASSUMED[result.stack][f.name][1]
            out.append(row(result.stack, "*", f.name, value, source))
    return out


def fit_all() -> list[StackFit]:
    """Fit every stack as ``python -m hardware.calibration.gpu_fit`` does, TensorRT first.

    Returns:
        One :class:`StackFit` per stack of :data:`STACKS`; the non-TensorRT stacks use the
        TensorRT fit's per-GPU efficiency scales.

    """
    trt = fit_stack("tensorrt")
    scales = chip_scales(trt.per_chip)
    return [trt] + [fit_stack(stack, scales=scales) for stack in STACKS if stack != "tensorrt"]


def main(argv: list[str] | None = None) -> None:
    """Fit every stack, print errors (fit and leave-one-model-out), optionally write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite data/gpu_parameters.csv")
    parser.add_argument("--no-lomo", action="store_true", help="skip leave-one-model-out")
    parser.add_argument(
        "--report", action="store_true", help="print the error tables of docs/hardware.md"
    )
    args = parser.parse_args(argv)
    fits = fit_all()
    scales = chip_scales(fits[0].per_chip)
    with pd.option_context("display.width", 140, "display.float_format", "{:.3f}".format):
        for result in fits:
            p = result.shared
            free = ", ".join(f"{n}={getattr(p, n):.4g}" for n in FREE[result.stack])
            held = None if args.no_lomo else leave_one_model_out(result.stack, scales)
            table = report_table(result.table, held)
            print(f"\n== {result.stack}: {free}")
            if args.report:
                print(markdown(table))
                continue
            print(f"   per-GPU values: {result.per_chip}")
            print(table.to_string(index=False))
            if held is not None:
                print("   leave-one-model-out by held-out model:")
                print(errors(held, "zoo_model").to_string(index=False))
    if args.write:
        target = Path(str(resources.files("hardware").joinpath("data", "gpu_parameters.csv")))
        pd.DataFrame(parameter_rows(fits)).to_csv(target, index=False)
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
