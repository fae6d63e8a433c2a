"""A self-contained HTML report of runs and sweeps, with matplotlib plots (``fleetsim report``).

Typical use::

    from analysis.report import build_report, write_report
    report = build_report(["runs/alexa", "runs/amazon_search"])
    write_report(report, "report.html", png_dir="plots")

The page embeds every plot as a ``data:`` PNG URI and refers to nothing on the network.
Traces are read one row group at a time (``analysis.report.aggregates``), so a trace
larger than memory can be reported on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from analysis.report.html import Section, render_page, slug
from analysis.report.inputs import ReportInputError, RunSource, SweepSource, resolve

__all__ = ["Report", "ReportInputError", "build_report", "check_outputs", "write_report"]


@dataclass
class Report:
    """A rendered report: the page and its plots (named for ``--png``)."""

    html: str
    plots: list[tuple[str, bytes]]  # (file name, PNG bytes), in page order
    title: str


def build_report(paths: list[str | Path], title: str | None = None) -> Report:
    """Read the runs and sweeps behind ``paths`` and render the page.

    Args:
        paths: Run directories, ``requests.parquet`` files, sweep or plan directories, or
            directories of runs (``analysis.report.inputs``), in the order to show them.
        title: The page title (default: ``fleetsim report: <labels>``).

    Raises:
        ReportInputError: a path is missing, not a run or sweep, or unreadable.

    """
    from analysis.report.pages import runs_section
    from analysis.report.sweep_page import sweep_section

    sources = resolve(paths)
    runs = [s for s in sources if isinstance(s, RunSource)]
    sections: list[Section] = []
    if runs:
        sections.append(runs_section(runs))
    for source in sources:
        if isinstance(source, SweepSource):
            sections.append(sweep_section(source.label, source.manifest, source.rows, source.path))
    title = title or "fleetsim report: " + ", ".join(s.label for s in sources)
    facts = [
        f"Made {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by fleetsim {_version()} from: "
        + ", ".join(str(p) for p in paths)
    ]
    html = render_page(title, facts, sections)
    plots: list[tuple[str, bytes]] = []
    for number, section in enumerate(sections, start=1):
        for plot in section.plots():
            plots.append((f"{number:02d}-{len(plots) + 1:02d}-{slug(plot.name)}.png", plot.png))
    return Report(html, plots, title)


def write_report(report: Report, out: str | Path, png_dir: str | Path | None = None) -> list[Path]:
    """Write the page (and each plot as PNG under ``png_dir``), each file atomically.

    Returns:
        The paths written, the page first.

    Raises:
        ReportInputError: ``out``'s directory or ``png_dir``'s parent does not exist.

    """
    check_outputs(out, png_dir)
    out = Path(out)
    written = []
    if png_dir is not None:
        png_dir = Path(png_dir)
        png_dir.mkdir(exist_ok=True)
        for name, data in report.plots:
            written.append(_write_atomic(png_dir / name, data))
    written.insert(0, _write_atomic(out, report.html.encode("utf-8")))
    return written


def check_outputs(out: str | Path, png_dir: str | Path | None = None) -> None:
    """Refuse outputs that cannot be written, before any work is done.

    Raises:
        ReportInputError: ``out`` is a directory or its directory does not exist, or
            ``png_dir`` is a file or neither it nor its parent exists.

    """
    out = Path(out)
    if out.is_dir():
        raise ReportInputError(out, "is a directory; give the HTML file to write", argument="-o")
    if not out.parent.is_dir():
        raise ReportInputError(out, "its directory does not exist", argument="-o")
    if png_dir is not None:
        png_dir = Path(png_dir)
        if png_dir.exists() and not png_dir.is_dir():
            raise ReportInputError(png_dir, "is not a directory", argument="--png")
        if not png_dir.is_dir() and not png_dir.parent.is_dir():
            raise ReportInputError(png_dir, "neither it nor its parent exists", argument="--png")


def _version() -> str:
    try:
        return metadata.version("fleetsim")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _write_atomic(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
