"""Row groups written on a background thread, and stopped safely whatever interrupts it.

Compressing and writing a row group takes about half a run's work, and Arrow releases the
GIL while it does, so the trace writer hands each row group to one background thread and
goes on simulating. Row groups are written one at a time, in order.

Stopping is the delicate part. A run is stopped by an exception raised in the main thread
by a signal handler (SIGTERM, SIGINT), at any bytecode, including inside
``Thread.join``: CPython 3.11 then marks the thread stopped while it still runs (the
bpo-45274 handling of an interrupted join), so a later join returns at once and closing the
Parquet writer under a row group still being written crashes the process. This class
therefore does not rely on joins: a job writes only while holding its ``busy`` state under
a condition, a job that starts after ``abort`` writes nothing, and ``abort`` waits on the
condition until no job writes, through any further interruption.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq


class BackgroundWriter:
    """Writes tables to ``writer`` on a background thread, one at a time.

    Args:
        writer: An open Parquet writer; this object closes it.
        row_group_size: Largest row group (rows).

    """

    def __init__(self, writer: pq.ParquetWriter, row_group_size: int) -> None:
        self.writer = writer
        self._row_group_size = row_group_size
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trace")
        self._state = threading.Condition()
        self._busy = False  # a job is writing
        self._stopped = False  # abort() was called: jobs that start now write nothing
        self._writing: Future | None = None

    def submit(self, table: pa.Table) -> None:
        """Write ``table`` once the table before it is written (raises what that raised)."""
        self.wait()
        self._writing = self._pool.submit(self._write, table)

    def _write(self, table: pa.Table) -> None:
        with self._state:
            if self._stopped:
                return
            self._busy = True
        try:
            self.writer.write_table(table, row_group_size=self._row_group_size)
        finally:
            with self._state:
                self._busy = False
                self._state.notify_all()

    def wait(self) -> None:
        """Wait for the table being written; raise what writing it raised."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()

    def close(self) -> None:
        """Finish writing, stop the thread and close the file."""
        self.wait()
        self._pool.shutdown()
        self.writer.close()

    def abort(self) -> None:
        """Stop: write no further table, let the one being written finish, close the file.

        Interruptions while waiting (a second signal) are waited through.
        """
        while True:
            try:
                with self._state:
                    self._stopped = True
                    while self._busy:
                        self._state.wait(0.05)
                break
            except BaseException:  # noqa: BLE001 - already stopping: wait it out
                continue
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.writer.close()
