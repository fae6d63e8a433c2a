"""Publishing run outputs atomically: a run directory appears complete or not at all."""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sim.engine.locks import (
    FileLock,
    LockHeld,
    create_locked,
    is_abandoned,
    remove_if_abandoned,
)


class OutputExistsError(Exception):
    """The output directory exists and may not (or cannot) be replaced."""


class OutputBusyError(OutputExistsError):
    """Another live process is writing the output directory now."""


RUN_FILES = frozenset({"requests.parquet", "instances.parquet", "stages.parquet", "summary.json"})


def _check_replaceable(target: Path, force: bool) -> None:
    """Refuse to replace anything but an earlier fleetsim run directory, and only with force."""
    if not target.exists():
        return
    if not target.is_dir():
        raise OutputExistsError(f"{target} exists and is not a directory; choose another --out")
    if not force:
        raise OutputExistsError(f"{target} already exists; pass --force to overwrite it")
    foreign = sorted(p.name for p in target.iterdir() if p.name not in RUN_FILES)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise OutputExistsError(
            f"{target} is not a fleetsim run directory (it holds {shown}); --force only "
            "replaces a directory holding nothing but requests.parquet, instances.parquet, "
            "stages.parquet and summary.json"
        )


STAGING_PREFIX = ".fleetsim-staging-"  # + token: a run's staging directory; + ".lock"


@contextmanager
def staged_dir(target: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a staging directory that replaces ``target`` only if the block succeeds.

    For the block's whole life the run holds a lock on ``target`` (a second run into the
    same directory is refused, naming the holder). Files are written into a hidden sibling
    directory whose own lock says its run is alive; on success it is renamed to ``target``
    (an existing ``target`` is moved aside first and deleted after, when ``force``), after
    checking ``target`` again. On any error, or if the process is killed, ``target`` is
    untouched, and a staging directory left by a killed run is removed by the next run in
    the same parent directory.

    Raises:
        OutputExistsError: ``target`` exists and ``force`` is false, another run is writing
            it, or the parent directory cannot be written.

    """
    try:
        target = Path(target).resolve()  # "." and ".." get a real name
        _check_replaceable(target, force)
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long, ...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise OutputExistsError(f"cannot use {target} as the output: {reason}") from None
    with _removing_on_error(_make_parents(target.parent)):
        yield from _staged_in(target, force)


def _make_parents(directory: Path) -> list[Path]:
    """Create ``directory`` and missing parents; return those created, deepest first."""
    missing = []
    for parent in [directory, *directory.parents]:
        if parent.exists():
            break
        missing.append(parent)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputExistsError(f"cannot create {directory}: {exc.strerror}") from None
    return missing


@contextmanager
def _removing_on_error(created: list[Path]) -> Iterator[None]:
    """Remove the directories a failed run created for its output (if still empty)."""
    try:
        yield
    except BaseException:
        for directory in created:  # deepest first
            try:
                directory.rmdir()
            except OSError:
                break
        raise


def _staged_in(target: Path, force: bool) -> Iterator[Path]:
    """``staged_dir`` once the parent exists: lock, stage, publish."""
    try:
        output_lock = FileLock(
            target.with_name(f".{target.name}.fleetsim-lock"), f"writing {target}"
        ).acquire()
    except LockHeld as exc:
        raise OutputBusyError(
            f"{target} is being written by {exc}; wait for it to finish or choose another --out"
        ) from None
    except OSError as exc:
        raise OutputExistsError(f"cannot write in {target.parent}: {exc.strerror}") from None
    try:
        _check_replaceable(target, force)  # another run may have published meanwhile
        remove_stale_staging(target.parent)
        staging, staging_lock = _new_staging(target)
        try:
            yield staging
            _check_replaceable(target, force)  # published since? never overwrite it
            _publish(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            staging_lock.release()
    finally:
        output_lock.release()


def _new_staging(target: Path) -> tuple[Path, FileLock]:
    """A fresh staging directory beside ``target``, with its lock held."""
    token = f"{target.name}-{secrets.token_hex(6)}"
    try:
        lock = create_locked(target.with_name(f"{STAGING_PREFIX}{token}.lock"), "staging")
        staging = target.with_name(f"{STAGING_PREFIX}{token}")
        staging.mkdir()
    except OSError as exc:
        raise OutputExistsError(f"cannot write in {target.parent}: {exc.strerror}") from None
    return staging, lock


def _publish(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``, replacing (after moving aside) an earlier run."""
    old = None
    if target.exists():
        old = target.with_name(f"{STAGING_PREFIX}{target.name}-old-{secrets.token_hex(6)}")
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove_stale_staging(directory: Path) -> list[Path]:
    """Delete the staging directories in ``directory`` whose run is gone; return them.

    A staging directory is alive while its lock file is locked (``sim.engine.locks``); one
    whose lock file is free, or missing, was left by a run that was killed.
    """
    removed = []
    for entry in sorted(directory.glob(f"{STAGING_PREFIX}*")):
        if entry.suffix == ".lock" or entry.name.endswith(".new"):
            continue
        lock = entry.with_name(f"{entry.name}.lock")
        if lock.exists() and not is_abandoned(lock):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        remove_if_abandoned(lock)
        removed.append(entry)
    for lock in directory.glob(f"{STAGING_PREFIX}*.lock"):  # a run killed before its mkdir
        if not lock.with_suffix("").exists():
            remove_if_abandoned(lock)
    for lock in directory.glob(".*.fleetsim-lock"):  # the run holding it was killed
        remove_if_abandoned(lock)
    for new in directory.glob(f"{STAGING_PREFIX}*.new"):  # killed while creating its lock
        try:
            # named <lock>.<pid>.<ns>.new by create_locked: its creator is gone if that
            # process is; otherwise only an old, unlocked one (the creator locks it at once)
            gone = not _alive(int(new.name.split(".")[-3]))
            old = time.time() - new.stat().st_mtime > 60
            if (gone or old) and is_abandoned(new):
                new.unlink(missing_ok=True)
        except (FileNotFoundError, ValueError, IndexError):
            continue
    return removed


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (temporary file, then rename); NaN and inf become null."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
