"""Planning answers built on the timing model: what fits where, and at what cost.

:mod:`~hardware.planning.capacity`: dtype support, device memory per replica, memory fit.
:mod:`~hardware.planning.cost_tables`: throughput, $ per million inferences and inferences per
joule per batch size and across instance types (``fleetsim hardware table`` / ``compare``).
"""
