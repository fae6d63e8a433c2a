"""fleetsim engine: scenario schema, SimPy fleet simulation, trace writing and CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fleetsim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
