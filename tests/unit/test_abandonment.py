"""Exact checks of analysis.abandonment: hand-derived cases, limits and a second derivation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.abandonment import (
    availability,
    availability_standard_error,
    erlang_a,
    mmc_d_abandonment,
    mmc_sojourn_timeout_share,
    weibull_cv2,
)
from analysis.queueing import erlang_c, mmc_mean_wait_s
from analysis.timeouts import mmc_timeout_share


def _erlang_b(servers: int, load: float) -> float:
    """Erlang B from its definition, (a^c / c!) / sum_k a^k / k! (small c only)."""
    terms = [load**k / math.factorial(k) for k in range(servers + 1)]
    return terms[-1] / sum(terms)


@pytest.mark.parametrize(("servers", "load"), [(1, 0.5), (3, 2.0), (5, 7.0)])
def test_erlang_a_with_patience_equal_to_service_is_poisson(servers, load):
    """theta = mu makes every customer leave at rate mu: the number in system is Poisson(a)."""
    fig = erlang_a(load, 1.0, servers, 1.0)
    pmf = [math.exp(-load) * load**n / math.factorial(n) for n in range(120)]
    p_wait = sum(pmf[servers:])
    mean_queue = sum((n - servers) * p for n, p in enumerate(pmf) if n > servers)
    assert fig.p_wait == pytest.approx(p_wait, rel=1e-12)
    assert fig.mean_queue == pytest.approx(mean_queue, rel=1e-12)
    assert fig.p_abandon == pytest.approx(mean_queue / load, rel=1e-12)
    assert fig.truncation_error <= 1e-13


@pytest.mark.parametrize(("servers", "load"), [(1, 0.9), (4, 3.2), (50, 45.0), (1000, 990.0)])
def test_erlang_a_without_abandonment_is_erlang_c(servers, load):
    """theta = 0 is M/M/c; theta -> 0 tends to it (difference of order theta)."""
    exact = erlang_a(load, 1.0, servers, 0.0)
    assert exact.p_wait == pytest.approx(erlang_c(servers, load), rel=1e-10)
    assert exact.mean_wait_s == pytest.approx(mmc_mean_wait_s(load, 1.0, servers), rel=1e-10)
    assert exact.p_abandon == 0.0
    near = erlang_a(load, 1.0, servers, 1e-9)
    assert near.p_wait == pytest.approx(exact.p_wait, rel=1e-5)
    assert near.mean_wait_s == pytest.approx(exact.mean_wait_s, rel=1e-5)
    assert near.p_abandon == pytest.approx(1e-9 * exact.mean_wait_s, rel=1e-4)


def test_erlang_a_overload_tends_to_the_fluid_limit():
    """lambda = 1.2 c mu with slow patience: P(abandon) -> 1 - c mu / lambda = 1/6."""
    fig = erlang_a(1200.0, 1.0, 1000, 0.01)
    assert fig.p_abandon == pytest.approx(1 / 6, rel=1e-3)
    assert fig.p_wait == pytest.approx(1.0, abs=1e-6)


def _general_patience(lam, mu, c, survival, horizon_s, points=400_001):
    """M/M/n+G by quadrature of v(x) = lambda p_{c-1} exp(lambda H(x) - c mu x) (a second
    derivation: level crossing, not the birth-death chain). Returns (P(wait), P(abandon))."""
    x = np.linspace(0.0, horizon_s, points)
    s = survival(x)
    h = np.concatenate([[0.0], np.cumsum((s[1:] + s[:-1]) / 2 * np.diff(x))])
    shape = np.exp(lam * h - c * mu * x)
    j = np.trapezoid(shape, x)
    top = (lam / mu) ** (c - 1) / math.factorial(c - 1)
    e = sum((lam / mu) ** k / math.factorial(k) for k in range(c))
    p_last = top / (e + top * lam * j)
    return lam * p_last * j, lam * p_last * np.trapezoid(shape * (1.0 - s), x)


@pytest.mark.parametrize(("lam", "c", "theta"), [(0.8, 1, 0.5), (4.4, 4, 0.5), (9.0, 6, 2.0)])
def test_erlang_a_agrees_with_the_general_patience_formula(lam, c, theta):
    """The chain and the M/M/n+G level-crossing formula with exponential patience agree."""
    p_wait, p_ab = _general_patience(lam, 1.0, c, lambda x: np.exp(-theta * x), 80.0)
    fig = erlang_a(lam, 1.0, c, theta)
    assert fig.p_wait == pytest.approx(p_wait, rel=1e-6)
    assert fig.p_abandon == pytest.approx(p_ab, rel=1e-6)


@pytest.mark.parametrize(("lam", "c", "t"), [(0.8, 1, 1.0), (4.4, 4, 0.3), (9.0, 6, 2.0)])
def test_mmc_d_agrees_with_quadrature(lam, c, t):
    """The closed form of M/M/c+D equals the quadrature of the general formula (step H)."""
    p_wait, p_ab = _general_patience(lam, 1.0, c, lambda x: (x < t).astype(float), 60.0)
    fig = mmc_d_abandonment(lam, 1.0, c, t)
    assert fig.p_wait == pytest.approx(p_wait, rel=1e-4)
    assert fig.p_abandon == pytest.approx(p_ab, rel=1e-4)


def test_mm1_d_by_hand():
    """lambda = mu = 1, T = 1: J = 2, p0 = 1/3, P(abandon) = 1/3, P(wait) = 2/3, E[W] = 1/2."""
    fig = mmc_d_abandonment(1.0, 1.0, 1, 1.0)
    assert fig.p_abandon == pytest.approx(1 / 3, rel=1e-12)
    assert fig.p_wait == pytest.approx(2 / 3, rel=1e-12)
    assert fig.mean_wait_s == pytest.approx(1 / 2, rel=1e-12)
    # sojourn timeout: 1/3 leave + (1/3) e^-1 unqueued but slow + (1/3)(1 - e^-1) = 2/3
    assert mmc_sojourn_timeout_share(1.0, 1.0, 1, 1.0) == pytest.approx(2 / 3, rel=1e-12)


@pytest.mark.parametrize(("servers", "load"), [(1, 0.5), (4, 3.0), (10, 12.0)])
def test_mmc_d_limits(servers, load):
    """T = 0 is Erlang B (M/M/c/c); T -> inf with a < c is Erlang C; a timeout of 0 is all."""
    zero = mmc_d_abandonment(load, 1.0, servers, 0.0)
    assert zero.p_abandon == pytest.approx(_erlang_b(servers, load), rel=1e-12)
    assert zero.mean_wait_s == 0.0
    assert mmc_sojourn_timeout_share(load, 1.0, servers, 0.0) == pytest.approx(1.0)
    if load < servers:
        inf = mmc_d_abandonment(load, 1.0, servers, 1e4)
        assert inf.p_wait == pytest.approx(erlang_c(servers, load), rel=1e-10)
        assert inf.mean_wait_s == pytest.approx(mmc_mean_wait_s(load, 1.0, servers), rel=1e-10)
        assert inf.p_abandon < 1e-300 + 1e-12


def test_mmc_d_stays_finite_at_extremes():
    """No overflow for heavy overload with long patience, or light load with long patience."""
    heavy = mmc_d_abandonment(1200.0, 1.0, 1000, 50.0)
    assert heavy.p_abandon == pytest.approx(1 / 6, rel=1e-9)
    light = mmc_d_abandonment(1.0, 1.0, 10, 1e4)
    assert 0.0 < light.p_wait < 1e-6
    assert 0.0 <= mmc_sojourn_timeout_share(1200.0, 1.0, 1000, 50.0) <= 1.0


def test_availability_and_its_standard_error():
    """30 d MTBF, 10 min MTTR; the exponential SE by hand; Weibull shape 1 is exponential."""
    day = 86400.0
    assert availability(30 * day, 600.0) == 30 * day / (30 * day + 600.0)
    se = availability_standard_error(3600.0, 400.0, 4e6, units=2)
    assert se == pytest.approx(math.sqrt(2 * 3600.0**2 * 400.0**2 / (4000.0**3 * 4e6 * 2)))
    assert weibull_cv2(1.0) == pytest.approx(1.0)
    assert weibull_cv2(2.0) == pytest.approx(4 / math.pi - 1)
    with pytest.raises(ValueError, match="mtbf"):
        availability(0.0, 1.0)


def test_bad_input_is_rejected():
    """Non-positive rates, negative patience and no servers raise ValueError."""
    with pytest.raises(ValueError, match="servers"):
        erlang_a(1.0, 1.0, 0, 1.0)
    with pytest.raises(ValueError, match="unstable"):
        erlang_a(2.0, 1.0, 1, 0.0)
    with pytest.raises(ValueError, match="patience"):
        mmc_d_abandonment(1.0, 1.0, 1, -1.0)


def test_timeout_share_fixed_by_hand():
    """M/M/1, lambda = mu = 1, T = 1: 1/3 abandon, 1/3 served late (parts of the sojourn share)."""
    share = mmc_timeout_share(1.0, 1.0, 1, 1.0)
    assert share.p_abandon == pytest.approx(1 / 3, rel=1e-12)
    assert share.p_served_late == pytest.approx(1 / 3, rel=1e-12)
    assert share.p_timed_out == pytest.approx(mmc_sojourn_timeout_share(1.0, 1.0, 1, 1.0))


@pytest.mark.parametrize("load", [0.5, 2.0])
def test_timeout_share_exponential_by_hand(load):
    """theta = mu = 1, c = 1: N ~ Poisson(a), so P(abandon) = (a - 1 + e^-a) / a; a served
    request's remaining patience is Exp(1) against an Exp(1) service: late with 1/2."""
    share = mmc_timeout_share(load, 1.0, 1, 1.0, "exponential")
    abandon = (load - 1.0 + math.exp(-load)) / load
    assert share.p_abandon == pytest.approx(abandon, rel=1e-12)
    assert share.p_served_late == pytest.approx((1.0 - abandon) / 2.0, rel=1e-12)


def test_timeout_share_limits_and_bad_input():
    """Very patient clients: nothing times out (late share ~ theta / mu); bad input raises."""
    patient = mmc_timeout_share(3.0, 1.0, 4, 1e6, "exponential")
    assert patient.p_abandon < 1e-5 and patient.p_served_late == pytest.approx(1e-6, rel=1e-3)
    assert mmc_timeout_share(3.0, 1.0, 4, 1e4).p_timed_out < 1e-12
    with pytest.raises(ValueError, match="mean patience"):
        mmc_timeout_share(1.0, 1.0, 1, 0.0, "exponential")
    with pytest.raises(ValueError, match="distribution"):
        mmc_timeout_share(1.0, 1.0, 1, 1.0, "weibull")
