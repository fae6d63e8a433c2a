"""Where a run's requests come from: a trace file, a run directory, or a loaded DataFrame.

The interval, time-series and comparison functions accept any of the three and read the
rows through ``TraceSource.chunks``: a file one row group at a time (bounded memory), a
DataFrame as one chunk. A run directory is what ``fleetsim run --out DIR`` writes
(``requests.parquet`` and ``summary.json``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from analysis.reader import run_info
from analysis.schema import META_SEED
from analysis.sweeps import RUN_SUMMARY, RUN_TRACE, is_sweep_dir

if TYPE_CHECKING:  # pandas is imported where it is used: runs never need it
    import pandas as pd


@dataclass(frozen=True)
class TraceSource:
    """One run's trace, readable in chunks, with its run facts.

    Attributes:
        label: How messages name it (the path, or ``"DataFrame"``).
        info: The run facts (``analysis.run_info``): ``duration_s``, ``warmup_s``,
            ``slo_target_s``, ``pools`` ...
        seed: The scenario seed of the run (None if the trace does not record it).
        path: The trace file, or None for a DataFrame.
        frame: The DataFrame, or None for a file.

    """

    label: str
    info: dict[str, Any]
    seed: int | None
    path: Path | None = None
    frame: pd.DataFrame | None = None

    def columns(self) -> list[str]:
        """The trace's column names."""
        if self.frame is not None:
            return list(self.frame.columns)
        assert self.path is not None
        return list(pq.read_schema(self.path).names)

    def chunks(self, columns: list[str]) -> Iterator[pd.DataFrame]:
        """The rows with ``columns``: one row group at a time from a file, whole from a frame."""
        if self.frame is not None:
            yield self.frame[columns]
            return
        parquet = pq.ParquetFile(self.path)
        for i in range(parquet.num_row_groups):
            yield parquet.read_row_group(i, columns=columns).to_pandas()

    def require_full(self, what: str) -> None:
        """Refuse a sampled trace for counts (``what`` names the metric)."""
        trace = self.info.get("trace", {"mode": "full"})
        if trace.get("mode", "full") != "full":
            raise ValueError(
                f"{self.label}: {what} counts requests, but this trace keeps only a sample "
                f"of them (trace mode {trace.get('mode')!r}, fraction {trace.get('fraction')}); "
                "rerun with --trace full, or use the exact counts in its summary.json"
            )


def trace_file(path: str | Path) -> Path:
    """The trace of a run directory, or ``path`` itself if it is a file.

    Raises:
        FileNotFoundError: nothing there, or a run directory without a trace.
        ValueError: a sweep directory (one source is one run).

    """
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such trace or run directory")
    if is_sweep_dir(path):
        raise ValueError(
            f"{path} is a sweep directory, not one run; give one replication's directory "
            f"(points/point_id=<id>/replication=<r>) or use analysis.load_runs"
        )
    trace = path / RUN_TRACE
    if trace.is_file():
        return trace
    if (path / RUN_SUMMARY).is_file():
        raise FileNotFoundError(
            f"{path}: this run kept no request trace (it ran with --trace summary); "
            f"its metrics without intervals are in {path / RUN_SUMMARY}"
        )
    raise FileNotFoundError(f"{path}: not a run directory (no {RUN_TRACE} or {RUN_SUMMARY})")


def open_source(source: Any) -> TraceSource:
    """A ``TraceSource`` for a trace path, a run directory or a DataFrame from ``load_trace``.

    Raises:
        FileNotFoundError: no trace there (see ``trace_file``).
        ValueError: a DataFrame without its run facts, or a sweep directory.
        TypeError: anything else.

    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        if "fleetsim" not in source.attrs:
            raise ValueError(
                "this DataFrame has no run facts (df.attrs['fleetsim']); load it with "
                "analysis.load_trace(path), which keeps them"
            )
        info = source.attrs["fleetsim"]
        return TraceSource("DataFrame", info, _seed_of_info(info), frame=source)
    if not isinstance(source, str | Path):
        raise TypeError(
            f"expected a trace path, a run directory or a DataFrame, got {type(source).__name__}"
        )
    path = trace_file(source)
    meta = pq.read_schema(path).metadata or {}
    seed = meta.get(META_SEED.encode())
    return TraceSource(str(source), run_info(path), int(seed) if seed is not None else None, path)


def _seed_of_info(info: dict[str, Any]) -> int | None:
    """The seed of a loaded trace: in its scenario text (``seed: N``), if any."""
    for line in info.get("scenario_yaml", "").splitlines():
        if line.startswith("seed:"):
            try:
                return int(json.loads(line.split(":", 1)[1].strip()))
            except ValueError:
                return None
    return None
