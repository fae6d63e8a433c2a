"""Scenario events: zone outages.

A ``zone_outage`` at ``at`` for ``duration`` (``ZoneOutageConfig``), at ``at``:

- every instance in service in the zone, of every pool, fails (``fleet.fail``, reason
  ``zone_outage``): its requests go to the client retry policy; instances already down for
  their own failure stay down until both the repair and the outage are over
  (``sim.control.health``);
- instances still starting or draining there are terminated (reason ``zone_outage``): a launch
  in a lost zone does not complete, and work being drained is lost;
- no instance can be launched in the zone: launches by the controllers (scale-out, minimum,
  replacements) are deferred and made when the zone is back. A pool names one zone, so its
  autoscaler cannot move capacity elsewhere; a model served by pools in several zones keeps
  serving from the others, whose autoscalers see the extra load and scale out.

At ``at + duration`` the failed instances are restored, empty (AWS: instances in an
Availability Zone that recovers come back; they are not replaced), and the deferred launches
are made, oldest first, less one per instance of the pool restored (the launches stood in for
that capacity; an autoscaler adds more at its next evaluation if the load needs it). A pool
with no zone is never affected.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from sim.control.config import ZoneOutageConfig
from sim.control.health import Health
from sim.control.launches import Launcher


class ZoneOutage:
    """One zone outage.

    Args:
        config: The event.

    """

    def __init__(self, config: ZoneOutageConfig) -> None:
        self.config = config
        self._health: Health | None = None
        self._launchers: list[Launcher] = []

    def bind(self, health: Health, launchers: list[Launcher]) -> None:
        """Attach to a run: its holds and every pool's launcher."""
        self._health, self._launchers = health, launchers

    def run(self, env: Any, fleet: Any) -> Generator[Any, Any, None]:
        """The process: fail the zone at ``at``, bring it back ``duration`` later."""
        health, zone = self._health, self.config.zone
        assert health is not None
        yield env.timeout(self.config.at)
        health.zone_out(zone)
        held = []
        for inst in [i for pool in fleet.pools for i in pool.instances]:
            if inst.zone != zone or inst.state == "terminated":
                continue
            if inst.state in ("starting", "draining"):
                fleet.terminate(inst, "zone_outage")
            elif health.hold(inst, "zone_outage"):
                held.append(inst)
        yield env.timeout(self.config.duration)
        health.zone_back(zone)
        restored: dict[str, int] = {}
        for inst in held:
            health.release(inst)
            if inst.state == "in_service":
                restored[inst.pool] = restored.get(inst.pool, 0) + 1
        for launcher in self._launchers:
            launcher.resume(restored.get(launcher.pool, 0))
