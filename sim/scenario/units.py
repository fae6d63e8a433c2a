"""Parsing of quantities written with units in scenario files.

Durations are written as ``"250us"``, ``"2ms"``, ``"1.5s"``, ``"5m"``, ``"1h"`` or ``"2d"``
and converted once, at load time, to seconds (float). Every duration needs its unit, on
every path in (scenario files, command-line options, the Python API): ``2`` or ``"2"`` could
mean a second or a millisecond, so only zero may be written bare. Amounts of memory
(``"16GB"``) are converted to bytes, bandwidths (``"1GB/s"``) to bytes per second.
"""

import math
import re

_DURATION_UNITS_S = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_DURATION_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zµ]+)?\s*$")

DURATION_HELP = "a duration such as 250us, 2ms, 1.5s, 5m, 1h (units: ns, us, ms, s, m, h, d)"


def parse_duration_s(value: object) -> float:
    """Convert a duration written with its unit to seconds.

    Args:
        value: A ``"2ms"``-style string; zero may be written bare (``0`` or ``"0"``).

    Returns:
        The duration in seconds.

    Raises:
        ValueError: the value is not a finite non-negative duration with a known unit.

    """
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"a duration must be finite and non-negative, got {value!r}")
        if value == 0:
            return 0.0
        raise ValueError(needs_unit(value))
    elif isinstance(value, str):
        match = _DURATION_RE.match(value)
        if not match:
            raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
        number, unit = match.groups()
        if unit is None:
            if float(number) == 0:
                return 0.0
            raise ValueError(needs_unit(value))
        if unit not in _DURATION_UNITS_S:
            raise ValueError(f"unknown unit {unit!r} in {value!r}; expected {DURATION_HELP}")
        seconds = float(number) * _DURATION_UNITS_S[unit]
    else:
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be finite and non-negative, got {value!r}")
    return seconds


def needs_unit(value: object) -> str:
    """The message for a duration written without its unit."""
    number = str(value).strip()
    return (
        f"a duration needs a unit: write e.g. '{number}s' or '{number}ms' (got {value!r}; "
        "only 0 may be written without one)"
    )


def format_duration(seconds: float) -> str:
    """Render a duration in seconds with the largest unit that keeps it readable."""
    for unit, scale in (("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:g}{unit}"
    return f"{seconds * 1e9:g}ns"


_BYTE_UNITS = {
    "B": 1,
    "kB": 1e3,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}
_BYTES_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]+)?\s*$")
BYTES_HELP = "an amount of memory such as 512MB, 16GB or 2GiB (units: B, kB, MB, GB, TB, KiB...)"


def parse_bytes(value: str) -> float:
    """Convert an amount of memory written with its unit (``"16GB"``) to bytes.

    Raises:
        ValueError: not a positive finite amount with a known unit.

    """
    match = _BYTES_RE.match(str(value))
    if not match:
        raise ValueError(f"expected {BYTES_HELP}, got {value!r}")
    number, unit = match.groups()
    if unit is None:
        raise ValueError(
            f"an amount of memory needs a unit: write e.g. '{number}GB' (got {value!r})"
        )
    if unit not in _BYTE_UNITS:
        raise ValueError(f"unknown unit {unit!r} in {value!r}; expected {BYTES_HELP}")
    amount = float(number) * _BYTE_UNITS[unit]
    if not math.isfinite(amount) or amount <= 0:
        raise ValueError(f"expected a positive amount, got {value!r}")
    return amount


_RATE_RE = re.compile(r"^\s*(.+?)\s*/\s*s\s*$")
BANDWIDTH_HELP = "a bandwidth such as 1GB/s, 500MB/s or 2GiB/s"


def parse_bytes_per_s(value: object) -> float:
    """Convert a bandwidth written with its unit (``"1GB/s"``) to bytes per second.

    Raises:
        ValueError: not a positive finite amount of bytes per second with a known unit.

    """
    match = _RATE_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"expected {BANDWIDTH_HELP}, got {value!r}")
    try:
        return parse_bytes(match.group(1))
    except ValueError as exc:
        raise ValueError(f"expected {BANDWIDTH_HELP}, got {value!r} ({exc})") from None
