"""Fit the service-time jitter per chip: ``python -m hardware.calibration.jitter_fit``.

A published row with about one batch in flight per replica has no queueing, so its p99/p50 is
the spread of the service time itself. Per chip, the median of the selected rows' p99/p50 is
matched by the mean-1 lognormal factor of :mod:`hardware.timing.jitter`:
``sigma = log(median p99/p50) / z99`` and ``cv = sqrt(exp(sigma**2) - 1)``. The median (not the
mean) because a few rows carry a 1.3-1.9 tail from host hiccups the rows do not explain.

* **Neuron** (``neuron_published_calibration.csv``, read by
  :func:`~hardware.calibration.benchmarks.interpret`): rows predicted by the model (status
  ``fit`` or ``report``) with p50 and p99, a stated protocol or Little's-law in-flight figure
  (not the one-per-replica default) and ``0.9 <= in_flight / replicas <= 1.1``.
  inf2 and trn1 share NeuronCore-v2 but are fitted apart: on every (model, batch, size, dtype)
  published for both, inf2's p99/p50 is the larger (26 of 26), so the spread belongs to the
  instance (host, runtime), not to the core. Inferentia3 (projected) takes the pooled
  NeuronCore-v2 rows (inf2 + trn1).
* **GPUs** (``gpu_latency_rows.csv``: the rows of fleetsim's ``gpu_published.csv`` compilation
  for T4, A10G, V100 and L4 that give p99 and p50 or mean): one batch in flight, i.e. not
  Triton ``Online`` rows or ``concurrency`` above 1, not end-to-end HTTP serving (TorchServe,
  a Triton ensemble behind an HTTP client: the host stage is modelled apart) and not MXNet
  (its latency includes the data pipeline). A row with only a mean is converted to the
  lognormal's p99/p50 (``p99 / mean = exp(z99 sigma - sigma**2 / 2)``), except in tables where
  some mean exceeds its p99 (warm-up outliers: such means are not a centre). A GPU with fewer
  than :data:`MIN_ROWS` rows (A10G has 8, L4 none) takes the pooled rows of the fitted GPUs,
  flagged ``assumed``.

Rows whose p99 is below their centre (non-monotonic as published) are dropped everywhere.
``--gpu-source PATH`` re-extracts ``gpu_latency_rows.csv`` from a copy of ``gpu_published.csv``.
"""

from __future__ import annotations

import argparse
import math
import warnings
from importlib import resources
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd

from hardware.calibration.benchmarks import interpret, load_published
from hardware.catalog import instance_type
from hardware.catalog.data_files import data_file
from hardware.timing.jitter import JITTER_FILE, Z99, lognormal_cv

GPU_ROWS_FILE = "gpu_latency_rows.csv"
"""Shipped subset of the published GPU rows (hardware/data)."""

GPU_CHIPS = {"T4": "nvidia-t4", "A10G": "nvidia-a10g", "V100-16GB": "nvidia-v100",
             "V100-32GB": "nvidia-v100", "L4": "nvidia-l4"}  # fmt: skip
"""Published GPU name -> catalog chip (V100 16 and 32 GB are the same GV100)."""

MIN_ROWS = 20
"""Fewest selected rows for a chip's own fit; below it the pooled figure is used."""

LOAD_BAND = (0.9, 1.1)
"""Selected Neuron rows have ``in_flight / replicas`` in this closed band."""

NEURON_SELECTION = (
    "status fit/report; p50 and p99 published, p99 >= p50; in-flight figure stated "
    "(protocol or Little's law); 0.9 <= in_flight/replicas <= 1.1"
)
GPU_SELECTION = (
    "one batch in flight (no Triton Online, no concurrency > 1); not HTTP end-to-end, not "
    "MXNet; p99 with p50, or with a mean from a table whose means never exceed p99; "
    "p99 >= centre"
)
_NEURON_SOURCE = "hardware/data/neuron_published_calibration.csv (each row names its source)"
_GPU_SOURCE = "hardware/data/gpu_latency_rows.csv (each row names its source)"
_COLUMNS = ["chip", "cv", "sigma", "n_rows", "median_p99_p50", "p90_p99_p50", "basis",
            "projected", "selection", "source"]  # fmt: skip
