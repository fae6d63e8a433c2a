"""A pool's capacity as an autoscaler counts it, and the one way it is changed.

Capacity is what AWS calls desired capacity: instances starting or in service, plus launches
deferred while the zone is out. Draining and failed instances are not counted (a failed one is
out of service, and an Auto Scaling group replaces unhealthy instances). Scaling out launches
through the pool's ``Launcher``. Scaling in removes, in this order:

1. deferred launches, newest first (they cost nothing);
2. instances starting or in service: first the purchase option that keeps the spot share (as
   an Auto Scaling group with a mixed instances policy first decides between spot and
   on-demand), then the newest: the highest ``index`` (instances are numbered in the order
   they are launched; ``requested_s`` would not do, as a repair starts a new lifetime).

Newest first means instances still starting go before those in service: a launch that is not
serving yet is the cheapest to cancel (no queued work, no serving capacity lost, the least
billed time wasted). Instances are drained, so their queued work finishes; draining a starting
instance terminates it at once.
"""

from __future__ import annotations

from typing import Any

from sim.control.launches import SHARE_TOLERANCE, Launcher


def _newest(instances: list[Any]) -> Any:
    return max(instances, key=lambda i: i.index)


class Capacity:
    """Count and change the capacity of one pool.

    Args:
        fleet: The run's ``FleetView``.
        launcher: The pool's ``Launcher``.

    """

    def __init__(self, fleet: Any, launcher: Launcher) -> None:
        self._fleet = fleet
        self._launcher = launcher

    def count(self) -> int:
        """Instances starting or in service, plus deferred launches."""
        instances = self._fleet.pool(self._launcher.pool).instances
        up = sum(i.state in ("starting", "in_service") for i in instances)
        return up + len(self._launcher.pending)

    def scale_to(self, desired: int, reason: str = "scale_out") -> int:
        """Launch or drain instances until ``count()`` is ``desired``; return the change."""
        change = desired - self.count()
        for _ in range(change):
            self._launcher.launch(reason)
        if change < 0:
            left = -change - self._launcher.cancel_pending(-change)
            for _ in range(left):
                victim = self.victim()
                if victim is None:
                    break
                self._fleet.drain(victim, "scale_in")
        return change

    def keep_within(self, low: int, high: int) -> int:
        """Scale to the nearest of [low, high] if the count is outside; return the change."""
        count = self.count()
        if count < low:
            return self.scale_to(low)
        if count > high:
            return self.scale_to(high)
        return 0

    def victim(self) -> Any | None:
        """The instance a scale-in drains next (the rule above), or None if there is none."""
        instances = self._fleet.pool(self._launcher.pool).instances
        spot, total = self._launcher.spot_count()
        keep_spot = int(self._launcher.spot_share * (total - 1) + SHARE_TOLERANCE)
        prefer = "spot" if spot > keep_spot else "on_demand"
        up = [i for i in instances if i.state in ("starting", "in_service")]
        if not up:
            return None
        preferred = [i for i in up if i.lifecycle == prefer]
        return _newest(preferred or up)
