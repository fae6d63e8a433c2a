"""Reading a scenario file in-process: capped at one byte over the limit, pipes read whole,
a FIFO without a writer never blocks, and unreadable files are one exact message."""

from __future__ import annotations

import os
import threading
import time

import pytest

from sim.scenario.errors import ScenarioError
from sim.scenario.loading import read_scenario_text
from sim.scenario.yaml_text import MAX_DOCUMENT_BYTES


def in_thread(function, timeout_s: float = 5.0):
    """Run ``function`` in a daemon thread; (finished, result or exception)."""
    out: dict = {}

    def target():
        try:
            out["value"] = function()
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            out["value"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return not thread.is_alive(), out.get("value"), thread


def test_the_read_stops_one_byte_past_the_cap(tmp_path):
    """A file of exactly the cap is read whole; a longer one is read to one byte over the cap
    (enough to refuse it), never further."""
    exact = tmp_path / "exact.yaml"
    exact.write_bytes(b"#" * MAX_DOCUMENT_BYTES)
    assert len(read_scenario_text(exact)) == MAX_DOCUMENT_BYTES
    over = tmp_path / "over.yaml"
    over.write_bytes(b"#" * (MAX_DOCUMENT_BYTES + 10))
    assert len(read_scenario_text(over)) == MAX_DOCUMENT_BYTES + 1


def test_a_fifo_without_a_writer_reads_as_empty_at_once(tmp_path):
    """Opening a FIFO nobody writes to would block forever; it reads as an empty document."""
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    finished, value, thread = in_thread(lambda: read_scenario_text(fifo))
    if not finished:  # unblock the stuck reader so the thread can end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5.0)
    assert finished and value == ""


def test_a_pipe_whose_writer_is_slow_is_read_whole(tmp_path):
    """A scenario piped in (``cat s.yaml | fleetsim validate /dev/stdin``) is read to its end
    even when the writer has not written yet when the read starts."""
    read_end, write_end = os.pipe()

    def slow_writer():
        time.sleep(0.2)
        os.write(write_end, b"name: piped\n")
        os.close(write_end)

    writer = threading.Thread(target=slow_writer, daemon=True)
    writer.start()
    try:
        finished, value, _ = in_thread(lambda: read_scenario_text(f"/proc/self/fd/{read_end}"))
    finally:
        writer.join(5.0)
        os.close(read_end)
    assert finished and value == "name: piped\n"


@pytest.mark.parametrize(
    "make,reason",
    [
        (lambda d: d / "missing.yaml", "No such file or directory"),
        (lambda d: d, "Is a directory"),
        (lambda d: str(d / "a\0b.yaml"), "embedded null byte"),
    ],
    ids=["missing", "directory", "nul"],
)
def test_an_unreadable_file_is_one_exact_problem(tmp_path, make, reason):
    """The reason, without errno noise, at ``<file>`` of the named source."""
    path = make(tmp_path)
    with pytest.raises(ScenarioError) as error:
        read_scenario_text(path)
    assert error.value.problems == [("<file>", f"cannot read the file: {reason}", None)]
    assert error.value.source == str(path)


def test_a_file_that_is_not_utf8_names_the_byte(tmp_path):
    """The 1-based position of the first byte that is not UTF-8."""
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ScenarioError) as error:
        read_scenario_text(path)
    assert str(error.value) == f"{path}: <file>: cannot read the file: not UTF-8 text (byte 10)"
