"""Stopping a run safely: the background row-group writer and signals raised anywhere.

A signal handler raises in the main thread at any bytecode, even inside ``Thread.join``
(after which CPython 3.11 may think a running thread has stopped) or inside a library that
wraps the exception in its own. ``sim.engine.background_writer`` must never close the file
under a row group being written, and ``terminated_as_exception`` must report the signal.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from sim.cli.signals import Terminated, terminated_as_exception
from sim.engine.background_writer import BackgroundWriter


class SlowWriter:
    """A Parquet writer stand-in: each write takes ``seconds``; it logs what happens."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.log: list[str] = []
        self.started = threading.Event()

    def write_table(self, table, row_group_size: int) -> None:
        self.log.append(f"write {table}")
        self.started.set()
        time.sleep(self.seconds)
        self.log.append(f"written {table}")

    def close(self) -> None:
        self.log.append("close")


def test_abort_waits_for_the_row_group_being_written_and_writes_no_more():
    writer = SlowWriter(0.3)
    background = BackgroundWriter(writer, 10)
    background.submit("a")
    writer.started.wait(5)
    background._writing = None  # as if a signal interrupted submit: no future to wait on
    background._pool.submit(background._write, "b")  # queued behind "a"
    background.abort()
    assert writer.log == ["write a", "written a", "close"]
    time.sleep(0.05)
    assert writer.log == ["write a", "written a", "close"]  # "b" never wrote


def test_abort_waits_through_an_interruption():
    """A second signal while abort waits is waited through: the file still closes last."""
    writer = SlowWriter(0.4)
    background = BackgroundWriter(writer, 10)
    background.submit("a")
    writer.started.wait(5)

    def handler(signum, frame):
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGTERM)).start()
        background.abort()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert writer.log == ["write a", "written a", "close"]


def test_a_signal_wrapped_by_a_library_still_reads_as_the_signal():
    def library_call():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler raises here
        except Terminated as exc:
            raise TypeError("expected str, bytes or os.PathLike object") from exc

    with pytest.raises(Terminated) as info, terminated_as_exception():
        library_call()
    assert str(info.value) == "terminated (SIGTERM)"


def test_other_errors_pass_through_without_a_signal():
    with pytest.raises(TypeError), terminated_as_exception():
        raise TypeError("a real bug")
