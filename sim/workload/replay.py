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

from sim.scenario.base import Config
from sim.scenario.datafiles import read_table, resolve_path

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
        raw = df["arrival_s"]
        if raw.dtype.kind not in "fiu":
            numeric = np.asarray(
                [_to_float(v) for v in raw.tolist()], dtype=float
            )  # strings become NaN and are reported below
        else:
            numeric = raw.to_numpy(dtype=float)
        _require(~np.isfinite(numeric), self.path, "arrival_s", numeric, "is not a number")
        _require(numeric < 0, self.path, "arrival_s", numeric, "is negative")
        if numeric.size > 1:
            decreasing = np.concatenate(([False], np.diff(numeric) < 0))
            _require(decreasing, self.path, "arrival_s", numeric, "is earlier than the row before")
        models = None
        if "model" in df.columns:
            models = df["model"].astype(object).to_numpy()
            empty = np.array([not isinstance(m, str) or not m.strip() for m in models])
            _require(empty, self.path, "model", models, "is not a model name")
        seq_lens = None
        if "seq_len" in df.columns:
            seq = df["seq_len"].to_numpy(dtype=float, na_value=np.nan)
            bad = ~np.isfinite(seq) | (seq < 1) | (seq != np.round(seq))
            _require(bad, self.path, "seq_len", seq, "is not a positive integer")
            seq_lens = seq.astype(np.int64)
        return TraceData(numeric * self.time_scale, models, seq_lens)


def _to_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def _require(bad: np.ndarray, path: str, column: str, values: np.ndarray, what: str) -> None:
    if bad.any():
        row = int(np.argmax(bad))
        value = values[row].item() if hasattr(values[row], "item") else values[row]
        raise ValueError(f"{path}: data row {row + 1}: {column} = {value!r} {what}")
