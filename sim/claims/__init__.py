"""The case-study claims: each public claim about Inferentia, simulated and given a verdict.

``sim.claims.spec`` (the claims file), ``sim.claims.sides`` (plans and rate searches),
``sim.claims.evaluation`` (figures and intervals), ``sim.claims.verdicts`` (pure verdicts),
``sim.claims.report`` (claims.md, claims.parquet) and ``sim.claims.runner`` (``run_claims``).
"""
