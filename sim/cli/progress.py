"""A progress bar for long runs, on standard error."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

PROGRESS_AFTER_S = 2.0


class LazyProgress:
    """A progress bar that appears only once a run has taken more than a couple of seconds."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.started = time.perf_counter()
        self.bar: Progress | None = None
        self.task = None

    def __call__(self, fraction: float) -> None:
        """Show ``fraction`` (0..1) of simulated time done, once the delay has passed."""
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.started < PROGRESS_AFTER_S:
                return
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}% of simulated time"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=1.0)
        self.bar.update(self.task, completed=fraction)

    def close(self) -> None:
        """Remove the bar (it is transient)."""
        if self.bar is not None:
            self.bar.stop()
