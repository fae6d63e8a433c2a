"""Termination signals as exceptions, so a command unwinds and removes what it staged."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


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
    """Within the block, SIGTERM and SIGHUP raise ``Terminated`` (in the main thread).

    The handler raises at whatever bytecode the main thread is at, which may be inside a
    library that turns the exception into its own (pydantic's serialisation error, numpy's
    TypeError from ``tofile``): after a signal, whatever leaves the block is ``Terminated``,
    so the exit code and message are the signal's.
    """
    received: list[int] = []

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    except Terminated:
        raise
    except BaseException as exc:
        if received:  # a library wrapped the handler's Terminated in an error of its own
            raise Terminated(received[0]) from exc
        raise
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextmanager
def sweep_job_exits(display: Any, what: str, interrupted: Callable[[str], str]) -> Iterator[None]:
    """Run a sweep-like job (sweep, plan, claims) with its errors mapped to exits.

    A bad input or a busy or unreachable output is exit 2, a write error exit 74, an
    interrupt 130 and SIGTERM/SIGHUP 128 + the signal, each one line without a traceback;
    the progress display is closed however the block ends.

    Args:
        display: The progress display (has ``close()``).
        what: What could not be written, for the I/O message (e.g. ``"the plan"``).
        interrupted: The message for an interrupt, from why it stopped (``"interrupted"``,
            ``"terminated (SIGTERM)"``): what was kept and how to continue.

    """
    from sim.cli.consoles import EXIT_IO_ERROR, fail
    from sim.engine.estimate import RunRefused
    from sim.engine.output import OutputExistsError
    from sim.scenario.errors import ScenarioError
    from sim.sweep.executors import ClusterError

    try:
        with terminated_as_exception():
            yield
    except (ScenarioError, OutputExistsError, RunRefused, ClusterError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        message = f"could not write {what}: {exc.strerror or exc}"
        raise fail(message, code=EXIT_IO_ERROR) from None
    except KeyboardInterrupt:
        display.close()
        raise fail(interrupted("interrupted"), code=130) from None
    except Terminated as exc:
        display.close()
        raise fail(interrupted(str(exc)), code=128 + exc.signum) from None
    finally:
        display.close()
