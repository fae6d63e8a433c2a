"""Memory and time of ``fleetsim report`` as the trace grows: it should not grow with it.

Runs scenarios/amazon_search.yaml (20,000 requests/s) for several durations, then reports
on each run in a fresh process and prints the trace's rows and size, the report's wall time
and the process's peak resident memory. Not a test: timings on a shared machine are noisy.

    python bench/report_memory.py                  # 10 s, 40 s, 160 s (about 3 million rows)
    python bench/report_memory.py --durations 10s 640s
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "amazon_search.yaml"
DRIVER = """
import json, resource, sys, time
from analysis.report import build_report, write_report
started = time.perf_counter()
report = build_report([sys.argv[1]])
write_report(report, sys.argv[2])
print(json.dumps({"wall_s": time.perf_counter() - started,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "plots": len(report.plots)}))
"""


def main() -> None:
    """Run, report, print a table (and bench/results/report_memory.json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", nargs="+", default=["10s", "40s", "160s"])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for duration in args.durations:
            run = Path(tmp) / duration
            subprocess.run(
                [
                    "fleetsim",
                    "run",
                    str(SCENARIO),
                    "--out",
                    str(run),
                    "--duration",
                    duration,
                    "--quiet",
                ],
                check=True,
                capture_output=True,
            )
            trace = run / "requests.parquet"
            out = subprocess.run(
                [sys.executable, "-c", DRIVER, str(run), str(Path(tmp) / f"{duration}.html")],
                check=True,
                capture_output=True,
                text=True,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(
                {
                    "duration": duration,
                    "rows": pq.ParquetFile(trace).metadata.num_rows,
                    "trace_mb": trace.stat().st_size / 2**20,
                    **result,
                }
            )
            row = rows[-1]
            print(
                f"{duration:>6}: {row['rows']:>10,} rows, {row['trace_mb']:7.1f} MB trace -> "
                f"report in {row['wall_s']:6.1f} s, peak RSS {row['peak_rss_mb']:7.1f} MB"
            )
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "report_memory.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
