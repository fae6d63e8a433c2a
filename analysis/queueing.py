"""Closed forms of queueing theory, to check simulations against (times in s, rates in 1/s).

The same functions serve fleetsim's own validation tests and users who want to check their
scenarios: e.g. a pool with ``max_batch: 1``, exponential service and Poisson arrivals is an
M/M/c queue per instance (c = replicas), and random balancing over k instances splits a
Poisson stream into k independent Poisson streams of rate lambda/k.
"""

from __future__ import annotations

import math


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in M/M/c (Erlang C).

    Args:
        servers: c, the number of servers.
        offered_load: a = lambda / mu (erlangs); must be < c.

    Returns:
        P(wait > 0).

    """
    if offered_load >= servers:
        raise ValueError(f"unstable: offered load {offered_load} >= {servers} servers")
    # Erlang B by the stable recursion, then C = B / (1 - rho (1 - B)).
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    rho = offered_load / servers
    return b / (1.0 - rho * (1.0 - b))


def mmc_mean_wait_s(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean time in queue (s) of M/M/c: C(c, a) / (c mu - lambda)."""
    a = arrival_rate / service_rate
    return erlang_c(servers, a) / (servers * service_rate - arrival_rate)


def mmc_wait_tail(arrival_rate: float, service_rate: float, servers: int, t_s: float) -> float:
    """P(wait > t) for M/M/c FIFO: C(c, a) * exp(-(c mu - lambda) t)."""
    a = arrival_rate / service_rate
    return erlang_c(servers, a) * math.exp(-(servers * service_rate - arrival_rate) * t_s)


def mmc_wait_quantile_s(arrival_rate: float, service_rate: float, servers: int, q: float) -> float:
    """The q-quantile (0 < q < 1) of the M/M/c FIFO waiting time (s); 0 if P(wait>0) <= 1-q."""
    a = arrival_rate / service_rate
    c_wait = erlang_c(servers, a)
    if c_wait <= 1.0 - q:
        return 0.0
    return math.log(c_wait / (1.0 - q)) / (servers * service_rate - arrival_rate)


def mg1_mean_wait_s(arrival_rate: float, mean_service_s: float, service_var_s2: float) -> float:
    """Pollaczek-Khinchine mean wait of M/G/1: lambda E[S^2] / (2 (1 - rho))."""
    rho = arrival_rate * mean_service_s
    if rho >= 1:
        raise ValueError(f"unstable: utilisation {rho} >= 1")
    second_moment = service_var_s2 + mean_service_s**2
    return arrival_rate * second_moment / (2.0 * (1.0 - rho))


def md1_mean_wait_s(arrival_rate: float, service_s: float) -> float:
    """Mean wait of M/D/1 (P-K with zero variance): rho D / (2 (1 - rho))."""
    return mg1_mean_wait_s(arrival_rate, service_s, 0.0)


def littles_law_l(arrival_rate: float, mean_time_in_system_s: float) -> float:
    """Little's law: mean number in system L = lambda W."""
    return arrival_rate * mean_time_in_system_s


def mm1_sojourn_quantile_s(arrival_rate: float, service_rate: float, q: float) -> float:
    """The q-quantile (0 < q < 1) of the M/M/1 FIFO sojourn time (wait + service, s).

    The sojourn time of M/M/1 FIFO is exponential with rate mu - lambda, so its quantile is
    -ln(1 - q) / (mu - lambda): the p99 is ln(100) / (mu - lambda).
    """
    if arrival_rate >= service_rate:
        raise ValueError(f"unstable: arrival rate {arrival_rate} >= service rate {service_rate}")
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
    return -math.log1p(-q) / (service_rate - arrival_rate)
