"""The claims table: one row per claim, as ``claims.parquet``, ``claims.md`` and a terminal table.

Both files are written atomically (a temporary file, then a rename).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from sim.claims.evaluation import ClaimResult
from sim.planning.report import write_text

METHOD = """\
## Method

1. **Same question on both sides.** Each claim is made testable by one scenario per side
   (`scenarios/claims/`), whose header states every assumption the claim leaves open: model
   size, sequence lengths, offered load, latency SLO, dtype, run length. Both sides of a claim
   run the same offered load, sequence mix, SLO, seed and run length (the claims loader
   refuses a pair that differs); they differ only in the hardware.
2. **Cheapest verified fleet on each side.** `fleetsim plan`'s planner sizes every candidate
   (instance type x largest batch) to the smallest count that meets the SLO in every
   replication (drops count as misses; the count below it is simulated and shown to miss), and
   the cheapest candidate per million inferences is chosen. Every instance runs its natural
   dtype (bf16 on NeuronCores, fp16 on GPUs); GPUs run the serving stack their scenario names,
   TensorRT, the best published one.
3. **The figure and its interval.** The figure (a saving in cost per million, a reduction in
   latency, the largest rate one instance sustains, a throughput ratio) is computed per
   replication at the chosen counts; replication r of every fleet sees the same arrivals
   (common random numbers), so savings and reductions are paired. The interval is the
   Student-t 95% interval across replications; a rate search gives the bracket between the
   largest rate met and the next rate missed; a hardware-model figure is exact.
4. **The verdict.** `reproduced` when the estimate reaches the claimed figure less the stated
   tolerance (savings, reductions and throughputs read as "at least"); `not reproduced` (with
   the simulated figure) when it falls short; `not plausible as stated` (with the figure that
   makes it so) when the hardware model rules the claim out for any fleet (a latency floor
   above the claimed latency, a price no instance has); `not testable` (with the reason) when
   the claim rests on what the model lacks. A claim in several parts takes its worst part's
   verdict. An interval reaching across the threshold is called borderline.
5. **Sensitivity.** The main alternative assumption (GPU stack, sequence length, assumed
   watts) is evaluated the same way; the line says whether the verdict flips.
6. **Projected hardware** (Inferentia3) is flagged: its performance, price and power are
   projections, not published figures.
"""


def claim_rows(results: list[ClaimResult]) -> list[dict[str, Any]]:
    """One flat row per claim, in the claims file's order."""
    rows = []
    for result in results:
        claim, outcome, alt = result.claim, result.outcome, result.alternative
        figure = outcome.figure
        rows.append(
            {
                "id": claim.id,
                "claim": claim.claim,
                "source": claim.source,
                "kind": claim.kind,
                **result.simulated,
                "inferentia_fleet": outcome.inferentia,
                "comparison_fleet": outcome.comparison,
                "figure": figure.name,
                "estimate": figure.estimate,
                "low": figure.low,
                "high": figure.high,
                "unit": figure.unit,
                "figure_text": str(figure),
                "interval_method": figure.method,
                "replications": figure.n,
                "verdict": str(outcome.verdict.kind),
                "explanation": outcome.verdict.explanation,
                "details": "; ".join(outcome.details),
                "sensitivity": claim.sensitivity.label if claim.sensitivity else "",
                "sensitivity_figure": str(alt.figure) if alt else "",
                "sensitivity_verdict": str(alt.verdict.kind) if alt else "",
                "sensitivity_explanation": alt.verdict.explanation if alt else "",
                "flips": result.flips,
                "projected": result.projected,
            }
        )
    return rows


def sensitivity_line(row: dict[str, Any]) -> str:
    """``GPUs on eager: 62.1% [..] -> reproduced (does not flip)``; ``-`` without one."""
    if not row["sensitivity"]:
        return "-"
    flip = "FLIPS" if row["flips"] else "does not flip"
    return (
        f"{row['sensitivity']}: {row['sensitivity_figure']} -> "
        f"{row['sensitivity_verdict']} ({flip})"
    )


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``claims.parquet`` atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pd.DataFrame(rows).to_parquet(tmp, index=False)
    os.replace(tmp, path)


def claims_markdown(rows: list[dict[str, Any]], facts: list[str], command: str) -> str:
    """``claims.md``: the method, the table, then each claim's set-up and figures."""
    lines = ["# fleetsim claims", "", *[f"- {fact}" for fact in facts], "", METHOD, "## Table", ""]
    lines += [
        "| claim | verdict | simulated figure [95% interval] | sensitivity |",
        "|---|---|---|---|",
    ]
    for row in rows:
        tag = " **PROJECTED**" if row["projected"] else ""
        lines.append(
            f"| {row['id']}{tag} | {row['verdict']} | {row['figure']}: "
            f"{row['figure_text']} | {sensitivity_line(row)} |"
        )
    lines += ["", "## Claims", ""]
    for row in rows:
        tag = " (PROJECTED hardware)" if row["projected"] else ""
        lines += [
            f"### {row['id']}{tag}",
            "",
            f"> {row['claim']}",
            "",
            f"- source: {row['source']}",
            f"- test: {row['kind']}; simulated: {row['model']}, sequence lengths "
            f"{row['seq_lens']}, load {row['load']}, SLO {row['slo']}, runs of {row['run']}, "
            f"dtype {row['dtype']}, GPU stack {row['gpu_stack']}, hardware model "
            f"{row['hardware_model_version']}",
            f"- Inferentia side: {row['inferentia_fleet'] or '-'}; comparison side: "
            f"{row['comparison_fleet'] or '-'}",
            f"- figure: {row['figure']} = {row['figure_text']} ({row['interval_method']})",
            f"- **verdict: {row['verdict']}**: {row['explanation']}",
            f"- details: {row['details'] or '-'}",
            f"- sensitivity: {sensitivity_line(row)}"
            + (f"; {row['sensitivity_explanation']}" if row["sensitivity"] else ""),
            "",
        ]
    lines += [f"Reproduce: `{command}`", ""]
    return "\n".join(lines)


def write_markdown(path: Path, text: str) -> None:
    """Write ``claims.md`` atomically."""
    write_text(path, text)
