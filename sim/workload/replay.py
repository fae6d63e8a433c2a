"""Trace replay: arrivals (and optionally models and sequence lengths) read from a file.

``arrivals: {kind: trace, path: arrivals.csv, time_scale: 0.5}`` replays the file's
``arrival_s`` column (seconds from the start of the run, multiplied by ``time_scale``: 0.5
replays twice as fast). Optional columns ``model`` and ``seq_len`` give each request's model
and length; where absent they come from the workload's ``mix``. Equal timestamps are
simultaneous arrivals; decreasing, negative or missing timestamps are errors naming the row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from analysis.schema import MAX_SEQ_LEN
from sim.scenario.base import Config
from sim.scenario.datafiles import numbers, read_table, resolve_path

CHUNK = 8192


@dataclass(frozen=True, slots=True)
class TraceData:
    """A validated arrival trace: times (s, scaled) and optional per-request attributes."""

    times_s: np.ndarray
    models: np.ndarray | None
    seq_lens: np.ndarray | None

    def chunks(self, until_s: float) -> Iterator[slice]:
        """Slices of consecutive requests arriving before ``until_s``."""
        end = int(np.searchsorted(self.times_s, until_s, side="left"))
        for start in range(0, end, CHUNK):
            yield slice(start, min(start + CHUNK, end))


class TraceArrivals(Config):
    """Arrivals replayed from a csv or parquet file (path relative to the scenario file)."""

    kind: Literal["trace"]
    path: str
    time_scale: float = Field(default=1.0, gt=0, description="multiplies every arrival_s")
    _data: TraceData | None = PrivateAttr(default=None)  # read once per config value

    @field_validator("path")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        return resolve_path(value, info)

    @model_validator(mode="after")
    def _check_file(self) -> TraceArrivals:
        self.load()
        return self

    @property
    def has_models(self) -> bool:
        """Whether the file names each request's model."""
        return self.load().models is not None

    def load(self) -> TraceData:
        """Read and validate the file.

        Raises:
            ValueError: missing column, or a bad value; the message names the row (1-based,
                header not counted).

        """
        if self._data is None:
            self._data = self._read()
        return self._data

    def _read(self) -> TraceData:
        df = read_table(self.path, ["arrival_s"])
        times = numbers(df, self.path, "arrival_s", what="a time in seconds >= 0", low=0.0)
        if times.size > 1:
            decreasing = np.flatnonzero(np.diff(times) < 0)
            if decreasing.size:
                row = int(decreasing[0]) + 1
                raise ValueError(
                    f"{self.path}: data row {row + 1}: arrival_s = {times[row]!r} is earlier "
                    f"than the row before ({times[row - 1]!r}); sort the file by arrival_s"
                )
        models = None
        if "model" in df.columns:
            models = df["model"].astype(object).to_numpy()
            empty = [i for i, m in enumerate(models) if not isinstance(m, str) or not m.strip()]
            if empty:
                raise ValueError(
                    f"{self.path}: data row {empty[0] + 1}: model = {models[empty[0]]!r}; "
                    "expected a model name"
                )
        seq_lens = None
        if "seq_len" in df.columns:
            seq_lens = numbers(df, self.path, "seq_len", integer=True, low=1, high=MAX_SEQ_LEN,
                               what=f"a whole number of tokens 1..{MAX_SEQ_LEN}")  # fmt: skip
        with np.errstate(over="ignore"):  # an overflow is reported below, with its row
            scaled = times * self.time_scale
        if not np.isfinite(scaled[-1]):
            row = int(np.argmin(np.isfinite(scaled)))
            raise ValueError(
                f"{self.path}: data row {row + 1}: arrival_s = {times[row]!r} times time_scale "
                f"{self.time_scale!r} is not a finite time"
            )
        return TraceData(scaled, models, seq_lens)
