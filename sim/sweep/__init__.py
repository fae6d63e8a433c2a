"""Parameter sweeps: many scenarios from one base, run on Dask distributed.

``spec`` reads the sweep file, ``points`` builds and names each point, ``tasks`` is the
unit of work a worker runs, ``executors`` says where (Dask or this process), ``dataset``
writes the results, and ``runner`` puts them together (``run_sweep``, ``SweepSession``).
"""

from sim.sweep.points import Point, build_points, scenario_id
from sim.sweep.runner import SweepProgress, SweepResult, SweepSession, run_sweep
from sim.sweep.spec import SweepSpec, load_sweep_spec

__all__ = [
    "Point",
    "SweepProgress",
    "SweepResult",
    "SweepSession",
    "SweepSpec",
    "build_points",
    "load_sweep_spec",
    "run_sweep",
    "scenario_id",
]
