"""Progress of a long run on standard error: a bar on a terminal, plain lines elsewhere.

A run reports its progress as a fraction of its whole work - the simulation, then the
summary pass over the trace (``sim.run`` weighs the two by their estimates). Nothing shows
for the first couple of seconds, so short runs stay quiet.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from sim.sweep.runner import SweepProgress

PROGRESS_AFTER_S = 2.0  # nothing shows before this (s of wall time)
LINE_EVERY_S = 10.0  # without a terminal: one line this often (s of wall time)


class LazyProgress:
    """Shows a run's progress once it has taken more than ``PROGRESS_AFTER_S``.

    Args:
        label: What runs (the scenario's name).
        enabled: False for ``--quiet``.
        stream: Where to show it (standard error); a bar if it is a terminal, else a line
            every ``LINE_EVERY_S``.

    """

    def __init__(self, label: str, enabled: bool, stream: TextIO | None = None) -> None:
        self.label = label
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = self.stream.isatty()
        self.started = time.perf_counter()
        self.bar: Progress | None = None
        self.task = None
        self.last_line_s = -float("inf")

    def __call__(self, fraction: float, phase: str = "simulating") -> None:
        """Show ``fraction`` (0..1) of the run's work done, in ``phase``."""
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        if elapsed < PROGRESS_AFTER_S:
            return
        if not self.terminal:
            if elapsed - self.last_line_s >= LINE_EVERY_S or fraction >= 1.0:
                self.last_line_s = elapsed
                self.stream.write(
                    f"fleetsim: {self.label}: {fraction:6.1%} ({phase}), {elapsed:.0f} s\n"
                )
                self.stream.flush()
            return
        if self.bar is None:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                TextColumn("{task.fields[phase]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=1.0, phase=phase)
        self.bar.update(self.task, completed=fraction, phase=phase)

    def close(self) -> None:
        """Remove the bar (it is transient)."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class SweepDisplay:
    """A sweep's progress on standard error: points done / running / failed, and an ETA.

    A bar on a terminal; elsewhere a plain line every ``LINE_EVERY_S`` and at the end.

    Args:
        label: The sweep's name.
        enabled: False for ``--quiet``.
        stream: Where to show it (standard error by default).

    """

    def __init__(self, label: str, enabled: bool, stream: TextIO | None = None) -> None:
        self.label = label
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = self.stream.isatty()
        self.bar: Progress | None = None
        self.task = None
        self.last_line_s = -float("inf")

    def __call__(self, state: SweepProgress) -> None:
        """Show where the sweep is."""
        if not self.enabled:
            return
        total, done, failed, eta = state.total, state.done, state.failed, state.eta_s
        text = f"{done}/{total} done, {state.running} running, {failed} failed"
        if not self.terminal:
            now = time.perf_counter()
            if now - self.last_line_s >= LINE_EVERY_S or done + failed == total:
                self.last_line_s = now
                left = f", eta {_clock(eta)}" if eta is not None and done + failed < total else ""
                self.stream.write(f"fleetsim: {self.label}: {text}{left}\n")
                self.stream.flush()
            return
        if self.bar is None:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                TextColumn("eta {task.fields[eta]}"),
                console=Console(file=self.stream),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=total, counts=text, eta="-")
        self.bar.update(
            self.task,
            completed=done + failed,
            counts=text,
            eta=_clock(eta) if eta is not None else "-",
        )

    def close(self) -> None:
        """Remove the bar (it is transient)."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def _clock(seconds: float) -> str:
    """``1:02:03`` or ``2:03`` for a duration in seconds."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
