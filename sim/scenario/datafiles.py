"""Reading user data files named in scenarios (arrival traces, empirical service samples).

Paths are resolved against the scenario file's directory, passed to pydantic as validation
context (``{"base_dir": ...}``). Files are csv or parquet, chosen by suffix.
"""

from __future__ import annotations

from pathlib import Path

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
        if suffix == ".csv":
            df = pd.read_csv(p)
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
