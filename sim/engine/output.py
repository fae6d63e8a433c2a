"""Publishing run outputs atomically: a run directory appears complete or not at all."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class OutputExistsError(Exception):
    """The output directory exists and may not (or cannot) be replaced."""


RUN_FILES = frozenset({"requests.parquet", "summary.json"})


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
            "replaces a directory holding nothing but requests.parquet and summary.json"
        )


@contextmanager
def staged_dir(target: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a staging directory that replaces ``target`` only if the block succeeds.

    Files are written into a hidden sibling directory; on success it is renamed to
    ``target`` (an existing ``target`` is moved aside first and deleted after, when
    ``force``). On any error, or if the process is killed, ``target`` is untouched.

    Raises:
        OutputExistsError: ``target`` exists and ``force`` is false.

    """
    target = Path(target).resolve()  # "." and ".." get a real name
    _check_replaceable(target, force)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputExistsError(f"cannot create {target.parent}: {exc.strerror}") from None
    _remove_stale_staging(target)
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir()
    except OSError as exc:
        raise OutputExistsError(f"cannot write in {target.parent}: {exc.strerror}") from None
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_stale_staging(target: Path) -> None:
    """Delete staging directories left for ``target`` by runs that were killed."""
    for leftover in target.parent.glob(f".{target.name}.partial-*"):
        try:
            pid = int(leftover.name.rsplit("-", 1)[1])
            os.kill(pid, 0)  # raises if no such process: the run that owned it is gone
        except ProcessLookupError:
            shutil.rmtree(leftover, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


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
