"""Building blocks of the scenario schema: the strict base config and unit-bearing types."""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from hardware.catalog import DTYPES as DTYPES  # the one definition, re-exported to sim
from sim.scenario.units import parse_bytes_per_s, parse_duration_s


def _duration(value: object) -> float:
    # A bare number is ambiguous (is max_wait: 1 a second or a millisecond?): the parser asks
    # for a unit, for numbers and unit-less strings alike.
    try:
        return parse_duration_s(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", "{message}", {"message": str(exc)}) from None


def _seconds(value: float) -> str:
    return f"{value!r}s"  # repr round-trips exactly; the unit keeps it a valid duration


Duration = Annotated[float, BeforeValidator(_duration), PlainSerializer(_seconds, return_type=str)]
PositiveDuration = Annotated[
    float, BeforeValidator(_duration), Field(gt=0), PlainSerializer(_seconds, return_type=str)
]


FORM_TAGS = frozenset({"fixed", "scaled"})
"""Tags of unions told apart by the form of the value, not by a ``kind`` key
(``sim.scenario.pipelines.StageSeqLen``); error messages leave them out of field paths."""


def _bandwidth(value: object) -> float:
    try:
        return parse_bytes_per_s(value)
    except ValueError as exc:
        raise PydanticCustomError("bandwidth", "{message}", {"message": str(exc)}) from None


BytesPerSecond = Annotated[
    float,
    BeforeValidator(_bandwidth),
    PlainSerializer(lambda v: f"{v!r}B/s", return_type=str),
]
"""A bandwidth in bytes/s, written ``1GB/s`` (decimal units) or ``1GiB/s`` (binary)."""


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` if none is close."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Config(BaseModel):
    """Base of every scenario config: frozen, and unknown keys are an error naming the key."""

    # strict: YAML already gives real types, so "500" is not a rate and true is not a count;
    # no inf or nan anywhere (an infinite rate would never let simulated time advance)
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    message = (
                        f"unknown key {key!r}{did_you_mean(key, allowed)}; "
                        f"allowed keys: {', '.join(allowed)}"
                    )
                    # the text goes in as a value, so braces in it are not a template
                    raise PydanticCustomError(
                        "unknown_key", "{message}", {"key": key, "message": message}
                    )
        return data
