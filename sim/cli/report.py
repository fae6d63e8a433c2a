"""``fleetsim report``: a self-contained HTML report of runs and sweeps (``analysis.report``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sim.cli.consoles import EXIT_IO_ERROR, fail, stdout


def report(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Run directories, requests.parquet files, sweep or plan directories, or "
            "directories of runs.",
            metavar="RUN_DIR",
        ),
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="The HTML file to write.")] = Path(
        "report.html"
    ),
    png: Annotated[
        Path | None,
        typer.Option("--png", help="Also write each plot as a PNG file in this directory."),
    ] = None,
) -> None:
    """Write one self-contained HTML file with the runs' and sweeps' tables and plots."""
    from analysis.report import ReportInputError, build_report, check_outputs, write_report

    try:
        check_outputs(out, png)
        written = write_report(build_report(paths), out, png)
    except ReportInputError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(
            f"could not write the report: {exc.strerror or exc}; nothing was written",
            code=EXIT_IO_ERROR,
        ) from None
    pngs = len(written) - 1
    shown = f" and {pngs} PNG files in {png}" if png is not None else ""
    stdout().print(escape(f"wrote {written[0]}{shown}"), highlight=False, soft_wrap=True)