_HEADER = (
    "# Service-time jitter per chip: cv of a mean-1 lognormal factor whose p99/p50 equals the\n"
    "# median p99/p50 of published rows with about one batch in flight per replica.\n"
    "# Written by `python -m hardware.calibration.jitter_fit` (do not edit by hand); the fit,\n"
    "# the rows and the selection are described in docs/hardware.md, 'Service-time jitter'.\n"
)


def neuron_ratios() -> pd.DataFrame:
    """The selected Neuron rows and their p99/p50.

    Returns:
        Columns ``instance``, ``chip`` (catalog chip name) and ``p99_p50``.

    """
    rows = load_published()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = interpret(rows)
    notes = rows.notes.fillna("")
    stated = notes.str.contains(r"n_models=|single-stream|Little\) =", regex=True)
    load = info.in_flight / info.replicas
    ratio = rows.latency_p99_ms / rows.latency_p50_ms
    keep = (
        info.status.isin(["fit", "report"])
        & (info.generation != "gpu")
        & stated
        & load.between(*LOAD_BAND)
        & (ratio >= 1.0)
    )
    sel = rows[keep]
    chips = [instance_type(name).chip.name for name in sel.instance]
    return pd.DataFrame({"instance": sel.instance, "chip": chips, "p99_p50": ratio[keep]})


def _equivalent_p99_p50(p99_over_mean: pd.Series) -> pd.Series:
    """The lognormal's p99/p50 with the same p99/mean (``sigma`` from a quadratic)."""
    sigma = Z99 - np.sqrt(Z99 * Z99 - 2.0 * np.log(p99_over_mean))
    return np.exp(Z99 * sigma)


def load_gpu_rows() -> pd.DataFrame:
    """The shipped GPU candidate rows (``gpu_latency_rows.csv``)."""
    text = data_file(GPU_ROWS_FILE).read_text("utf-8")
    return pd.read_csv(StringIO(text), skiprows=_comment_lines(text))


def _comment_lines(text: str) -> int:
    return next(i for i, line in enumerate(text.splitlines()) if not line.startswith("#"))


