"""``run_claims``: evaluate every claim of a claims file and write the table.

::

    from sim.claims.runner import run_claims
    result = run_claims(out="runs/claims", quick=True)
    print([row["verdict"] for row in result.rows])
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hardware
from sim import __version__
from sim.claims.evaluation import ClaimResult, evaluate
from sim.claims.report import claim_rows, claims_markdown, write_markdown, write_parquet
from sim.claims.sides import RunOptions
from sim.claims.spec import load_claims
from sim.sweep.runner import SweepProgress

DEFAULT_CLAIMS = Path(__file__).resolve().parents[2] / "scenarios" / "claims" / "claims.yaml"
CLAIMS_MARKDOWN = "claims.md"
CLAIMS_PARQUET = "claims.parquet"
QUICK_REPLICATIONS = 2
FULL_REPLICATIONS = 3


@dataclass
class ClaimsRun:
    """A finished claims table.

    Attributes:
        rows: One per claim (``sim.claims.report.claim_rows``).
        results: Each claim's evaluation.
        out_dir: Where ``claims.md``, ``claims.parquet`` and the plans are.
        files: What was written.
        wall_s: Time it took (s).

    """

    rows: list[dict[str, Any]]
    results: list[ClaimResult]
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    wall_s: float = 0.0


def run_claims(
    claims_file: str | Path = DEFAULT_CLAIMS,
    out: str | Path = Path("runs") / "claims",
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    quick: bool = False,
    command: str = "fleetsim claims",
    on_claim: Callable[[str], None] | None = None,
    progress: Callable[[SweepProgress], None] | None = None,
) -> ClaimsRun:
    """Evaluate every claim and write ``claims.md`` and ``claims.parquet`` into ``out``.

    Args:
        claims_file: The claims file (default: the repository's ``scenarios/claims``).
        out: The output directory; each side's plan is kept under ``plans/`` and re-used by
            the next run.
        scheduler: An existing Dask scheduler's address (default: a local cluster).
        workers: Local worker processes (default: one per core).
        quick: 3 s runs, 2 replications, the first candidate of each side (for tests).
        command: The command line, recorded in ``claims.md``.
        on_claim: Called with each claim's id as it starts.
        progress: Called as simulation tasks end.

    Raises:
        ScenarioError: the claims file or a scenario is not valid (nothing written).
        OutputExistsError, OutputBusyError, ClusterError: as for ``sim.planning.run_plan``.

    """
    started = time.monotonic()
    claims, scenarios = load_claims(claims_file)
    claims_dir = Path(claims_file).parent
    out_dir = Path(out)
    replications = QUICK_REPLICATIONS if quick else FULL_REPLICATIONS
    serial = quick and scheduler is None  # tiny runs: starting a cluster would cost more
    options = RunOptions(replications, quick, scheduler, workers, progress, serial)
    results = []
    for claim in claims.claims:
        if on_claim is not None:
            on_claim(claim.id)
        results.append(evaluate(claim, scenarios, claims_dir, out_dir / "plans", options))
    rows = claim_rows(results)
    wall_s = time.monotonic() - started
    facts = [
        f"claims: {claims_file}; {len(rows)} claims",
        f"fleetsim {__version__}, hardware model {hardware.HARDWARE_MODEL_VERSION}",
        f"{replications} replications per fleet"
        + (" (--quick: 3 s runs, the first candidate of each side)" if quick else ""),
        f"wall time {wall_s:.0f} s",
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [out_dir / CLAIMS_MARKDOWN, out_dir / CLAIMS_PARQUET]
    write_markdown(files[0], claims_markdown(rows, facts, command))
    write_parquet(files[1], rows)
    return ClaimsRun(rows, results, out_dir, files, wall_s)
