"""Scenario-like objects for the controller tests (what ``controllers_for`` reads)."""

from __future__ import annotations

from types import SimpleNamespace

from pydantic import TypeAdapter

from sim.control.config import AutoscalingConfig, EventConfig, FailuresConfig, SpotConfig

_AUTOSCALING = TypeAdapter(AutoscalingConfig)
_EVENTS = TypeAdapter(list[EventConfig])


def pool(name, autoscaling=None, failures=None, spot=None):
    """A pool as the lead's PoolConfig will carry it, from plain dicts."""
    return SimpleNamespace(
        name=name,
        autoscaling=None if autoscaling is None else _AUTOSCALING.validate_python(autoscaling),
        failures=None if failures is None else FailuresConfig.model_validate(failures),
        spot=None if spot is None else SpotConfig.model_validate(spot),
    )


def scenario(pools, events=(), seed=7):
    """A scenario with ``seed``, ``fleet`` and ``events``."""
    return SimpleNamespace(
        seed=seed, fleet=list(pools), events=_EVENTS.validate_python(list(events))
    )


def actions(fleet, *what):
    """The log entries of the given kinds, as (time, what, pool, index, detail)."""
    return [entry for entry in fleet.log if entry[1] in what]
