"""The shipped data files of ``hardware/data``: CSV tables whose ``#`` lines are comments.

Every table the hardware model reads (chips, instances, power, parameters) goes through
:func:`data_rows`, so the file format is defined once.
"""

from __future__ import annotations

import csv
from importlib import resources
from importlib.resources.abc import Traversable


def data_file(filename: str) -> Traversable:
    """Path of a shipped data file (it may not exist).

    Args:
        filename: File name inside ``hardware/data``, e.g. ``"chips.csv"``.

    Returns:
        The resource path.

    """
    return resources.files("hardware").joinpath("data").joinpath(filename)


def data_rows(filename: str) -> list[dict[str, str]]:
    """Rows of a shipped CSV file, skipping lines that start with ``#``.

    Args:
        filename: File name inside ``hardware/data``.

    Returns:
        One dict per row, keyed by the header's column names (values are unparsed text).

    """
    text = data_file(filename).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def parse_bool(text: str, where: str) -> bool:
    """Parse a ``true``/``false`` cell (any case, surrounding blanks ignored).

    Args:
        text: The cell.
        where: File and row, for the error message.

    Returns:
        The boolean.

    Raises:
        ValueError: Anything other than true or false.

    """
    if text.strip().lower() not in ("true", "false"):
        raise ValueError(f"{where}: expected true/false, got {text!r}")
    return text.strip().lower() == "true"
