"""The timed-out share of M/M/c under fleetsim's client-timeout rule, in its two parts.

The rule (``sim.policies.clients``): a request's deadline is its arrival plus its patience;
a request still waiting at its deadline leaves the queue and never starts; one in service
finishes (keeping its server) and is timed out if it finishes after its deadline. So a
request times out in one of two ways:

* **abandoned**: its offered wait exceeds its patience - the ``+G`` of M/M/c+G, whose queue
  this rule makes exact (an abandoning request takes no server time);
* **served late**: it starts before its deadline but its service ends after it.

For Poisson arrivals (rate lambda), c exponential servers (rate mu) and FCFS:

* **fixed patience T** (``timeout: 2s``): abandoned = ``mmc_d_abandonment(...).p_abandon``,
  the total is ``mmc_sojourn_timeout_share`` (``analysis.abandonment``), served late is the
  difference;
* **exponential patience, mean 1/theta** (``timeout: {distribution: exponential, mean}``):
  abandoned = Erlang-A's ``p_abandon`` (``erlang_a(lambda, mu, c, theta)``). A served
  request's patience exceeded its wait W, and is exponential, so what is left of it at the
  start of service is again Exp(theta) (memorylessness), independent of its Exp(mu)
  service: it finishes late with probability ``P(S > Exp(theta)) = theta / (theta + mu)``.
  Hence ``served late = (1 - p_abandon) theta / (theta + mu)``.

First attempts only, as one Poisson stream: with retries the offered load includes them and
no formula here covers it. Docs: docs/fleet-dynamics.md, "Client timeouts and retries".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from analysis.abandonment import erlang_a, mmc_d_abandonment, mmc_sojourn_timeout_share


@dataclass(frozen=True)
class TimeoutShare:
    """The shares of requests that time out, by how (probabilities per arrival).

    Attributes:
        p_abandon: left the queue at the deadline, never served.
        p_served_late: served, but finished after the deadline.

    """

    p_abandon: float
    p_served_late: float

    @property
    def p_timed_out(self) -> float:
        """All timed-out requests: ``p_abandon + p_served_late``."""
        return self.p_abandon + self.p_served_late


def mmc_timeout_share(
    arrival_rate: float,
    service_rate: float,
    servers: int,
    patience_s: float,
    distribution: Literal["fixed", "exponential"] = "fixed",
) -> TimeoutShare:
    """The timed-out share of M/M/c with client timeouts, service never interrupted.

    Args:
        arrival_rate: lambda (1/s).
        service_rate: mu per server (1/s).
        servers: c.
        patience_s: the timeout T (s) for ``fixed``; the mean patience 1/theta (s) for
            ``exponential``.
        distribution: ``fixed`` (every request's patience is T) or ``exponential``.

    Returns:
        The abandoned and served-late shares (see the module docstring).

    Raises:
        ValueError: bad rates, a patience not > 0 s for ``exponential`` (or < 0 s for
            ``fixed``), or an unknown distribution.

    """
    if distribution == "fixed":
        total = mmc_sojourn_timeout_share(arrival_rate, service_rate, servers, patience_s)
        abandon = mmc_d_abandonment(arrival_rate, service_rate, servers, patience_s).p_abandon
        return TimeoutShare(abandon, max(0.0, total - abandon))
    if distribution == "exponential":
        if not patience_s > 0:
            raise ValueError(f"mean patience must be > 0 s, got {patience_s!r}")
        theta = 1.0 / patience_s
        abandon = erlang_a(arrival_rate, service_rate, servers, theta).p_abandon
        return TimeoutShare(abandon, (1.0 - abandon) * theta / (theta + service_rate))
    raise ValueError(f"distribution must be 'fixed' or 'exponential', got {distribution!r}")
