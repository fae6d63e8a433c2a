"""Reading user data files named in scenarios (arrival traces, empirical service samples).

Paths are resolved against the scenario file's directory, passed to pydantic as validation
context (``{"base_dir": ...}``). Files are csv or parquet, chosen by suffix.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pydantic import ValidationInfo


def resolve_path(value: str, info: ValidationInfo) -> str:
    """Absolute path of ``value``, relative paths taken from the scenario's directory."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        base = (info.context or {}).get("base_dir")
        path = Path(base) / path if base else path
    return str(path.resolve())


def read_table(path: str, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a csv or parquet file into a DataFrame.

    Raises:
        ValueError: unreadable file, unknown suffix, or missing requested columns; the message
            names the file and what is wrong.

    """
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":  # as text: values are checked, and quoted, as written
            df = pd.read_csv(p, dtype=str, keep_default_na=False, na_filter=False)
        elif suffix in (".parquet", ".pq"):
            df = pq.read_table(p).to_pandas()
        else:
            raise ValueError(f"{path}: expected a .csv or .parquet file")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{path}: cannot read it ({exc})") from None
    except Exception as exc:  # pyarrow raises its own error types for corrupt files
        if isinstance(exc, ValueError) and str(exc).startswith(path):
            raise
        raise ValueError(f"{path}: cannot read it ({type(exc).__name__}: {exc})") from None
    if columns:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(missing)}; found: "
                f"{', '.join(map(str, df.columns)) or 'none'}"
            )
    return df


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
    try:
        return float(str(value).strip())
    except ValueError:
        return math.nan


def _refuse(path: str, row: int, column: str, value: object, what: str) -> None:
    """Raise the message for one bad value, quoting it as written."""
    if isinstance(value, np.generic):
        value = value.item()
    shown = repr(value) if isinstance(value, str) else str(value)
    raise ValueError(f"{path}: data row {row + 1}: {column} = {shown}; expected {what}")
