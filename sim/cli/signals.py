"""Termination signals as exceptions, so a command unwinds and removes what it staged."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like an interrupt, so staged output is removed."""

    def __init__(self, signum: int) -> None:
        # args stay (signum,): SimPy re-raises an exception from a process as
        # ``type(exc)(*exc.args)``, so the constructor must accept its own args
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"terminated ({signal.Signals(self.signum).name})"


@contextmanager
def terminated_as_exception() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``Terminated`` (in the main thread)."""

    def handler(signum: int, frame: object) -> None:
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
