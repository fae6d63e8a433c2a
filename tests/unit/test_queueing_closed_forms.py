"""The closed forms of ``analysis.queueing`` against textbook values worked by hand.

The statistical tests compare simulations with these functions; here the functions themselves
are pinned, exactly and fast, so a wrong formula cannot hide behind a wide interval.
"""

from __future__ import annotations

import math

import pytest

from analysis import queueing


@pytest.mark.parametrize(
    "servers,load,expected",
    [
        (1, 0.5, 0.5),  # M/M/1: P(wait) = rho
        (2, 1.0, 1 / 3),
        (3, 2.0, 4 / 9),
        (2, 0.0, 0.0),  # an idle system never makes anyone wait
    ],
)
def test_erlang_c_textbook_values(servers, load, expected):
    """Erlang C for small systems, worked by hand: C(1, a) = a, C(2, 1) = 1/3, C(3, 2) = 4/9."""
    assert queueing.erlang_c(servers, load) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("servers,load", [(1, 1.0), (2, 2.0), (2, 3.5)])
def test_erlang_c_refuses_an_unstable_load(servers, load):
    """An offered load at or above the server count has no steady state: a ValueError."""
    with pytest.raises(ValueError, match="unstable: offered load"):
        queueing.erlang_c(servers, load)


def test_mmc_mean_wait():
    """M/M/1 at rho = 0.5, mu = 1: Wq = rho / (mu - lambda) = 1 s; M/M/2 at a = 1, mu = 2:
    Wq = C / (c mu - lambda) = (1/3) / 2 s."""
    assert queueing.mmc_mean_wait_s(0.5, 1.0, 1) == pytest.approx(1.0, rel=1e-12)
    assert queueing.mmc_mean_wait_s(2.0, 2.0, 2) == pytest.approx(1 / 6, rel=1e-12)


def test_mmc_wait_tail():
    """P(wait > t) = C exp(-(c mu - lambda) t): M/M/1, lambda = 1, mu = 2, t = 1 s."""
    assert queueing.mmc_wait_tail(1.0, 2.0, 1, 1.0) == pytest.approx(0.5 * math.exp(-1.0))
    assert queueing.mmc_wait_tail(1.0, 2.0, 1, 0.0) == pytest.approx(0.5)


def test_mmc_wait_quantile():
    """The q-quantile of the wait solves C exp(-(c mu - lambda) t) = 1 - q; it is 0 when at
    least a fraction q of arrivals do not wait at all."""
    # M/M/1, lambda = 1, mu = 2: C = 0.5, decay 1/s; p90 = ln(0.5 / 0.1) = ln 5 s
    assert queueing.mmc_wait_quantile_s(1.0, 2.0, 1, 0.9) == pytest.approx(math.log(5.0))
    assert queueing.mmc_wait_quantile_s(1.0, 2.0, 1, 0.99) == pytest.approx(math.log(50.0))
    # lambda = 1, mu = 3: C = 1/3, decay 2/s; p90 = ln((1/3) / 0.1) / 2
    assert queueing.mmc_wait_quantile_s(1.0, 3.0, 1, 0.9) == pytest.approx(math.log(10 / 3) / 2)
    assert queueing.mmc_wait_quantile_s(1.0, 2.0, 1, 0.4) == 0.0  # 50% never wait
    assert queueing.mmc_wait_quantile_s(1.0, 2.0, 1, 0.5) == 0.0  # the boundary


def test_mg1_mean_wait_is_pollaczek_khinchine():
    """P-K: lambda E[S^2] / (2 (1 - rho)). Exponential service (var = mean^2) gives M/M/1's
    wait; deterministic service (M/D/1) half of it."""
    # lambda = 1, mean 0.5 s (rho = 0.5): M/M/1 with mu = 2 waits 0.5 s; M/D/1 0.25 s
    assert queueing.mg1_mean_wait_s(1.0, 0.5, 0.25) == pytest.approx(0.5, rel=1e-12)
    assert queueing.md1_mean_wait_s(1.0, 0.5) == pytest.approx(0.25, rel=1e-12)
    # lambda = 0.2, mean 2 s, var 1 s^2 (rho = 0.4): 0.2 * 5 / 1.2
    assert queueing.mg1_mean_wait_s(0.2, 2.0, 1.0) == pytest.approx(1 / 1.2, rel=1e-12)


@pytest.mark.parametrize("rate", [1.0, 1.5])
def test_mg1_refuses_utilisation_of_one_or_more(rate):
    """rho >= 1 has no steady state: a ValueError naming the utilisation."""
    with pytest.raises(ValueError, match="unstable: utilisation"):
        queueing.mg1_mean_wait_s(rate, 1.0, 0.0)


def test_littles_law():
    """L = lambda W."""
    assert queueing.littles_law_l(4.0, 0.25) == 1.0


def test_mm1_sojourn_quantile():
    """M/M/1 sojourn time is exponential(mu - lambda): p99 = ln(100)/(mu - lambda); its tail
    at that quantile is 1%; it is the M/M/1 wait quantile plus nothing at q -> the median."""
    lam, mu = 700.0, 1000.0
    p99 = queueing.mm1_sojourn_quantile_s(lam, mu, 0.99)
    assert p99 == pytest.approx(math.log(100) / 300.0, rel=1e-12)
    assert math.exp(-(mu - lam) * p99) == pytest.approx(0.01, rel=1e-12)
    assert queueing.mm1_sojourn_quantile_s(lam, mu, 0.5) == pytest.approx(math.log(2) / 300.0)


@pytest.mark.parametrize(("lam", "mu", "q"), [(1.0, 1.0, 0.5), (2.0, 1.0, 0.5), (1.0, 2.0, 1.0),
                                              (1.0, 2.0, 0.0)])  # fmt: skip
def test_mm1_sojourn_quantile_refuses(lam, mu, q):
    """An unstable queue or a q outside (0, 1) is refused."""
    with pytest.raises(ValueError):
        queueing.mm1_sojourn_quantile_s(lam, mu, q)
