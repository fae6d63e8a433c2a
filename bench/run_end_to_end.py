"""One run end to end: ``fleetsim run`` from process start to exit, against textbook SimPy.

Every sweep point is a run, so a run's fixed costs (start-up, imports, the summary) multiply.
This times the whole command, as a user sees it, on bench case (b) of engine_speed.py (64
inf2.xlarge, power-of-two, dynamic batching up to 8, 128,000 requests/s) for 60 simulated
seconds with the full parquet trace (7.7 million requests), and divides requests by wall
seconds; the baseline is the textbook SimPy M/M/c model measured in this same process.
Each is run ``--repeat`` times, interleaved, and the best kept (noise only slows a run).
Target: at least 30x the textbook rate per request.

    python bench/run_end_to_end.py            # about a minute

Also printed, to show where the time goes: the start-up floor (``fleetsim --version``: the
interpreter and the CLI's imports), and what summarising the written trace from disk
costs (``analysis.summarize_trace``), which a run no longer does: the summary is
accumulated as the trace is written, and is checked here to equal the re-read one.
Writes bench/results/run_end_to_end.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from engine_speed import fleet, textbook_mmc  # noqa: E402

DURATION = "60s"


def fleetsim(*args: str) -> float:
    """Wall seconds of ``fleetsim ARGS`` in a fresh process, from its start to its exit."""
    command = shutil.which("fleetsim") or ""
    argv = [command, *args] if command else [sys.executable, "-m", "sim", *args]
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (best kept)")
    args = parser.parse_args()
    import analysis

    work = Path(tempfile.mkdtemp(prefix="fleetsim-e2e-"))
    try:
        scenario = {**fleet(64, 2000.0, 1), "duration": DURATION}
        path = work / "case_b.yaml"
        path.write_text(yaml.safe_dump(scenario, sort_keys=False))
        out = work / "run"
        textbook, runs, floors = [], [], []
        for round_ in range(args.repeat):
            textbook.append(textbook_mmc(300_000, 2, 1400.0, 1e-3))
            floors.append(fleetsim("--version"))
            runs.append(fleetsim("run", str(path), "--out", str(out), "--force", "--quiet"))
            print(f"round {round_ + 1}: textbook {textbook[-1]:,.0f} req/s, fleetsim run "
                  f"{runs[-1]:.2f} s, start-up {floors[-1]:.2f} s", flush=True)  # fmt: skip
        summary = json.loads((out / "summary.json").read_text())
        trace = out / "requests.parquet"
        requests = analysis.run_info(trace)  # the file's facts; rows counted below
        rows = _rows(trace)
        start = time.perf_counter()
        reread = analysis.summarize_trace(trace)
        reread_s = time.perf_counter() - start
        same = all(
            _same(summary[key], value) for key, value in reread.items()
        )  # the accumulated summary is the re-read one, bit for bit
        trace_bytes = trace.stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = max(textbook)
    best = min(runs)
    rate = rows / best
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "cores": len(os.sched_getaffinity(0)),
        "case": f"(b) for {DURATION}, full trace",
        "requests": rows,
        "textbook_req_per_s": base,
        "fleetsim_run_s": best,
        "fleetsim_run_req_per_s": rate,
        "ratio_to_textbook": rate / base,
        "startup_floor_s": min(floors),
        "summary_reread_s": reread_s,
        "summary_equals_reread": same,
        "trace_bytes": trace_bytes,
        "trace_bytes_per_request": trace_bytes / rows,
        "runs_s": runs,
        "textbook_runs": textbook,
        "hardware_model_version": requests["hardware_model_version"],
    }
    lines = [
        ("textbook SimPy M/M/2 (baseline)", f"{base:,.0f} req/s"),
        (f"fleetsim run, case (b) {DURATION}, full trace",
         f"{best:.2f} s for {rows:,} requests = {rate:,.0f} req/s = "
         f"{rate / base:.1f}x textbook (target >= 30x)"),
        ("  of which start-up (fleetsim --version)", f"{min(floors):.2f} s"),
        ("summarising the trace from disk (avoided)", f"{reread_s:.2f} s"),
        ("run's summary equals the re-read one", "yes" if same else "NO"),
        ("trace on disk", f"{trace_bytes / 1e6:.0f} MB, {trace_bytes / rows:.1f} bytes a request"),
    ]  # fmt: skip
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label:<{width}}  {value}")
    target = ROOT / "bench" / "results" / "run_end_to_end.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {target.relative_to(ROOT)}")
    if not same:
        sys.exit(1)


def _rows(trace: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(trace).metadata.num_rows


def _same(a: object, b: object) -> bool:
    """Equal, NaN equal to NaN (and inside dicts)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return a == b


if __name__ == "__main__":
    main()
