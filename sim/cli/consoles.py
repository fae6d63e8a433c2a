"""Where the commands write: standard output and error, and how writing them can fail.

Standard output that cannot be written ends the command with a documented exit code and one
line on standard error, never a traceback: 141 (128 + SIGPIPE) when the reader closed the
pipe (``fleetsim ... | head``), 74 (sysexits' EX_IOERR) otherwise (a full disk). A message
that cannot be written to standard error is dropped: the exit code still says what happened.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console
from rich.markup import escape

EXIT_IO_ERROR = 74  # sysexits.h EX_IOERR: the output could not be written
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE


class StdoutFailed(Exception):
    """Standard output could not be written (the OSError is the cause)."""


class _Stdout(Console):
    """Rich's console on standard output, failing in the documented way."""

    def on_broken_pipe(self) -> None:
        """The reader closed the pipe: end quietly, as a shell pipeline expects."""
        self.quiet = True
        silence_stdout()
        raise SystemExit(EXIT_BROKEN_PIPE)

    def print(self, *args: object, **kwargs: object) -> None:
        """Print, turning a failed write into ``StdoutFailed``."""
        try:
            super().print(*args, **kwargs)  # type: ignore[arg-type]
        except OSError as exc:
            raise StdoutFailed(exc.strerror or str(exc)) from exc


class _Stderr(Console):
    """Rich's console on standard error; a failed write is dropped."""

    def print(self, *args: object, **kwargs: object) -> None:
        """Print, if standard error can take it."""
        try:
            super().print(*args, **kwargs)  # type: ignore[arg-type]
        except OSError:
            pass


def stdout(**options: object) -> Console:
    """A console on standard output (rich options pass through)."""
    return _Stdout(**options)  # type: ignore[arg-type]


def wide_stdout() -> Console:
    """Standard output for wide tables: the terminal's width, or 120 columns elsewhere.

    A file or a pipe has no width to fit; rich would otherwise assume 80.
    """
    return stdout() if sys.stdout.isatty() else stdout(width=120)


def stderr(**options: object) -> Console:
    """A console on standard error (rich options pass through)."""
    return _Stderr(stderr=True, **options)  # type: ignore[arg-type]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` (as written: no markup) on standard error; the exit to raise."""
    stderr().print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def silence_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's final flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
