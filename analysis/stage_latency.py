"""Per-stage latency of pipelines: how long each stage of each route took, exactly.

A stage's latency is ``finish_s - entered_s`` of a ``stages.parquet`` row: from reaching the
stage (its first arrival, for the first stage) to leaving it, retries within the stage
included. Counted over the stages served after the warm-up (status ``passed``, or ``ok``
at the last stage), per stage of each pipeline; the percentiles are exact, by the two
passes of ``analysis.quantiles.GroupedPercentiles``. The run's summary (``stages``) and
``summarize_trace`` both compute them with this class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq

from analysis.quantiles import GroupedPercentiles

if TYPE_CHECKING:
    import pandas as pd

PERCENTILES = (50.0, 90.0, 99.0)
"""The stage latency percentiles reported (%)."""


class StageLatencies:
    """Count, mean and exact percentiles of each stage's latency (s), in two passes.

    Args:
        stages: Per stage (a *hop* of ``sim.engine.routes``): (route, position in the
            route from 0, model). Only routes of several stages are reported.

    """

    def __init__(self, stages: list[tuple[str, int, str]]) -> None:
        self.stages = stages
        self.count = np.zeros(len(stages), dtype=np.int64)
        self.total_s = np.zeros(len(stages))
        self._latency = GroupedPercentiles(len(stages))

    def add(self, stage: np.ndarray, latency_s: np.ndarray) -> None:
        """Pass 1: stage latencies (s) of served, measured stage rows, with their stage."""
        stage = np.asarray(stage, dtype=np.int64)
        latency_s = np.asarray(latency_s, dtype=float)
        self.count += np.bincount(stage, minlength=len(self.stages))
        self.total_s += np.bincount(stage, weights=latency_s, minlength=len(self.stages))
        self._latency.add(stage, latency_s)

    def needs_second_pass(self) -> bool:
        """Whether the exact percentiles need the latencies again (``keep``)."""
        return self._latency.plan_second_pass(PERCENTILES)

    def keep(self, stage: np.ndarray, latency_s: np.ndarray) -> None:
        """Pass 2: the same rows as pass 1, in any pieces."""
        self._latency.keep(np.asarray(stage, dtype=np.int64), np.asarray(latency_s, dtype=float))

    def result(self) -> list[dict[str, Any]]:
        """Per stage of each pipeline: route, stage, model, stages served, latency figures."""
        pipelines = {route for route, position, _ in self.stages if position > 0}
        quantiles = self._latency.percentiles(PERCENTILES)
        out = []
        for k, (route, position, model) in enumerate(self.stages):
            if route not in pipelines:
                continue
            n = int(self.count[k])
            p50, p90, p99 = (float(v) for v in quantiles[k])
            out.append({
                "route": route, "stage": position, "model": model, "served": n,
                "latency_mean_s": float(self.total_s[k] / n) if n else float("nan"),
                "latency_p50_s": p50, "latency_p90_s": p90, "latency_p99_s": p99,
            })  # fmt: skip
        return sorted(out, key=lambda s: (s["route"], s["stage"]))


def served_rows(
    status: np.ndarray, passed: int | str, ok: int | str, warmup: np.ndarray
) -> np.ndarray:
    """The stage rows whose latency counts: passed on, or served at the last stage, measured."""
    return ((status == passed) | (status == ok)) & ~np.asarray(warmup, dtype=bool)


STAGES_META = "fleetsim.stages"
"""Key of ``stages.parquet``'s metadata: JSON list of [route, stage, model] per hop."""


def stage_latencies_of(path: str | Path) -> list[dict[str, Any]]:
    """``StageLatencies.result`` from a ``stages.parquet`` file, a row group at a time."""
    parquet = pq.ParquetFile(path)
    labels = [tuple(x) for x in json.loads(parquet.schema_arrow.metadata[STAGES_META.encode()])]
    hop_of = {(route, stage): k for k, (route, stage, _model) in enumerate(labels)}
    columns = ["route", "stage", "status", "warmup", "entered_s", "finish_s"]

    def rows(i: int) -> tuple[np.ndarray, np.ndarray]:
        table = parquet.read_row_group(i, columns=columns)
        status = table.column("status").combine_chunks()
        names = np.asarray(status.dictionary.to_pylist(), dtype=object)
        keep = served_rows(names[status.indices.to_numpy()], "passed", "ok",
                           table.column("warmup").to_numpy(zero_copy_only=False))  # fmt: skip
        route = table.column("route").combine_chunks()
        route_names = route.dictionary.to_pylist()
        key = route.indices.to_numpy().astype(np.int64) * 64 + table.column("stage").to_numpy()
        unique, inverse = np.unique(key[keep], return_inverse=True)
        lookup = np.array(
            [hop_of[(route_names[int(u) // 64], int(u) % 64)] for u in unique], dtype=np.int64
        )
        latency = table.column("finish_s").to_numpy() - table.column("entered_s").to_numpy()
        return lookup[inverse], latency[keep]

    result = StageLatencies(labels)
    for i in range(parquet.num_row_groups):
        result.add(*rows(i))
    if result.needs_second_pass():
        for i in range(parquet.num_row_groups):
            result.keep(*rows(i))
    return result.result()


def stage_latencies_of_frame(stages: pd.DataFrame) -> list[dict[str, Any]]:
    """``StageLatencies.result`` from ``stages.parquet`` rows loaded in pandas."""
    status = stages["status"].astype(str).to_numpy()
    rows = stages[served_rows(status, "passed", "ok", stages["warmup"].to_numpy(dtype=bool))]
    keys = list(zip(rows["route"].astype(str), rows["stage"].astype(int),
                    rows["model"].astype(str), strict=True))  # fmt: skip
    labels = sorted(set(zip(stages["route"].astype(str), stages["stage"].astype(int),
                            stages["model"].astype(str), strict=True)))  # fmt: skip
    index = {label: k for k, label in enumerate(labels)}
    codes = np.array([index[key] for key in keys], dtype=np.int64)
    latency = (rows["finish_s"] - rows["entered_s"]).to_numpy(dtype=float)
    result = StageLatencies(labels)
    result.add(codes, latency)
    if result.needs_second_pass():
        result.keep(codes, latency)
    return result.result()
