"""``python -m hardware.calibration [--dry-run] [--no-holdout]``: refit the NeuronCore model.

Fits the NeuronCore timing model on the published Neuron benchmarks
(:mod:`hardware.calibration.neuroncore_fit`), writes ``hardware/data/calibrated_parameters.csv``
(unless ``--dry-run``) and prints the error report (:mod:`hardware.calibration.error_report`).
The GPU model has its own fit: ``python -m hardware.calibration.gpu_fit``.
"""

from __future__ import annotations

import argparse
import warnings

from hardware.calibration.benchmarks import interpret, load_published
from hardware.calibration.error_report import report
from hardware.calibration.neuroncore_fit import fit, write_parameters


def main(argv: list[str] | None = None) -> int:
    """Fit, write ``calibrated_parameters.csv`` and print the error report.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        Exit code (0).

    """
    parser = argparse.ArgumentParser(prog="python -m hardware.calibration", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="fit and report, write nothing")
    parser.add_argument(
        "--no-holdout", action="store_true", help="skip the leave-one-family-out fits"
    )
    args = parser.parse_args(argv)
    rows = load_published()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info = interpret(rows)
        fitted = fit(rows, info)
        if not args.dry_run:
            print(f"wrote {write_parameters(fitted)}")
        params = {g: p for g, (p, _) in fitted.items()}
        print(report(rows, info, params, holdout=not args.no_holdout))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
