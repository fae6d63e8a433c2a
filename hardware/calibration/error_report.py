"""Error tables of the calibrated service-time model against the published benchmarks.

Errors are absolute percentage errors ``|predicted / published - 1|`` of instance throughput
and of p50 latency, summarised as median and 90th percentile per group. Rows are grouped by
instance family (inf1, inf2, trn1), model family and instance type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from hardware import catalog
from hardware.calibration.benchmarks import REPORT_ONLY, SKIP, throughput_and_latency
from hardware.calibration.neuroncore_fit import holdout_row_times
from hardware.calibration.row_times import RowTimes, predict_row_times
from hardware.timing.neuroncore_parameters import ServiceParameters

REASONS = {**SKIP, **REPORT_ONLY}
"""Reason key -> explanation, for the legend of the report."""

_FAMILIES = (
    ("distilbert", "distilbert"),
    ("distilroberta|xlm-roberta|camembert|roberta", "roberta"),
    ("albert", "albert"),
    ("electra", "electra"),
    ("bert", "bert"),
    ("gpt2", "gpt2"),
    ("resnet", "resnet"),
    ("vgg", "vgg"),
    ("clip", "clip"),
    ("vit", "vit"),
    ("yolo", "yolo"),
)


def model_family(name: object) -> str:
    """Architecture family of a zoo model name (``"bert-large-cased"`` -> ``"bert"``).

    Args:
        name: Canonical zoo name, or None.

    Returns:
        The family, or ``"-"`` for None.

    """
    if not isinstance(name, str):
        return "-"
    return next((family for pattern, family in _FAMILIES if re.search(pattern, name)), name)


def evaluation(rows: pd.DataFrame, info: pd.DataFrame, times: RowTimes) -> pd.DataFrame:
    """Published and predicted throughput and p50 per row, with signed % errors.

    Args:
        rows: Rows in the calibration file's format.
        info: Their interpretation (:func:`hardware.calibration.benchmarks.interpret`).
        times: Predicted service and overlappable seconds per row.

    Returns:
        Columns ``model, family, instance, instance_family, status, reason, batch, seq_len,
        thr, pred_thr, p50_ms, pred_p50_ms, thr_err_pct, p50_err_pct``.

    """
    thr, p50 = throughput_and_latency(
        times.service_s,
        info.batch.to_numpy(),
        info.replicas.to_numpy(),
        info.in_flight.to_numpy(),
        times.hidden_s,
    )
    names = set(catalog.instance_type_names())
    frame = pd.DataFrame(
        {
            "model": info.zoo_model,
            "family": info.zoo_model.map(model_family),
            "instance": rows.instance,
            "instance_family": rows.instance.map(
                lambda i: catalog.instance_type(i).family if i in names else "-"
            ),
            "status": info.status,
            "reason": info.reason_key,
            "batch": info.batch,
            "seq_len": info.seq_len,
            "thr": rows.throughput_per_s.astype(float),
            "pred_thr": thr,
            "p50_ms": rows.latency_p50_ms.astype(float),
            "pred_p50_ms": p50 * 1e3,
        },
        index=rows.index,
    )
    frame["thr_err_pct"] = (frame.pred_thr / frame.thr - 1.0) * 100.0
    frame["p50_err_pct"] = (frame.pred_p50_ms / frame.p50_ms - 1.0) * 100.0
    return frame


def summarise(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Median and p90 absolute % errors of throughput and p50 per group.

    Args:
        frame: Output of :func:`evaluation` (any subset of rows).
        by: Grouping columns.

    Returns:
        One row per group: ``n_thr, thr_med, thr_p90, n_p50, p50_med, p50_p90``.

    """

    def stats(group: pd.DataFrame) -> pd.Series:
        thr = group.thr_err_pct.abs().dropna()
        p50 = group.p50_err_pct.abs().dropna()
        return pd.Series(
            {
                "n_thr": len(thr),
                "thr_med": thr.median() if len(thr) else np.nan,
                "thr_p90": thr.quantile(0.9) if len(thr) else np.nan,
                "n_p50": len(p50),
                "p50_med": p50.median() if len(p50) else np.nan,
                "p50_p90": p50.quantile(0.9) if len(p50) else np.nan,
            }
        )

    return frame.groupby(by, sort=True)[list(frame.columns)].apply(stats)


