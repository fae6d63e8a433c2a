"""fleetsim: simulate ML-inference fleets on AWS Inferentia.

``sim.run(scenario, out)`` runs a scenario and writes its trace and summary (see
``sim.engine.api``); the fleet is the SimPy model of ``sim.engine.model``, run by the
compiled kernel when it can (``sim.engine.engines``). Subpackages: ``scenario`` (schema and
loading), ``workload`` (request streams), ``policies`` (balancers, routing, synthetic
service), ``engine`` (the two engines, trace writer, run API), ``cli`` (``fleetsim``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fleetsim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

_API = {
    "run": "sim.engine.api",
    "RunResult": "sim.engine.api",
    "Engine": "sim.engine.engines",
    "FleetView": "sim.engine.view",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> object:
    """The public API, imported on first use (``import sim`` itself stays light)."""
    if name in _API:
        from importlib import import_module

        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
