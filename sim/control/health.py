"""Which instances are held down, and by what: failures being repaired and zones out.

An instance can be down for several reasons at once (its own failure, then its zone's
outage). ``Health`` counts the holds on each instance: the first hold fails it
(``fleet.fail``), the last release restores it (``fleet.restore``), so a repair that ends
during a zone outage leaves the instance down until the zone is back, and the end of an
outage does not restore an instance whose own repair is still going on.
"""

from __future__ import annotations

from typing import Any


class Health:
    """Holds on instances (by fleet-wide number) and the zones that are out.

    Args:
        fleet: The run's ``FleetView`` (its ``fail`` and ``restore`` actions are used).

    """

    def __init__(self, fleet: Any) -> None:
        self._fleet = fleet
        self._holds: dict[int, int] = {}
        self._zones_out: dict[str, int] = {}

    def hold(self, instance: Any, reason: str) -> bool:
        """Add a hold; the first one fails an in-service instance.

        Args:
            instance: An ``InstanceView``.
            reason: The ``fail`` reason (``failure`` or ``zone_outage``).

        Returns:
            Whether the instance is now held (False: it was neither in service nor held).

        """
        held = self._holds.get(instance.number, 0)
        if held == 0:
            if instance.state != "in_service":
                return False
            self._fleet.fail(instance, reason)
        self._holds[instance.number] = held + 1
        return True

    def release(self, instance: Any) -> None:
        """Remove a hold; the last one restores the instance if it is still failed."""
        held = self._holds.get(instance.number, 0) - 1
        if held < 0:
            raise RuntimeError(f"release of {instance!r}, which holds nothing")
        if held > 0:
            self._holds[instance.number] = held
            return
        del self._holds[instance.number]
        if instance.state == "failed":
            self._fleet.restore(instance)

    def held(self, instance: Any) -> bool:
        """Whether something holds the instance down."""
        return instance.number in self._holds

    def zone_out(self, zone: str) -> None:
        """Mark ``zone`` out (outages of one zone may overlap: they are counted)."""
        self._zones_out[zone] = self._zones_out.get(zone, 0) + 1

    def zone_back(self, zone: str) -> None:
        """End one outage of ``zone``."""
        left = self._zones_out[zone] - 1
        if left:
            self._zones_out[zone] = left
        else:
            del self._zones_out[zone]

    def zone_up(self, zone: str | None) -> bool:
        """Whether instances can run in ``zone`` now (None: the pool names no zone)."""
        return zone is None or zone not in self._zones_out
