"""Every final status is counted, and only ``ok`` succeeds: a hand-made trace with all five
statuses and retries, through the summary, the SLO, the batch counts and the readers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from handmade import frame, info, write_trace

import analysis
from analysis.estimates import batch_counts
from analysis.outcomes import masks_of, slo_counts
from analysis.schema import ATTEMPTS, FAILED, STATUSES, TIMED_OUT
from analysis.sources import open_source

NAN = float("nan")


def seven_requests() -> pd.DataFrame:
    """10 s, warm-up 1 s, target 1 s; r0 in warm-up. After it: two ok (0.5 s met, 1.5 s
    missed), a timed-out one served late, a timed-out one never served, a failed one, a drop
    and one in flight for 0.5 s at the end (younger than the target: outcome unknown)."""
    df = frame(
        info(duration_s=10.0, warmup_s=1.0, target_s=1.0),
        arrival_s=[0.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 9.5],
        latency_s=[0.1, 0.5, 1.5, NAN, NAN, NAN, NAN, NAN],
        status=["ok", "ok", "ok", "timed_out", "timed_out", "failed", "dropped", "in_flight"],
        start_s=[0.5, 2.0, 3.0, 5.0, NAN, NAN, NAN, 9.5],
        finish_s=[0.6, 2.5, 4.5, 6.5, NAN, NAN, NAN, NAN],
    )
    df[ATTEMPTS] = np.array([1, 1, 2, 1, 3, 3, 3, 1], dtype=np.int32)
    return df


def test_status_codes_are_append_only():
    """The first three codes keep their meaning; the two new statuses come after them."""
    assert STATUSES[:3] == ("ok", "dropped", "in_flight")
    assert (STATUSES[TIMED_OUT], STATUSES[FAILED]) == ("timed_out", "failed")


def test_summary_counts_every_status_and_the_retries():
    """7 measured requests split 2/1/1/2/1 by status; 4 retried; 14 attempts / 7."""
    s = analysis.summarize(seven_requests())
    counts = [s[k] for k in ("completed", "dropped", "in_flight", "timed_out", "failed")]
    assert counts == [2, 1, 1, 2, 1] and sum(counts) == s["requests"] == 7
    assert s["retried"] == 4
    assert s["attempts_per_request"] == pytest.approx(14 / 7)
    assert s["throughput_per_s"] == pytest.approx(2 / 9)


def test_timeouts_and_failures_are_slo_misses():
    """met = 1 (0.5 s); known = 2 ok + 2 timed out + 1 failed + 1 dropped = 6 (the young
    in-flight request is left out), though one timed-out request has a 2.5 s answer."""
    s = analysis.summarize(seven_requests())
    assert s["slo_attainment"] == pytest.approx(1 / 6)
    df = seven_requests()
    met, known = slo_counts(
        masks_of(df.status), df.latency_s.to_numpy(), df.arrival_s.to_numpy(), 1.0, 10.0
    )
    assert (met, known) == (2, 7)  # with the warm-up request
    assert analysis.slo_attainment(df.status.astype(str).to_numpy(), df.latency_s.to_numpy(),
                                   df.arrival_s.to_numpy(), 1.0, 10.0) == (2, 7)  # fmt: skip


def test_batch_counts_know_timeouts_and_failures():
    """Two batches of 4.5 s: [1, 5.5) holds r1..r4, [5.5, 10) r5..r7."""
    counts = batch_counts(open_source(seven_requests()), 2)
    assert counts.completed.tolist() == [2, 0]
    assert counts.met.tolist() == [1, 0]
    assert counts.known.tolist() == [4, 2]


def test_an_unknown_status_is_an_error_naming_it():
    """A status no fleetsim writes is not silently left out of the counts."""
    df = seven_requests()
    df["status"] = df.status.cat.add_categories(["lost"])
    df.loc[3, "status"] = "lost"
    with pytest.raises(ValueError, match="unknown request status 'lost'"):
        analysis.summarize(df)


def test_a_trace_without_attempts_reads_as_one_attempt_each(tmp_path):
    """Old traces: load_trace adds attempts = 1; the summary counts no retries."""
    df = seven_requests().drop(columns=[ATTEMPTS])
    path = write_trace(tmp_path / "requests.parquet", df)
    assert ATTEMPTS not in pq.read_schema(path).names
    loaded = analysis.load_trace(path)
    assert loaded[ATTEMPTS].tolist() == [1] * 8 and loaded[ATTEMPTS].dtype == np.int32
    assert analysis.load_trace(path, columns=[ATTEMPTS, "status"]).columns.tolist() == [
        ATTEMPTS, "status"]  # fmt: skip
    s = analysis.summarize_trace(path)
    assert (s["retried"], s["attempts_per_request"]) == (0, 1.0)
    with_column = write_trace(tmp_path / "new.parquet", seven_requests())
    assert analysis.summarize_trace(with_column)["retried"] == 4
    assert analysis.load_trace(with_column)[ATTEMPTS].tolist()[2] == 2


def test_the_run_table_shows_timeouts_and_failures_only_when_there_are_some():
    """``fleetsim run``'s summary table: rows for time-outs and failures when non-zero."""
    from rich.console import Console

    from sim.cli.tables import summary_table

    def text(summary):
        console = Console(width=200, record=True)
        console.print(summary_table("run", summary, []))
        return console.export_text()

    s = analysis.summarize(seven_requests())
    assert "timed out" in text(s) and "failed (lost)" in text(s)
    quiet = dict(s, timed_out=0, failed=0)
    assert "timed out" not in text(quiet) and "failed (lost)" not in text(quiet)
