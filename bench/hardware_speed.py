"""How fast the hardware model predicts, against SCALE-Sim and in-process baselines.

Run from the repository root::

    /work/venv/bin/python bench/hardware_speed.py [--repeats 5]

Times (best of ``--repeats``):

1. **calibration rows**: predicting every row of the published calibration file with
   ``hardware.calibration.row_times.predict`` when that exists, else a vectorised
   ``service_time_table`` with the same number of predictions (the record says which);
2. **grid**: one ``service_time_array`` over every encoder in the zoo x every instance type
   x batch 1..64 x 8 sequence lengths;
3. **baselines, same process**: ``hardware.systolic.gemm_cycles`` (SCALE-Sim's closed form,
   vectorised) over the same GEMMs, a pure-Python loop over those GEMMs, and a naive loop of
   scalar ``hardware.service_time`` calls over the calibration-sized set.

Beside each, what SCALE-Sim would need for the same GEMMs at its measured speed on this
machine (median 6.6 s, mean 12.9 s per GEMM layer; scalesim_reference.md §6). SCALE-Sim times a
GEMM shape once per array size, so the GEMMs are counted as distinct (M, K, N) shapes on the
128x128 NeuronCore array (GPU rows have no systolic array and add none). Writes
``bench/results/hardware_speed.json``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

import hardware
from hardware import catalog, systolic, zoo

SCALESIM_MEDIAN_S_PER_GEMM = 6.6
SCALESIM_MEAN_S_PER_GEMM = 12.9
RESULTS = Path(__file__).resolve().parent / "results" / "hardware_speed.json"
GRID_SEQS = np.array([8, 16, 32, 64, 128, 256, 384, 512])
GRID_BATCHES = np.arange(1, 65)


def best_of(repeats: int, fn: Callable[[], object]) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls, and the last result."""
    best, result = math.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def gemm_shapes(jobs: list[tuple[str, str, int, int]]) -> np.ndarray:
    """(M, K, N) of every GEMM row of every (model, instance, batch, seq) job on a NeuronCore."""
    shapes = []
    for model, instance, batch, seq in jobs:
        if catalog.instance_type(instance).chip.kind != "neuroncore":  # systolic GEMMs only
            continue
        g = zoo.model(model).gemms(batch, seq)
        shapes.append(np.stack([g.m.ravel(), g.k.ravel(), g.n.ravel()], axis=1))
    return np.concatenate(shapes) if shapes else np.zeros((0, 3), np.int64)


def _calibrate_jobs() -> tuple[str, Callable[[], object], list[tuple[str, str, int, int]]]:
    """Every published calibration row through ``hardware.calibration.row_times.predict``."""
    row_times = importlib.import_module("hardware.calibration.row_times")
    benchmarks = importlib.import_module("hardware.calibration.benchmarks")
    rows = benchmarks.load_published()
    predicted = row_times.predict(rows)
    info = benchmarks.interpret(rows)  # the zoo model, size and batch each row measured
    ok = predicted.pred_throughput_per_s.notna().to_numpy() & info.zoo_model.notna().to_numpy()
    jobs = [
        (str(i.zoo_model), str(r.instance), int(i.batch), int(i.seq_len))
        for (_, r), (_, i), keep in zip(rows.iterrows(), info.iterrows(), ok, strict=True)
        if keep and np.isfinite(i.batch) and np.isfinite(i.seq_len)
    ]
    how = f"hardware.calibration.row_times.predict on all {len(rows)} rows"
    return how, lambda: row_times.predict(rows), jobs


