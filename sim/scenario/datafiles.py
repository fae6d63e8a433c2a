"""Reading user data files named in scenarios (arrival traces, empirical service samples).

Paths are resolved against the scenario file's directory, passed to pydantic as validation
context (``{"base_dir": ...}``). Files are csv or parquet, chosen by suffix.
"""

from __future__ import annotations

import math
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow.parquet as pq
from pydantic import ValidationInfo

from sim.machine import available_memory_bytes

if TYPE_CHECKING:  # pandas is imported where it is used: runs never need it
    import pandas as pd


def resolve_path(value: str, info: ValidationInfo) -> str:
    """Absolute path of ``value``, relative paths taken from the scenario's directory.

    Raises:
        ValueError: a path that cannot be resolved (an unknown ``~user``, a symlink loop, a
            NUL character), naming it.

    """
    try:
        path = Path(value).expanduser()
        if not path.is_absolute():
            base = (info.context or {}).get("base_dir")
            path = Path(base) / path if base else path
        return str(path.resolve())
    except (RuntimeError, ValueError, OSError) as exc:
        raise ValueError(f"cannot resolve the path {value!r}: {exc}") from None


def read_table(path: str, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a csv or parquet file into a DataFrame.

    Raises:
        ValueError: unreadable file, unknown suffix, or missing requested columns; the message
            names the file and what is wrong.

    """
    import pandas as pd

    p = Path(path)
    suffix = p.suffix.lower()
    _check_readable(p, path)
    try:
        if suffix == ".csv":  # as text when not all numbers: bad values are quoted as written
            df = pd.read_csv(p)
            if any(df[c].dtype.kind not in "fiub" for c in columns or () if c in df.columns):
                df = pd.read_csv(p, dtype=str, keep_default_na=False, na_filter=False)
        elif suffix in (".parquet", ".pq"):
            df = pq.read_table(p).to_pandas()
        else:
            raise ValueError(f"{path}: expected a .csv or .parquet file")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        reason = " ".join(str(exc).split())  # one line
        raise ValueError(f"{path}: cannot read it ({reason})") from None
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        if isinstance(exc, ValueError) and str(exc).startswith(path):
            raise
        reason = " ".join(str(exc).split())
        raise ValueError(f"{path}: cannot read it ({type(exc).__name__}: {reason})") from None
    if columns:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(missing)}; found: "
                f"{', '.join(map(str, df.columns)) or 'none'}"
            )
    return df


DATA_MEMORY_FACTOR = 12  # memory a file takes when read, per byte on disk (csv as text)


def _check_readable(p: Path, path: str) -> None:
    """A data file must be a regular file that fits in memory once read.

    Raises:
        ValueError: missing, not a regular file (a directory or a named pipe, which would
            block), unreadable, or larger than the memory available to read it.

    """
    try:
        info = p.stat()
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, RuntimeError) as exc:
        raise ValueError(f"{path}: cannot read it ({exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path}: not a regular file (a directory, a named pipe or a device)")
    needed = info.st_size * DATA_MEMORY_FACTOR
    if needed > available_memory_bytes():
        raise ValueError(
            f"{path}: {info.st_size / 1e9:.1f} GB on disk needs about {needed / 1e9:.0f} GB of "
            "memory to read, more than this machine has available; replay a part of it"
        )


_NUMBER = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$", re.ASCII)


def numbers(
    df: pd.DataFrame,
    path: str,
    column: str,
    *,
    what: str,
    integer: bool = False,
    low: float = -math.inf,
    low_inclusive: bool = True,
    high: float = math.inf,
) -> np.ndarray:
    """A column as float64 (int64 if ``integer``), every value checked.

    Text, booleans, empty cells, non-finite numbers, values outside ``[low, high]`` (or
    ``(low, high]``) and, for ``integer``, fractions are refused with the file, the data row
    (1-based, header not counted), the column and the value as written.

    Args:
        df: The file's rows (``read_table``).
        path: The file, for messages.
        column: The column.
        what: What a value must be, for messages (``"a time in seconds >= 0"``).
        integer: Whether values must be whole numbers.
        low: Smallest value allowed.
        low_inclusive: Whether ``low`` itself is allowed.
        high: Largest value allowed.

    Raises:
        ValueError: the first bad value, as described.

    """
    raw = df[column]
    if raw.size == 0:
        raise ValueError(f"{path}: column {column!r} has no values (the file has no data rows)")
    if raw.dtype.kind == "b":
        _refuse(path, 0, column, raw.iloc[0], what)
    if raw.dtype.kind in "fiu":
        values = raw.to_numpy(dtype=float)
        written = raw.tolist()
    else:
        written = raw.tolist()
        values = np.array([_number(v) for v in written], dtype=float)
    bad = ~np.isfinite(values) | (values > high)
    bad |= values < low if low_inclusive else values <= low
    if integer:
        bad |= values != np.round(values)
    if bad.any():
        row = int(np.argmax(bad))
        _refuse(path, row, column, written[row], what)
    return values.astype(np.int64) if integer else values


def _number(value: object) -> float:
    """A cell as a number; NaN for text, booleans and empty cells."""
    if isinstance(value, bool) or value is None:
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    if text.lower().strip() in ("inf", "+inf", "-inf", "nan"):
        return float(text)
    if not _NUMBER.match(text):  # no '1_0', no non-ASCII digits, as a reader would expect
        return math.nan
    return float(text)


def _refuse(path: str, row: int, column: str, value: object, what: str) -> None:
    """Raise the message for one bad value, quoting it as written."""
    if isinstance(value, np.generic):
        value = value.item()
    shown = repr(value) if isinstance(value, str) else str(value)
    raise ValueError(f"{path}: data row {row + 1}: {column} = {shown}; expected {what}")
