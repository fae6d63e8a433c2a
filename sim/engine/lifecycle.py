"""The life of an instance during a run: its states, and what each fleet action allows.

An instance is requested (billed from then), *starting* while its cold start runs, *in
service* once ready (its model's balancer routes to it), then *draining* (no new requests;
queued and in-service work finishes), *failed* (lost; its requests went to the client policy;
it can be restored) or *terminated*. The codes are shared by both engines (the kernel's
``State`` enum); ``ALLOWED`` is checked by ``sim.engine.view.FleetView`` before an action
reaches an engine, so both engines see only legal transitions.
"""

from __future__ import annotations

from enum import IntEnum


class InstanceState(IntEnum):
    """Where an instance is in its life (codes shared with ``sim/engine/_kernel.pyx``)."""

    STARTING = 0
    IN_SERVICE = 1
    DRAINING = 2
    FAILED = 3
    TERMINATED = 4

    @property
    def label(self) -> str:
        """The name users read: ``starting``, ``in_service``, ``draining``, ..."""
        return self.name.lower()


ALLOWED: dict[str, frozenset[InstanceState]] = {
    # starting: terminated at once; in service: drains (at once if idle); failed: terminated
    "drain": frozenset({InstanceState.STARTING, InstanceState.IN_SERVICE, InstanceState.FAILED}),
    "fail": frozenset({InstanceState.STARTING, InstanceState.IN_SERVICE, InstanceState.DRAINING}),
    "restore": frozenset({InstanceState.FAILED}),
    "terminate": frozenset(
        {
            InstanceState.STARTING,
            InstanceState.IN_SERVICE,
            InstanceState.DRAINING,
            InstanceState.FAILED,
        }
    ),
    "ready": frozenset({InstanceState.STARTING}),
}
"""The states each action may be applied to; anything else is a ``ValueError``."""
