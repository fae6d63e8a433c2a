"""The two engines of a run, and which one runs it.

* ``simpy`` - the fleet as SimPy processes (``sim.engine.model``): the definition, readable
  and extensible; it runs everything.
* ``compiled`` - the compiled kernel (``sim/engine/_kernel.pyx``, built with Cython when
  fleetsim is installed): the same model with its state in C arrays, several tens of times
  faster. It needs the extension to have been built, and the compiled form of the run's
  balancer (``Balancer.compiled``).

``auto`` picks the compiled kernel when it can run the scenario and says why when it cannot.
SimPy processes added to a run (``processes=``) run in either engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from sim.engine.fleet import Fleet
from sim.policies.balancers import Balancer, CompiledPick

try:
    from sim.engine import _kernel
except ImportError:  # installed without a C compiler: the SimPy engine runs everything
    _kernel = None


class Engine(StrEnum):
    """Which engine runs a scenario."""

    auto = "auto"
    compiled = "compiled"
    simpy = "simpy"


class EngineUnavailable(Exception):
    """The engine asked for cannot run this scenario (the message says why)."""


def kernel_built() -> bool:
    """Whether the compiled kernel was built when fleetsim was installed."""
    return _kernel is not None


def why_not_compiled(balancers: Iterable[type[Balancer]], changing: bool = False) -> str | None:
    """Why the compiled kernel cannot run a fleet with these balancer classes, or None.

    ``changing``: the fleet may change during the run (processes or controllers act on it),
    or requests reach a balancer other than at their arrival (retries, a pipeline's next
    stage), so a balancer that draws its candidates ahead (``CompiledPick.DRAWN``) cannot be
    used.
    """
    if _kernel is None:
        return (
            "the compiled kernel is not built (fleetsim was installed without a C compiler; "
            "reinstall with one to build sim/engine/_kernel.pyx)"
        )
    for balancer in balancers:
        if balancer.compiled is None:
            return f"the balancer {balancer.__name__} has no compiled form"
        if changing and balancer.compiled is CompiledPick.DRAWN:
            return (
                f"the balancer {balancer.__name__} draws its candidates ahead, which needs a "
                "fleet that does not change and requests routed only when they arrive; "
                "processes, retries or a pipeline's stages break that here"
            )
    return None


def choose_engine(
    requested: Engine | str, fleet: Fleet, changing: bool = False
) -> tuple[Engine, str | None]:
    """The engine that runs ``fleet``, and why ``auto`` did not pick the compiled one.

    ``changing``: processes may add, drain, fail or restore instances during the run.

    Raises:
        EngineUnavailable: ``compiled`` was asked for and cannot run this fleet.
        ValueError: ``requested`` names no engine.

    """
    requested = Engine(requested)
    if requested is Engine.simpy:
        return Engine.simpy, None
    reason = why_not_compiled((type(b) for b in fleet.balancers if b is not None), changing)
    if reason is None:
        return Engine.compiled, None
    if requested is Engine.compiled:
        raise EngineUnavailable(f"the compiled engine cannot run this scenario: {reason}")
    return Engine.simpy, reason
