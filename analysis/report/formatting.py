"""Numbers as the report shows them: units, intervals, and axis labels for varied fields."""

from __future__ import annotations

import math
from typing import Any

UNITS = {
    "count": "instances",
    "max_batch": "requests",
    "max_wait": "as written",
    "rate": "requests/s",
    "mean_rate": "requests/s",
    "seq_len": "tokens",
    "queue_limit": "requests",
    "cores_per_replica": "NeuronCores",
    "instance": "type",
    "dtype": "type",
    "stack": "name",
    "balancer": "policy",
    "kind": "kind",
    "peak_to_mean": "ratio",
    "seed": "number",
}
"""Units of the last part of a varied field's dotted path (sweep axes)."""
NO_INTERVAL = " †"
"""Marks an estimate whose interval the run cannot give (too few requests per batch)."""


def field_label(field: str) -> str:
    """An axis label for a varied field, with its unit in parentheses.

    ``fleet.0.count`` -> ``fleet.0.count (instances)``; a name ending in ``_s`` is in
    seconds, ``_per_s`` per second, ``_usd`` US dollars; anything else is ``(value)``.
    """
    last = field.rsplit(".", 1)[-1]
    if last in UNITS:
        unit = UNITS[last]
    elif last.endswith("_per_s"):
        unit = "1/s"
    elif last.endswith("_s"):
        unit = "s"
    elif last.endswith("_usd"):
        unit = "USD"
    else:
        unit = "value"
    return f"{field} ({unit})"


def number(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits and thousands separators; ``-`` if missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    value = float(value)
    if value == 0:
        return "0"
    magnitude = int(math.floor(math.log10(abs(value))))
    decimals = max(digits - 1 - magnitude, 0)
    return f"{value:,.{decimals}f}"


def scaled(value: Any, scale: float, unit: str, digits: int = 4) -> str:
    """``value * scale`` with its unit (``11.22 ms``), ``-`` if missing."""
    shown = number(None if value is None else float(value) * scale, digits)
    return shown if shown == "-" else f"{shown} {unit}".rstrip()


def interval(ci: Any, scale: float, unit: str, digits: int = 4) -> str:
    """An interval as ``estimate [low, high] unit`` (``11.215 [11.10, 11.33] ms``).

    ``ci`` has ``estimate``, ``low`` and ``high`` (``analysis.Interval``); missing ends are
    left out (``11.215 ms``).
    """
    estimate = scaled(ci.estimate, scale, "", digits)
    if estimate == "-":
        return "-"
    low, high = (number(v * scale if v is not None else None, digits) for v in (ci.low, ci.high))
    if "-" in (low, high):
        return f"{estimate} {unit}".rstrip()
    return f"{estimate} [{low}, {high}] {unit}".rstrip()


def percent(value: Any, digits: int = 1) -> str:
    """A share (0..1) in percent; ``-`` if missing."""
    if value is None or not math.isfinite(float(value)):
        return "-"
    return f"{float(value) * 100:.{digits}f}%"


def duration(seconds: float) -> str:
    """Seconds as the largest whole unit that fits (``90 s``, ``2 min``, ``24 h``)."""
    for unit, size in (("h", 3600.0), ("min", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"
