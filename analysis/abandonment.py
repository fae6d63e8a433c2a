"""Closed forms for queues whose customers give up, and for repairable units (times in s).

Used to check fleetsim's client timeouts, failures and repairs (issue 15); the theory and its
sources are in docs/fleet-dynamics.md. Rates are in 1/s, loads in erlangs.

Timeout semantics. Two different things are called a "timeout":

* **Patience while waiting** (the ``+M`` / ``+D`` of Erlang-A and M/M/c+D): a customer still in
  the queue after its patience leaves the queue; once in service it always finishes.
* **A timeout on the whole sojourn** (fleetsim's ``clients.timeout``): a request not *finished*
  by T is timed out. If service is **not interrupted** at T (the server finishes the work and
  the answer is discarded), the queue behaves exactly as M/M/c+D with patience T (a request
  still waiting at T leaves; one in service keeps its server), and
  :func:`mmc_sojourn_timeout_share` gives the timed-out share exactly: those that leave the
  queue plus those served but finishing after T. If service **is** interrupted at T (the server
  is freed), servers are released earlier and none of these formulas is exact (the share is
  then lower); they do not cover it. None of them covers retries: each formula is for
  first attempts arriving as one Poisson stream.

All formulas assume FCFS, Poisson arrivals of rate lambda, c identical exponential servers of
rate mu and patience independent of everything else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# The default relative truncation error of the Erlang-A chain (see erlang_a).
DEFAULT_TOLERANCE = 1e-13
# States summed at most before erlang_a gives up (theta tiny and lambda > c mu).
MAX_STATES = 2_000_000


@dataclass(frozen=True)
class Abandonment:
    """Stationary figures of a queue with impatient customers.

    Attributes:
        p_wait: P(an arrival finds all servers busy) = P(wait > 0) (PASTA).
        p_abandon: P(an arrival leaves the queue unserved).
        mean_wait_s: mean time (s) an arrival spends in the queue, whether then served or
            abandoning (E[queue length] / lambda by Little's law).
        mean_queue: mean number waiting (not in service).
        truncation_error: an upper bound on the relative error of the sums from truncating
            the chain (0 for closed forms).

    """

    p_wait: float
    p_abandon: float
    mean_wait_s: float
    mean_queue: float
    truncation_error: float = 0.0


def _check_rates(arrival_rate: float, service_rate: float, servers: int) -> None:
    if servers < 1:
        raise ValueError(f"servers must be >= 1, got {servers!r}")
    if not (arrival_rate > 0 and service_rate > 0):
        raise ValueError(f"rates must be > 0, got {arrival_rate!r}, {service_rate!r}")


def _log_erlang_b(servers: int, offered_load: float) -> float:
    """Natural log of Erlang B (blocking of M/M/c/c) by the stable recursion; servers may be 0."""
    b = 1.0
    for k in range(1, servers + 1):
        b = offered_load * b / (k + offered_load * b)
    return math.log(b)


def erlang_a(
    arrival_rate: float,
    service_rate: float,
    servers: int,
    abandon_rate: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Abandonment:
    """Erlang-A (M/M/c+M): exponential patience of rate theta while waiting.

    The number in system is a birth-death chain: birth rate lambda, death rate
    ``min(n, c) mu + max(n - c, 0) theta``. Its stationary weights relative to state c are
    ``pi_c * prod_{k=1..j} lambda / (c mu + k theta)`` for n = c + j, and
    ``pi_c * prod_{k=n+1..c} k mu / lambda`` below c, summed in log space (no overflow for
    thousands of servers). The sum is
    truncated at the first n past which the ratio ``r = lambda / (c mu + (j+1) theta)`` is < 1
    and the geometric bound on the rest, ``w_n r / (1 - r)`` for the mass and
    ``w_n (j r / (1 - r) + r / (1 - r)^2)`` for the queue length, is below ``tolerance`` times
    the sums so far; ``truncation_error`` reports that bound. Then
    ``P(abandon) = theta E[Q] / lambda`` (abandonment rate over arrival rate) and
    ``E[W] = E[Q] / lambda``. Source: Palm (1943); Garnett, Mandelbaum & Reiman (2002),
    "Designing a call center with impatient customers", M&SOM 4(3).

    With theta = 0 it is M/M/c (needs lambda < c mu), summed in closed form: the results
    equal :func:`analysis.queueing.erlang_c` and ``mmc_mean_wait_s``.

    Args:
        arrival_rate: lambda (1/s).
        service_rate: mu per server (1/s).
        servers: c.
        abandon_rate: theta (1/s), the reciprocal of the mean patience; >= 0.
        tolerance: the relative truncation error allowed.

    Returns:
        The stationary figures (patience-while-waiting semantics; see the module docstring).

    Raises:
        ValueError: bad rates; theta = 0 with lambda >= c mu; or more than ``MAX_STATES``
            states needed (lambda / theta beyond about a million).

    """
    _check_rates(arrival_rate, service_rate, servers)
    if abandon_rate < 0:
        raise ValueError(f"abandon rate must be >= 0, got {abandon_rate!r}")
    lam, mu, c, theta = arrival_rate, service_rate, servers, abandon_rate
    # Log weights below c relative to pi_c: ln prod_{k=n+1..c} k mu / lambda, n = c-1..0.
    ks = np.arange(c, 0, -1, dtype=float)
    log_below = np.cumsum(np.log(ks * mu / lam))
    if theta == 0.0:
        rho = lam / (c * mu)
        if rho >= 1.0:
            raise ValueError(f"unstable without abandonment: lambda/(c mu) = {rho} >= 1")
        # above c: sum_{j>=0} rho^j = 1/(1-rho); queue: sum_j j rho^j = rho/(1-rho)^2
        log_total = np.logaddexp(_logsumexp(log_below), -math.log1p(-rho))
        p_wait = math.exp(-math.log1p(-rho) - log_total)
        mean_queue = math.exp(math.log(rho) - 2 * math.log1p(-rho) - log_total)
        return Abandonment(p_wait, 0.0, mean_queue / lam, mean_queue, 0.0)
    # Above c: running sums scaled by e^{-top}, top the largest log weight so far.
    log_b = _logsumexp(log_below)
    top = max(0.0, log_b)
    below = math.exp(log_b - top)
    above, queue, log_w, j = math.exp(-top), 0.0, 0.0, 0
    while True:
        r = lam / (c * mu + (j + 1) * theta)
        if r < 1.0:
            w = math.exp(log_w - top)
            tail_mass = w * r / (1.0 - r)
            tail_queue = w * (j * r / (1.0 - r) + r / (1.0 - r) ** 2)
            bound = max(tail_mass / (below + above), tail_queue / queue if queue else math.inf)
            if bound <= tolerance:
                break
        j += 1
        if j > MAX_STATES:
            raise ValueError(f"Erlang-A chain did not converge in {MAX_STATES} states")
        log_w += math.log(r)
        if log_w > top:  # rescale the sums to the new largest weight
            scale = math.exp(top - log_w)
            below, above, queue, top = below * scale, above * scale, queue * scale, log_w
        w = math.exp(log_w - top)
        above += w
        queue += j * w
    total = below + above
    mean_queue = queue / total
    return Abandonment(above / total, theta * mean_queue / lam, mean_queue / lam, mean_queue, bound)


def _logsumexp(logs: np.ndarray) -> float:
    """Natural log of sum exp(logs), without overflow; -inf for an empty array."""
    if logs.size == 0:
        return -math.inf
    m = float(np.max(logs))
    return m + math.log(float(np.sum(np.exp(logs - m))))


def _mmc_d_parts(
    arrival_rate: float, service_rate: float, servers: int, patience_s: float
) -> tuple[float, float, float, float]:
    """Terms of M/M/c+D without overflow: (lambda p_{c-1}, x, P(V > 0), delta).

    ``x = lambda p_{c-1} e^{delta T}`` (delta = lambda - c mu) and
    ``p_{c-1} = B / (1 + B lambda J)``, B the Erlang B of c - 1 servers. When delta > 0,
    J grows like e^{delta T}, so x is computed with every term multiplied by e^{-delta T}, and
    ``lambda p_{c-1}`` (then tiny) is returned as x e^{-delta T}.
    """
    lam, mu, c, t = arrival_rate, service_rate, servers, patience_s
    delta = lam - c * mu
    b = math.exp(_log_erlang_b(c - 1, lam / mu))
    if delta > 0.0:
        # J e^{-delta T} = (1 - e^{-delta T}) / delta + 1 / (c mu)
        j_scaled = -math.expm1(-delta * t) / delta + 1.0 / (c * mu)
        x = lam * b / (math.exp(-delta * t) + b * lam * j_scaled)
        return x * math.exp(-delta * t), x, x * j_scaled, delta
    growth = math.exp(delta * t)  # <= 1
    # J = (1 - e^{delta T}) / (-delta) + e^{delta T} / (c mu); -> T + 1/(c mu) as delta -> 0
    head = -math.expm1(delta * t) / -delta if delta != 0.0 else t
    j = head + growth / (c * mu)
    lam_p = lam * b / (1.0 + b * lam * j)
    return lam_p, lam_p * growth, lam_p * j, delta


def _exp_integral(rate: float, t: float) -> float:
    """int_0^T s e^{rate (s - T)} ds = T/rate - (1 - e^{-rate T})/rate^2 (T^2/2 at rate 0)."""
    z = rate * t
    if abs(z) < 1e-4:
        return t * t * (0.5 - z / 6.0)
    return t / rate + math.expm1(-z) / (rate * rate)


def mmc_d_abandonment(
    arrival_rate: float, service_rate: float, servers: int, patience_s: float
) -> Abandonment:
    """M/M/c+D: every customer waits at most ``patience_s`` in queue, then leaves (FCFS).

    Derivation (level crossing of the offered waiting time V, the wait an arrival would have;
    Baccelli & Hebuterne 1981, "On queues with impatient customers"; Zeltyn & Mandelbaum 2005
    for M/M/n+G). With c servers busy the departures are Poisson(c mu), so a customer who
    joins adds an Exp(c mu) amount to V, and V falls at rate 1. Balancing crossings of level
    x with patience cdf G and ``H(x) = int_0^x (1 - G)`` gives the density of V on x > 0,
    ``v(x) = lambda p_{c-1} exp(lambda H(x) - c mu x)``; below c busy servers the chain is
    Erlang's, ``p_k = p_0 a^k / k!``. With deterministic patience T, ``H(x) = min(x, T)``:

    * ``J = int_0^inf exp(lambda H(x) - c mu x) dx = (e^{delta T} - 1)/delta + e^{delta T}/(c mu)``
      with ``delta = lambda - c mu`` (T + 1/(c mu) when delta = 0);
    * normalisation: ``p_{c-1} = B / (1 + B lambda J)``, B = Erlang B(c - 1, a);
    * ``P(wait > 0) = P(V > 0) = lambda p_{c-1} J``;
    * ``P(abandon) = P(V > T) = lambda p_{c-1} e^{delta T} / (c mu)``;
    * ``E[wait] = int_0^T x v(x) dx + T P(V > T)`` (those who leave waited exactly T).

    Checks: T = 0 gives Erlang B (blocking of M/M/c/c); T -> inf with lambda < c mu gives
    Erlang C. Computed without overflow for any load (lambda >= c mu included) and any T.

    Args:
        arrival_rate: lambda (1/s).
        service_rate: mu per server (1/s).
        servers: c.
        patience_s: T (s), the same for every customer; applies to the wait in queue only.

    Returns:
        The stationary figures; see :func:`mmc_sojourn_timeout_share` for a timeout on the
        whole sojourn.

    """
    _check_rates(arrival_rate, service_rate, servers)
    if not patience_s >= 0:
        raise ValueError(f"patience must be >= 0 s, got {patience_s!r}")
    lam, mu, c, t = arrival_rate, service_rate, servers, patience_s
    lam_p, x, p_wait, delta = _mmc_d_parts(lam, mu, c, t)
    p_abandon = x / (c * mu)
    # int_0^T s v(s) ds with v(s) = x e^{delta (s - T)}; for delta <= 0 use lam_p e^{delta s}.
    if delta > 0.0:
        waited = x * _exp_integral(delta, t)
    else:
        d = -delta  # int_0^T s e^{-d s} ds = (1 - e^{-dT}(1 + dT)) / d^2
        z = d * t
        waited = lam_p * (
            t * t * (0.5 - z / 3.0) if z < 1e-4 else (-math.expm1(-z) - z * math.exp(-z)) / (d * d)
        )
    mean_wait_s = waited + t * p_abandon
    return Abandonment(p_wait, p_abandon, mean_wait_s, lam * mean_wait_s, 0.0)


def mmc_sojourn_timeout_share(
    arrival_rate: float, service_rate: float, servers: int, timeout_s: float
) -> float:
    """Share of requests not finished within ``timeout_s`` of arrival, service not interrupted.

    The semantics of a client timeout on the whole sojourn where the server, once started,
    finishes the work anyway (the late answer is discarded). Waiting requests still queued at
    T leave, so the queue is M/M/c+D with patience T (:func:`mmc_d_abandonment`); a request
    that starts after waiting w < T times out when its Exp(mu) service exceeds T - w. Hence
    ``P(timed out) = P(V > T) + P(V = 0) e^{-mu T} + int_0^T v(x) e^{-mu (T - x)} dx``, where
    the integral is ``lambda p_{c-1} (e^{delta T} - e^{-mu T}) / (delta + mu)``.

    Not covered: servers freed at the timeout (interrupted service), and retries.

    Args:
        arrival_rate: lambda (1/s).
        service_rate: mu per server (1/s).
        servers: c.
        timeout_s: T (s) from arrival to the end of service.

    Returns:
        P(sojourn > T), in [0, 1].

    """
    fig = mmc_d_abandonment(arrival_rate, service_rate, servers, timeout_s)
    lam_p, x, _, delta = _mmc_d_parts(arrival_rate, service_rate, servers, timeout_s)
    mu, t = service_rate, timeout_s
    k = delta + mu
    if delta > 0.0:  # x (1 - e^{-kT}) / k, k > mu > 0
        waited = x * -math.expm1(-k * t) / k
    elif k * t < 1.0:  # lam_p e^{-mu T} (e^{kT} - 1) / k, no overflow
        waited = lam_p * math.exp(-mu * t) * (math.expm1(k * t) / k if k != 0.0 else t)
    else:
        waited = lam_p * (math.exp(delta * t) - math.exp(-mu * t)) / k
    late = (1.0 - fig.p_wait) * math.exp(-mu * t) + waited
    return min(1.0, fig.p_abandon + late)


def availability(mtbf_s: float, mttr_s: float) -> float:
    """Long-run availability of a repairable unit: MTBF / (MTBF + MTTR).

    Holds for any up- and down-time distributions with these means (alternating renewal
    process, renewal-reward theorem; e.g. Ross, "Stochastic Processes", 2nd ed., §3.4.1).

    Args:
        mtbf_s: mean up time (s) between the end of a repair and the next failure.
        mttr_s: mean down time (s) of one repair.

    Returns:
        The long-run share of time up, in (0, 1].

    """
    if not (mtbf_s > 0 and mttr_s >= 0):
        raise ValueError(f"need mtbf > 0 and mttr >= 0 s, got {mtbf_s!r}, {mttr_s!r}")
    return mtbf_s / (mtbf_s + mttr_s)


def availability_standard_error(
    mtbf_s: float,
    mttr_s: float,
    horizon_s: float,
    up_cv2: float = 1.0,
    down_cv2: float = 1.0,
    units: int = 1,
) -> float:
    """Asymptotic standard error of the availability measured over one long run.

    The estimate is the up time over ``horizon_s`` (pooled over ``units`` independent units).
    Over n ~ horizon / m cycles (m = MTBF + MTTR) it is a ratio estimator, so by the delta
    method (CLT for renewal-reward processes) its variance is
    ``(MTTR^2 Var[U] + MTBF^2 Var[D]) / (m^3 horizon units)``, with ``Var[U] = up_cv2 MTBF^2``
    and ``Var[D] = down_cv2 MTTR^2``. Exponential up and down times (cv2 = 1) give
    ``sqrt(2 MTBF^2 MTTR^2 / (m^3 horizon units))``. A 95% interval is A +- 1.96 SE; it needs
    many cycles (horizon >> m) to be accurate.

    Args:
        mtbf_s: mean up time (s).
        mttr_s: mean down time (s).
        horizon_s: length of the run (s), from a start in the up state.
        up_cv2: squared coefficient of variation of up times (1 exponential; Weibull shape k:
            ``weibull_cv2(k)``).
        down_cv2: squared coefficient of variation of down times (0 for a fixed repair time).
        units: independent units observed over the horizon.

    Returns:
        The standard error (dimensionless).

    """
    if not (horizon_s > 0 and units >= 1):
        raise ValueError(f"need horizon > 0 s and units >= 1, got {horizon_s!r}, {units!r}")
    availability(mtbf_s, mttr_s)  # validates
    m = mtbf_s + mttr_s
    var = mttr_s**2 * up_cv2 * mtbf_s**2 + mtbf_s**2 * down_cv2 * mttr_s**2
    return math.sqrt(var / (m**3 * horizon_s * units))


def weibull_cv2(shape: float) -> float:
    """Squared coefficient of variation of a Weibull of this shape: G(1+2/k)/G(1+1/k)^2 - 1."""
    if not shape > 0:
        raise ValueError(f"Weibull shape must be > 0, got {shape!r}")
    return math.exp(math.lgamma(1 + 2 / shape) - 2 * math.lgamma(1 + 1 / shape)) - 1.0