def calibration_jobs() -> tuple[str, Callable[[], object], list[tuple[str, str, int, int]]]:
    """The calibration-row workload: how it is predicted, the call, and its jobs."""
    try:
        return _calibrate_jobs()
    except Exception as exc:  # noqa: BLE001 - absent or changed API: fall back, say why
        reason = f"{type(exc).__name__}: {exc}"
    n_rows = 1041  # rows of neuron_published_calibration.csv
    models = ["bert-base", "bert-large", "distilbert-base", "roberta-base", "resnet-50"]
    insts = [n for n in catalog.instance_type_names() if n.startswith(("inf1", "inf2"))]
    batches = np.arange(1, n_rows // (len(models) * len(insts)) + 1)
    jobs = [(m, i, int(b), zoo.model(m).default_seq_len) for m in models for i in insts
            for b in batches]  # fmt: skip
    return (
        f"service_time_table of {len(jobs)} predictions (hardware.calibration.row_times.predict "
        f"unavailable: {reason})",
        lambda: hardware.service_time_table(models, insts, batches),
        jobs,
    )


def python_loop_cycles(shapes: np.ndarray) -> int:
    """SCALE-Sim ws cycles of every GEMM with a plain Python loop (the naive baseline)."""
    total = 0
    for m, k, n in shapes.tolist():
        total += math.ceil(k / 128) * math.ceil(n / 128) * (2 * 128 + 128 + m - 2) - 1
    return total


def scalesim(shapes: np.ndarray) -> dict[str, float]:
    """SCALE-Sim time for the distinct GEMM shapes at its measured per-layer speed."""
    distinct = int(len(np.unique(shapes, axis=0))) if len(shapes) else 0
    return {
        "distinct_gemms": distinct,
        "scalesim_median_s": distinct * SCALESIM_MEDIAN_S_PER_GEMM,
        "scalesim_mean_s": distinct * SCALESIM_MEAN_S_PER_GEMM,
    }


def main() -> None:
    """Run the benchmark, print the table and write the JSON record."""
    parser = argparse.ArgumentParser(description="hardware-model speed benchmark")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)  # predict warns once per unknown row kind
    how, calib_fn, calib_jobs = calibration_jobs()
    calib_s, _ = best_of(args.repeats, calib_fn)
    calib_shapes = gemm_shapes(calib_jobs)

    encoders = [m for m in zoo.model_names() if zoo.model(m).kind == "encoder"]
    insts = catalog.instance_type_names()
    grid_s, grid = best_of(
        args.repeats, lambda: hardware.service_time_array(encoders, insts, GRID_BATCHES, GRID_SEQS)
    )
    grid_predictions = int(np.isfinite(grid).sum())
    grid_jobs = [(m, i, int(b), int(s)) for m in encoders for i in insts[:1]
                 for b in GRID_BATCHES for s in GRID_SEQS]  # fmt: skip
    grid_shapes = gemm_shapes(grid_jobs)  # every NeuronCore is 128x128: one chip suffices

    shapes = np.concatenate([calib_shapes, grid_shapes])
    m, k, n = shapes.T
    cycles_s, _ = best_of(args.repeats, lambda: systolic.gemm_cycles(m, k, n, 128, 128, "ws"))
    loop_s, _ = best_of(1, lambda: python_loop_cycles(shapes))
    dtype_ok = [j for j in calib_jobs if hardware.dtype_supported(j[1], "bf16")]
    naive_s, _ = best_of(
        1, lambda: [hardware.service_time(mo, i, b, s, "bf16") for mo, i, b, s in dtype_ok]
    )

    record = {
        "machine": {"python": platform.python_version(), "processor": platform.machine(),
                    "numpy": np.__version__, "pandas": pd.__version__},
        "hardware_model_version": hardware.HARDWARE_MODEL_VERSION,
        "calibration_rows": {"how": how, "predictions": len(calib_jobs), "seconds": calib_s,
                             "predictions_per_s": len(calib_jobs) / calib_s,
                             **scalesim(calib_shapes)},
        "grid": {"shape": list(grid.shape), "predictions": grid_predictions, "seconds": grid_s,
                 "predictions_per_s": grid_predictions / grid_s, **scalesim(grid_shapes)},
        "baselines": {"gemms": int(len(shapes)),
                      "gemm_cycles_vectorised_s": cycles_s,
                      "gemm_cycles_per_s": len(shapes) / cycles_s,
                      "python_loop_gemm_s": loop_s,
                      "python_loop_gemms_per_s": len(shapes) / loop_s,
                      "naive_scalar_service_time_calls": len(dtype_ok),
                      "naive_scalar_service_time_s": naive_s,
                      "naive_predictions_per_s": len(dtype_ok) / naive_s},
    }  # fmt: skip
    for key in ("calibration_rows", "grid"):
        r = record[key]
        r["speedup_vs_scalesim_median"] = r["scalesim_median_s"] / r["seconds"]
        r["speedup_vs_scalesim_mean"] = r["scalesim_mean_s"] / r["seconds"]
        naive = record["baselines"]["naive_predictions_per_s"]
        r["speedup_vs_naive_scalar_loop"] = r["predictions_per_s"] / naive
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")

    c, g, b = record["calibration_rows"], record["grid"], record["baselines"]
    print(f"calibration rows: {how}")
    print(f"{'workload':28s} {'predictions':>11s} {'seconds':>9s} {'pred/s':>11s} "
          f"{'GEMMs':>7s} {'SCALE-Sim med/mean':>20s} {'x faster (med)':>14s}")  # fmt: skip
    for name, r in (("calibration rows", c), ("service_time_array grid", g)):
        print(f"{name:28s} {r['predictions']:>11,d} {r['seconds']:>9.4f} "
              f"{r['predictions_per_s']:>11,.0f} {r['distinct_gemms']:>7,d} "
              f"{r['scalesim_median_s'] / 3600:>8.1f} h/{r['scalesim_mean_s'] / 3600:>6.1f} h "
              f"{r['speedup_vs_scalesim_median']:>14,.0f}")  # fmt: skip
    print(f"in-process baselines over {b['gemms']:,d} GEMMs: gemm_cycles (numpy) "
          f"{b['gemm_cycles_per_s']:,.0f} GEMMs/s; pure-Python loop "
          f"{b['python_loop_gemms_per_s']:,.0f} GEMMs/s; naive scalar service_time loop "
          f"{b['naive_predictions_per_s']:,.0f} predictions/s "
          f"({b['naive_scalar_service_time_calls']} calls, "
          f"{b['naive_scalar_service_time_s']:.2f} s)"
          f" vs vectorised grid {g['predictions_per_s']:,.0f}/s "
          f"({g['speedup_vs_naive_scalar_loop']:,.0f}x)")  # fmt: skip
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