def _table(summary: pd.DataFrame) -> str:
    """Markdown table of a :func:`summarise` result."""
    keys = list(summary.index.names)
    header = [*keys, "n thr", "thr med %", "thr p90 %", "n p50", "p50 med %", "p50 p90 %"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(keys) + "---:|" * 6]
    for index, row in summary.iterrows():
        labels = index if isinstance(index, tuple) else (index,)
        cells = [str(x) for x in labels]
        for n, med, p90 in (
            (row.n_thr, row.thr_med, row.thr_p90),
            (row.n_p50, row.p50_med, row.p50_p90),
        ):
            cells += [f"{int(n)}", *(f"{v:.1f}" if np.isfinite(v) else "-" for v in (med, p90))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _parameters_table(params: Mapping[str, ServiceParameters]) -> str:
    names = (
        "tensor_efficiency",
        "vector_efficiency",
        "core_bandwidth_share",
        "overhead_s",
        "step_overhead_s",
        "host_transfer_s_per_byte",
        "input_overlap",
    )
    lines = ["| generation | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for generation, p in params.items():
        lines.append(
            f"| {generation} | " + " | ".join(f"{getattr(p, n):.4g}" for n in names) + " |"
        )
    return "\n".join(lines)


def report(
    rows: pd.DataFrame,
    info: pd.DataFrame,
    params: Mapping[str, ServiceParameters],
    holdout: bool = True,
) -> str:
    """The full calibration report (markdown): parameters, errors, hold-out, left-out rows.

    Args:
        rows: Rows in the calibration file's format.
        info: Their interpretation.
        params: Fitted parameters per NeuronCore generation.
        holdout: Whether to run the leave-one-family-out fits.

    Returns:
        The report text.

    """
    frame = evaluation(rows, info, predict_row_times(rows, info, params))
    fitted = frame[frame.status == "fit"]
    out = [
        "## Fitted parameters",
        "",
        _parameters_table(params),
        "",
        "## Errors on the fitted rows (absolute % error)",
        "",
        _table(summarise(fitted, ["instance_family"])),
        "",
        "### By model family",
        "",
        _table(summarise(fitted, ["instance_family", "family"])),
        "",
        "### By instance",
        "",
        _table(summarise(fitted, ["instance_family", "instance"])),
    ]
    if holdout:
        held = evaluation(rows, info, holdout_row_times(rows, info, frame.family))
        held = held[held.status == "fit"]
        across = evaluation(rows, info, holdout_row_times(rows, info, frame.instance_family))
        across = across[(across.status == "fit") & across.pred_thr.notna()]
        out += [
            "",
            "## Held out: each model family predicted by a fit without it",
            "",
            _table(summarise(held, ["instance_family"])),
            "",
            _table(summarise(held, ["instance_family", "family"])),
            "",
            "## Held out: NeuronCore-v2 fitted on inf2 rows only predicts trn1, and vice versa",
            "",
            _table(summarise(across, ["instance_family"])),
        ]
    shown = frame[frame.status == "report"]
    skipped = frame[frame.status == "skip"].assign(name=rows.model)
    out += [
        "",
        "## Predicted and shown, not fitted",
        "",
        _table(summarise(shown, ["reason", "model", "instance"])),
        "",
        "## Left out of the fit",
        "",
        "| reason | rows | predicted | models |",
        "|---|---:|---:|---|",
    ]
    for reason, group in skipped.groupby("reason"):
        names = sorted({str(m) for m in group.name})
        more = f" (+{len(names) - 4})" if len(names) > 4 else ""
        predicted = int((group.pred_thr.notna() | group.pred_p50_ms.notna()).sum())
        out.append(f"| {reason} | {len(group)} | {predicted} | {', '.join(names[:4])}{more} |")
    out += ["", "Reasons:", ""]
    used = sorted(set(shown.reason) | set(skipped.reason))
    out += [f"* `{key}`: {REASONS[key]}" for key in used]
    return "\n".join(out)
