"""A run's summary is accumulated as its trace is written, not read back from the file.

It must still be exactly what ``analysis.summarize_trace`` computes from the file (the
numbers a user recomputes), in every trace mode and on both engines; and a run must not
import pandas, which it never uses (a quarter of a second of every run's start).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from helpers import ENGINES, ROOT, same, scenario

import analysis
import sim
import sim.engine.trace_writer as trace_writer
from analysis.metrics import SUMMARY_KEYS

# Two pools (one synthetic, exponential: every latency distinct, so the exact percentiles
# need their second pass), a warm-up, a queue limit that drops, requests left in flight.
BUSY = {
    "name": "busy",
    "seed": 11,
    "duration": "3s",
    "warmup": "500ms",
    "workload": {
        "arrivals": {"kind": "poisson", "rate": 9000},
        "mix": [
            {
                "model": "bert-base",
                "weight": 3,
                "seq_len": {"kind": "uniform", "low": 16, "high": 128},
            },
            {"model": "resnet-50", "weight": 1},
        ],
    },
    "fleet": [
        {
            "name": "text",
            "instance": "inf2.xlarge",
            "count": 2,
            "model": "bert-base",
            "batching": {"max_batch": 8, "max_wait": "2ms"},
            "queue_limit": 40,
        },
        {
            "name": "vision",
            "instance": "inf2.xlarge",
            "count": 1,
            "model": "resnet-50",
            "service": {"kind": "exponential", "mean": "1ms"},
            "batching": {"max_batch": 1, "max_wait": "0s"},
        },
    ],
    "slo": {"percentile": 99, "target": "15ms"},
}


@ENGINES
def test_the_summary_is_the_one_read_back_from_the_trace(tmp_path, monkeypatch, engine):
    """Small row groups (997 rows) so the run's pieces and the file's groups are many."""
    monkeypatch.setattr(trace_writer, "ROWS_PER_GROUP", 997)
    result = sim.run(scenario(BUSY), tmp_path / "out", engine=engine)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["dropped"] > 0 and summary["in_flight"] > 0  # the cases are exercised
    reread = analysis.summarize_trace(result.trace_path)
    for key in SUMMARY_KEYS:
        assert same(summary[key], reread[key]), (key, summary[key], reread[key])
    whole = analysis.summarize(analysis.load_trace(result.trace_path))  # one chunk
    for key in SUMMARY_KEYS:
        if isinstance(whole[key], float) and not math.isnan(whole[key]):
            assert summary[key] == pytest.approx(whole[key], rel=1e-12), key
        elif key in ("utilisation", "host_utilisation", "padding_waste"):  # sums per pool
            for pool, value in summary[key].items():
                assert value == pytest.approx(whole[key][pool], rel=1e-12, nan_ok=True), key
        else:
            assert same(summary[key], whole[key]), key


@pytest.mark.parametrize("trace", ["sample", "summary"])
def test_every_trace_mode_gives_the_full_runs_summary(tmp_path, trace):
    full = sim.run(scenario(BUSY), tmp_path / "full").summary
    other = sim.run(scenario(BUSY), tmp_path / trace, trace=trace).summary
    for key in SUMMARY_KEYS:
        assert same(other[key], full[key]), (key, other[key], full[key])


def test_the_spilled_latencies_are_removed(tmp_path):
    """The second pass's spill file lives beside the trace only while the run does."""
    sim.run(scenario(BUSY), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "instances.parquet",
        "requests.parquet",
        "summary.json",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_run_does_not_import_pandas(tmp_path):
    """pandas is for analysis: importing it would cost every run (and sweep point) ~0.25 s."""
    code = (
        "import sys, sim;"
        f"sim.run({str(ROOT / 'scenarios' / 'alexa.yaml')!r}, {str(tmp_path / 'out')!r},"
        " duration='11s');"
        "assert 'pandas' not in sys.modules, 'pandas was imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
