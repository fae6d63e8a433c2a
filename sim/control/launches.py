"""Launching instances into one pool: spot or on-demand, deferred while the zone is out.

Every launch of the controllers goes through a pool's ``Launcher``, so that

- the purchase option follows one rule: a launch is spot when that keeps the pool's spot
  count at or below ``share`` of its instances, ``spot + 1 <= share * (n + 1)`` over the
  instances not terminated nor draining plus the deferred launches (so share 0.5 alternates
  on-demand, spot, on-demand, ...; ``initial_lifecycles`` applies the same rule to the
  pool's initial instances). Replacements keep the purchase option of what they replace;
- a launch into a zone that is out is deferred, not lost, and made when the zone is back
  (an Auto Scaling group keeps its desired capacity and retries failed launches), less one
  for each of the pool's instances the zone's return restores.

The failure and spot controllers hear of every instance added to the fleet, by a launcher or
by any other process, from ``FleetView.watch_added``, and start its clocks.
"""

from __future__ import annotations

from typing import Any

from sim.control.health import Health

SHARE_TOLERANCE = 1e-9  # share * n is a float: 0.3 * 10 must count as 3


def spot_next(share: float, spot: int, total: int) -> bool:
    """Whether the next launch is spot, given ``spot`` of ``total`` current instances are."""
    return spot + 1 <= share * (total + 1) + SHARE_TOLERANCE


def initial_lifecycles(share: float, count: int) -> tuple[str, ...]:
    """The purchase options of a pool's ``count`` initial instances, in creation order."""
    out: list[str] = []
    for k in range(count):
        out.append("spot" if spot_next(share, out.count("spot"), k) else "on_demand")
    return tuple(out)


class Launcher:
    """The launches of one pool.

    Args:
        fleet: The run's ``FleetView``.
        pool: The pool's name.
        health: The run's holds and zones.
        spot_share: The share of spot instances to keep (0 without a ``spot`` block).

    """

    def __init__(self, fleet: Any, pool: str, health: Health, spot_share: float = 0.0) -> None:
        self._fleet = fleet
        self.pool = pool
        self._health = health
        self.spot_share = spot_share
        self.pending: list[tuple[str, str]] = []  # deferred (lifecycle, reason), oldest first

    def active(self) -> list[Any]:
        """The pool's instances neither terminated nor draining."""
        instances = self._fleet.pool(self.pool).instances
        return [i for i in instances if i.state not in ("terminated", "draining")]

    def spot_count(self) -> tuple[int, int]:
        """(spot, total) over the active instances and the deferred launches."""
        active = self.active()
        spot = sum(i.lifecycle == "spot" for i in active)
        spot += sum(lifecycle == "spot" for lifecycle, _ in self.pending)
        return spot, len(active) + len(self.pending)

    def launch(self, reason: str, lifecycle: str | None = None) -> Any | None:
        """Launch one instance now, or defer it while the pool's zone is out.

        Args:
            reason: Why (``scale_out``, ``failure``, ``spot_interruption``...), kept with a
                deferred launch; ``FleetView.add_instance`` takes none.
            lifecycle: ``spot`` or ``on_demand``; None applies the spot share rule.

        Returns:
            The new ``InstanceView``, or None when the launch is deferred.

        """
        if lifecycle is None:
            lifecycle = "spot" if spot_next(self.spot_share, *self.spot_count()) else "on_demand"
        if not self._health.zone_up(self._fleet.pool(self.pool).zone):
            self.pending.append((lifecycle, reason))
            return None
        return self._add(lifecycle, reason)

    def cancel_pending(self, n: int) -> int:
        """Cancel up to ``n`` deferred launches, newest first; return how many."""
        cancelled = min(n, len(self.pending))
        del self.pending[len(self.pending) - cancelled :]
        return cancelled

    def resume(self, restored: int = 0) -> None:
        """Make the deferred launches, oldest first, if the zone is up.

        Args:
            restored: Instances of the pool just brought back with the zone: as many deferred
                launches (newest first) are cancelled, since they stood in for that capacity.

        """
        if not self._health.zone_up(self._fleet.pool(self.pool).zone):
            return
        self.cancel_pending(restored)
        pending, self.pending = self.pending, []
        for lifecycle, reason in pending:
            self._add(lifecycle, reason)

    def _add(self, lifecycle: str, reason: str) -> Any:
        return self._fleet.add_instance(self.pool, lifecycle=lifecycle)
