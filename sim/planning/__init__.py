"""Capacity planning on the sweep machinery: the cheapest fleet that holds the SLO.

``candidates`` builds the designs to size, ``bounds`` gives each an analytic lower bound,
``search`` finds each one's smallest count by simulation, and ``report`` writes the plan.
"""

from sim.planning.candidates import Candidate, candidates
from sim.planning.search import CandidateResult, Evaluation, plan_candidates

__all__ = ["Candidate", "CandidateResult", "Evaluation", "candidates", "plan_candidates"]
