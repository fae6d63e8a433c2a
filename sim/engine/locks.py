"""File locks that die with their process: one run per output directory, live staging.

A lock is an ``flock`` on a small file. The kernel releases it when the holder exits, however
it exits (SIGKILL included), so a lock that can be taken belongs to nobody: unlike a PID in a
file name, that can never be fooled by a reused PID. A lock file only ever appears under its
name already locked (it is created under a temporary name, locked, then renamed), and its
holder unlinks it before releasing it, so a process that takes a lock checks that the file
it locked is still the one under the name.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path


class LockHeld(Exception):
    """Another live process holds the lock; the message names it."""


class FileLock:
    """An exclusive lock on ``path``, taken at once or refused (``LockHeld``).

    Args:
        path: The lock file (created if missing).
        purpose: Said in the holder information written into the file.

    """

    def __init__(self, path: Path, purpose: str) -> None:
        self.path = path
        self.purpose = purpose
        self.fd: int | None = None

    def acquire(self, patience_s: float = 0.5) -> FileLock:
        """Take the lock, or raise ``LockHeld`` naming the holder.

        Args:
            patience_s: How long (s) to keep trying: a process checking whether the lock is
                abandoned holds it for microseconds.

        """
        give_up = time.monotonic() + patience_s
        while True:
            fd = _locked_file(self.path)
            if fd is None:
                if time.monotonic() >= give_up:
                    raise LockHeld(holder(self.path))
                time.sleep(0.05)
                continue
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not a file its last holder unlinked while we waited
                self.fd = fd
                _write_holder(fd, self.purpose)
                return self
            os.close(fd)

    def release(self) -> None:
        """Remove the lock file, then release the lock."""
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def create_locked(path: Path, purpose: str) -> FileLock:
    """A new lock file at ``path``, visible under that name only once locked."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{time.monotonic_ns()}.new")
    fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.replace(temporary, path)
    lock = FileLock(path, purpose)
    lock.fd = fd
    _write_holder(fd, purpose)
    return lock


def is_abandoned(path: Path) -> bool:
    """Whether the lock file at ``path`` is held by nobody (its process is gone)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # releases the lock if it was taken
    return True


def remove_if_abandoned(path: Path) -> bool:
    """Delete the lock file at ``path`` if nobody holds it; whether it was deleted.

    It is unlinked while locked, so a process that opened it meanwhile finds, once it gets
    the lock, that the file it holds is no longer the one under the name, and tries again.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    try:
        same = os.fstat(fd).st_ino == os.stat(path).st_ino
        if same:
            path.unlink()
        return same
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)


def holder(path: Path) -> str:
    """Who holds the lock at ``path``, as written by the holder."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another fleetsim process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    return (
        f"fleetsim process {info.get('pid')} on {info.get('host')} ({info.get('purpose')}, "
        f"since {started})"
    )


def _locked_file(path: Path) -> int | None:
    """Open (creating) ``path`` and lock it; None if another process holds it."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _write_holder(fd: int, purpose: str) -> None:
    """Say in the lock file who holds it (for the message another process shows)."""
    info = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
            "started": time.time()}  # fmt: skip
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
