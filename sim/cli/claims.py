"""``fleetsim claims``: the case-study claims, simulated, each with a verdict."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from sim.cli.consoles import fail, stderr, stdout, wide_stdout
from sim.cli.progress import SweepDisplay
from sim.cli.signals import sweep_job_exits
from sim.cli.sweep import SchedulerOption, WorkersOption


def claims(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Output directory: claims.md, claims.parquet, plans/.")
    ] = Path("runs") / "claims",
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    quick: Annotated[
        bool,
        typer.Option(help="3 s runs, 2 replications, the first candidate of each side (tests)."),
    ] = False,
    claims_file: Annotated[
        Path | None,
        typer.Option("--claims", help="Claims file (default: scenarios/claims/claims.yaml)."),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress.")] = False,
) -> None:
    """Simulate each public claim about Inferentia and give it a verdict (claims.md, .parquet)."""
    from sim.claims.runner import DEFAULT_CLAIMS, run_claims

    if scheduler is not None and workers is not None:
        raise fail("--scheduler uses the cluster's workers: drop --workers")
    display = SweepDisplay("claims", enabled=not quiet)

    def on_claim(claim_id: str) -> None:
        display.close()
        display.label = f"claim {claim_id}"
        if not quiet:
            stderr().print(escape(f"claim {claim_id}"), highlight=False, soft_wrap=True)

    with sweep_job_exits(display, "the claims", _interrupted):
        result = run_claims(
            claims_file or DEFAULT_CLAIMS,
            out_dir,
            scheduler=scheduler,
            workers=workers,
            quick=quick,
            command=shlex.join(["fleetsim", *sys.argv[1:]]),
            on_claim=on_claim,
            progress=display,
        )
    wide_stdout().print(claims_table(result.rows))
    for row in result.rows:
        stdout().print(escape(f"{row['id']}: {row['explanation']}"), highlight=False,
                       soft_wrap=True)  # fmt: skip
    if any(row["projected"] for row in result.rows):
        stdout().print(
            "[yellow]note:[/] PROJECTED hardware (inf3): its performance, price and power are "
            "projections, not published figures."
        )
    stdout().print(
        escape(f"wrote {', '.join(str(f) for f in result.files)} in {result.wall_s:.0f} s"),
        highlight=False,
        soft_wrap=True,
    )


def _interrupted(why: str) -> str:
    return (
        f"{why}; claims.md was not written; every count simulated so far is kept under "
        "plans/, and the same command continues from it"
    )


def claims_table(rows: list[dict[str, Any]]) -> Table:
    """The claims table: claim, verdict, simulated figure with its interval, sensitivity."""
    from sim.claims.report import sensitivity_line

    table = Table(title="fleetsim claims", header_style="bold", show_lines=True)
    for column in ("claim", "verdict", "simulated figure [95% interval]", "sensitivity"):
        table.add_column(column, overflow="fold")
    for row in rows:
        tag = " PROJECTED" if row["projected"] else ""
        table.add_row(
            escape(row["id"] + tag),
            escape(row["verdict"]),
            escape(f"{row['figure']}: {row['figure_text']}"),
            escape(sensitivity_line(row)),
        )
    return table
