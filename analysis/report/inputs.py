"""What a report is made from: the paths given to it, resolved to runs and sweeps.

A path may be a run directory (``summary.json`` and, unless it ran with ``trace: summary``,
``requests.parquet``), a ``requests.parquet`` file, a sweep or plan directory
(``sweep.json`` + ``summary.parquet``), or a directory whose immediate subdirectories are
run directories. Anything else is a :class:`ReportInputError` naming the path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from analysis.reader import run_info
from analysis.sweeps import MANIFEST, RUN_SUMMARY, RUN_TRACE, is_sweep_dir, load_sweep, manifest

READ_ERRORS = (OSError, ValueError, KeyError, TypeError, pa.ArrowException)
"""What reading a damaged or foreign file may raise."""


class ReportInputError(ValueError):
    """A path given to the report cannot be used: says which and why."""

    def __init__(self, path: str | Path, problem: str, argument: str = "RUN_DIR") -> None:
        super().__init__(f"{argument} {str(path)!r}: {problem}")
        self.path = str(path)
        self.argument = argument


@dataclass
class RunSource:
    """One run: its summary (``summary.json`` or computed from the trace) and its trace."""

    label: str
    path: Path
    summary: dict[str, Any]
    trace: Path | None
    run: dict[str, Any] = field(default_factory=dict)  # run facts of the trace (run_info)

    @property
    def projected(self) -> bool:
        """Whether any pool runs projected hardware (Inf3)."""
        return any(p.get("projected") for p in self.summary.get("pools", []))

    @property
    def trace_mode(self) -> str:
        """``full``, ``sample`` or ``summary`` (no trace)."""
        if self.trace is None:
            return "summary"
        return str(self.summary.get("trace", {}).get("mode", "full"))


@dataclass
class SweepSource:
    """A sweep or plan directory: its manifest and its summary rows."""

    label: str
    path: Path
    manifest: dict[str, Any]
    rows: pd.DataFrame


Source = RunSource | SweepSource


def resolve(paths: list[str | Path]) -> list[Source]:
    """The runs and sweeps behind ``paths``, in order, with unique labels.

    Raises:
        ReportInputError: a path is missing or is not a run, trace, sweep or directory of runs.

    """
    if not paths:
        raise ReportInputError("", "give at least one run or sweep directory")
    sources: list[Source] = []
    for given in paths:
        sources += _resolve_one(Path(given))
    _unique_labels(sources)
    return sources


def _resolve_one(path: Path) -> list[Source]:
    if not path.exists():
        raise ReportInputError(path, "no such file or directory")
    if path.is_file():
        if path.suffix != ".parquet":
            raise ReportInputError(path, "a file given must be a requests.parquet trace")
        return [_run_from_trace(path)]
    if is_sweep_dir(path):
        return [_sweep(path)]
    if (path / RUN_SUMMARY).is_file() or (path / RUN_TRACE).is_file():
        return [_run_dir(path)]
    runs = sorted(p for p in path.iterdir() if p.is_dir() and _is_run_dir(p))
    if not runs:
        raise ReportInputError(
            path,
            f"not a run directory (no {RUN_SUMMARY} or {RUN_TRACE}), not a sweep directory "
            f"(no {MANIFEST}) and holds no run directories",
        )
    return [_run_dir(p) for p in runs]


def _is_run_dir(path: Path) -> bool:
    return (path / RUN_SUMMARY).is_file() or (path / RUN_TRACE).is_file()


def _run_dir(path: Path) -> RunSource:
    trace = path / RUN_TRACE
    if not (path / RUN_SUMMARY).is_file():
        return _run_from_trace(trace)
    try:
        summary = json.loads((path / RUN_SUMMARY).read_text(encoding="utf-8"))
        if not isinstance(summary, dict) or "pools" not in summary:
            raise ValueError("it has no pools")
    except READ_ERRORS as exc:
        raise ReportInputError(path, f"unreadable {RUN_SUMMARY} ({exc})") from None
    if not trace.is_file():
        return RunSource(path.resolve().name, path, summary, None)
    return RunSource(path.resolve().name, path, summary, trace, _read_info(trace))


def _read_info(trace: Path) -> dict[str, Any]:
    try:
        return run_info(trace)
    except READ_ERRORS as exc:
        raise ReportInputError(trace, f"unreadable parquet trace ({exc})") from None


def _run_from_trace(trace: Path) -> RunSource:
    """A run known only by its trace: the summary computed from it, streamed."""
    from analysis.trace_summary import summarize_trace

    info = _read_info(trace)
    summary_path = trace.parent / RUN_SUMMARY
    try:
        if summary_path.is_file():
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        else:
            facts = {k: v for k, v in info.items() if k != "scenario_yaml"}
            summary = {**facts, **summarize_trace(trace)}
    except READ_ERRORS as exc:
        raise ReportInputError(trace, f"unreadable parquet trace ({exc})") from None
    label = trace.parent.resolve().name if trace.name == RUN_TRACE else trace.stem
    return RunSource(label, trace, summary, trace, info)


def _sweep(path: Path) -> SweepSource:
    try:
        facts = manifest(path)
        rows = load_sweep(path)
    except READ_ERRORS as exc:
        raise ReportInputError(path, f"unreadable sweep ({exc})") from None
    return SweepSource(str(facts.get("name") or path.resolve().name), path, facts, rows)


def _unique_labels(sources: list[Source]) -> None:
    """Give runs with the same label their parent's name too (``a/alexa``, ``b/alexa``)."""
    seen: dict[str, int] = {}
    for source in sources:
        seen[source.label] = seen.get(source.label, 0) + 1
    for source in sources:
        if seen[source.label] > 1:
            source.label = f"{source.path.resolve().parent.name}/{source.label}"
    counts: dict[str, int] = {}
    for source in sources:  # still equal (the same path twice): number them
        counts[source.label] = counts.get(source.label, 0) + 1
        if counts[source.label] > 1:
            source.label = f"{source.label} ({counts[source.label]})"