def gpu_ratios(rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """The selected GPU rows and their (lognormal-equivalent) p99/p50.

    Args:
        rows: Rows in ``gpu_published.csv`` columns (default: the shipped subset).

    Returns:
        Columns ``gpu``, ``chip``, ``statistic`` (``p50`` or ``mean``) and ``p99_p50``.

    """
    d = load_gpu_rows() if rows is None else rows
    d = d[d.gpu.isin(list(GPU_CHIPS))]
    notes, stack = d.notes.fillna(""), d.software_stack.fillna("")
    conc = pd.to_numeric(notes.str.extract(r"concurrency=(\d+)", expand=False), errors="coerce")
    one_in_flight = ~notes.str.contains("scenario=Online") & ~(conc > 1)
    end_to_end = stack.str.contains("TorchServe|torchserve|HTTP client|MXNet", regex=True)
    has_p50 = d.latency_p50_ms.notna()
    centre = d.latency_p50_ms.where(has_p50, d.latency_avg_ms)
    raw = d.latency_p99_ms / centre
    table = d.source + "|" + d.gpu + "|" + stack
    polluted = table.isin(table[~has_p50 & (raw < 1.0)])
    keep = (
        d.latency_p99_ms.notna()
        & centre.notna()
        & one_in_flight
        & ~end_to_end
        & (has_p50 | ~polluted)
        & (raw >= 1.0)
    )
    sel = d[keep]
    ratio = raw[keep].where(has_p50[keep], _equivalent_p99_p50(raw[keep]))
    return pd.DataFrame(
        {
            "gpu": sel.gpu,
            "chip": sel.gpu.map(GPU_CHIPS),
            "statistic": np.where(has_p50[keep], "p50", "mean"),
            "p99_p50": ratio,
        }
    )


def _row(chip: str, ratios: pd.Series, basis: str, selection: str, source: str) -> dict:
    median = float(ratios.median())
    sigma = math.log(median) / Z99
    return {
        "chip": chip,
        "cv": round(lognormal_cv(sigma), 6),
        "sigma": round(sigma, 6),
        "n_rows": len(ratios),
        "median_p99_p50": round(median, 6),
        "p90_p99_p50": round(float(ratios.quantile(0.9)), 6),
        "basis": basis,
        "projected": "true" if basis == "projected" else "false",
        "selection": selection,
        "source": source,
    }


def fit() -> pd.DataFrame:
    """Fit every catalog chip's jitter.

    Returns:
        One row per chip in ``jitter.csv``'s columns.

    """
    out = []
    neuron = neuron_ratios()
    for chip in ("inferentia", "inferentia2", "trainium"):
        out.append(_row(chip, neuron.p99_p50[neuron.chip == chip], "fit", NEURON_SELECTION,
                        _NEURON_SOURCE))  # fmt: skip
    pooled = neuron.p99_p50[neuron.chip.isin(["inferentia2", "trainium"])]
    rule = f"projected: pooled NeuronCore-v2 rows (inf2 + trn1); {NEURON_SELECTION}"
    out.append(_row("inferentia3", pooled, "projected", rule, _NEURON_SOURCE))
    gpu = gpu_ratios()
    counts = gpu.chip.value_counts()
    own = [c for c in dict.fromkeys(GPU_CHIPS.values()) if counts.get(c, 0) >= MIN_ROWS]
    for chip in dict.fromkeys(GPU_CHIPS.values()):
        if chip in own:
            out.append(_row(chip, gpu.p99_p50[gpu.chip == chip], "fit", GPU_SELECTION,
                            _GPU_SOURCE))  # fmt: skip
        else:
            rule = (
                f"assumed: {counts.get(chip, 0)} own rows (< {MIN_ROWS}); pooled rows of "
                f"{' + '.join(own)}; {GPU_SELECTION}"
            )
            pooled = gpu.p99_p50[gpu.chip.isin(own)]
            out.append(_row(chip, pooled, "assumed", rule, _GPU_SOURCE))
    return pd.DataFrame(out, columns=_COLUMNS)


def render(table: pd.DataFrame) -> str:
    """``jitter.csv``'s text for a fitted table (header comment, then the rows)."""
    return _HEADER + table.to_csv(index=False, lineterminator="\n")


def extract_gpu_rows(path: Path) -> str:
    """``gpu_latency_rows.csv``'s text: the candidate rows of a ``gpu_published.csv`` copy.

    Args:
        path: A copy of fleetsim's ``gpu_published.csv`` compilation.

    Returns:
        A header comment and, verbatim, the rows for the GPUs of :data:`GPU_CHIPS` that give
        p99 and p50 or mean.

    """
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    keep = rows.gpu.isin(list(GPU_CHIPS)) & (rows.latency_p99_ms != "")
    keep &= (rows.latency_p50_ms != "") | (rows.latency_avg_ms != "")
    header = (
        "# Published GPU inference rows for the service-time jitter and host-cost fits "
        "(hardware/calibration).\n"
        "# A verbatim subset of fleetsim's compilation gpu_published.csv (each row's `source` "
        "names the public\n# repository, commit, file and line): the T4, A10G, V100 and L4 rows "
        "that give p99 and p50 or mean.\n"
    )
    return header + rows[keep].to_csv(index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> int:
    """Fit, write ``hardware/data/jitter.csv`` (unless ``--dry-run``) and print the table.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        Exit code (0).

    """
    parser = argparse.ArgumentParser(prog="python -m hardware.calibration.jitter_fit")
    parser.add_argument("--dry-run", action="store_true", help="fit and print, write nothing")
    parser.add_argument("--gpu-source", type=Path, help="re-extract gpu_latency_rows.csv first")
    args = parser.parse_args(argv)
    data = Path(str(resources.files("hardware").joinpath("data")))
    if args.gpu_source is not None:
        (data / GPU_ROWS_FILE).write_text(extract_gpu_rows(args.gpu_source), encoding="utf-8")
        print(f"wrote {data / GPU_ROWS_FILE}")
    table = fit()
    with pd.option_context("display.width", 120):
        print(table.drop(columns=["selection", "source"]).to_string(index=False))
    if not args.dry_run:
        (data / JITTER_FILE).write_text(render(table), encoding="utf-8")
        print(f"wrote {data / JITTER_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
