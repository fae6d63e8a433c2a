"""Client timeouts and retries (sim.policies.clients): the config, the draws, the rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from analysis.schema import DROPPED, FAILED, IN_FLIGHT, OK, TIMED_OUT
from sim.policies.clients import (
    BLOCK,
    NO_DEADLINE,
    ClientsConfig,
    ExponentialPatience,
    Patience,
    RetriesConfig,
    RetryPolicy,
    after_failed_attempt,
    client_policies,
    deadline_s,
    end_status,
    may_start,
    served_status,
)
from sim.streams import stream

ISSUE_YAML = """
timeout: 2s
retries: {max_attempts: 3, backoff: 50ms, multiplier: 2, jitter: full}
"""


def test_the_issue_example_parses_to_seconds():
    """The issue's ``clients:`` block: 2 s timeout, 3 attempts, 50 ms doubling, full jitter."""
    config = ClientsConfig.model_validate(yaml.safe_load(ISSUE_YAML))
    assert config.timeout == 2.0
    assert config.retries == RetriesConfig(
        max_attempts=3, backoff="50ms", multiplier=2.0, jitter="full", max_backoff="20s"
    )
    again = ClientsConfig.model_validate(yaml.safe_load(yaml.safe_dump(config.model_dump())))
    assert again == config


def test_exponential_patience_and_absent_keys():
    """``{distribution: exponential, mean: 2s}`` parses; no keys: no timeout, no retries."""
    drawn = ClientsConfig.model_validate({"timeout": {"distribution": "exponential",
                                                     "mean": "250ms"}})  # fmt: skip
    assert drawn.timeout == ExponentialPatience(distribution="exponential", mean="250ms")
    assert ClientsConfig.model_validate({}) == ClientsConfig(timeout=None, retries=None)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"timeout": 2}, ["timeout", "unit"]),
        ({"timeout": "0s"}, ["timeout", "greater than 0"]),
        ({"timeout": {"distribution": "weibull", "mean": "1s"}}, ["distribution", "exponential"]),
        ({"timeout": {"distribution": "exponential"}}, ["mean", "required"]),
        ({"retries": {"max_attempts": 0}}, ["max_attempts", "greater than or equal to 1"]),
        ({"retries": {"jitter": "half"}}, ["jitter", "'full' or 'none'"]),
        ({"retries": {"multiplier": 0.5}}, ["multiplier"]),
        ({"retries": {"backof": "1s"}}, ["did you mean 'backoff'"]),
        ({"timeouts": "1s"}, ["did you mean 'timeout'"]),
    ],
)
def test_bad_configs_name_the_field(data, words):
    """Each bad value fails validation with a message naming the field and the problem."""
    with pytest.raises(ValidationError) as caught:
        ClientsConfig.model_validate(data)
    text = str(caught.value)
    for word in words:
        assert word in text, text


def test_backoff_ceilings_by_hand():
    """50 ms doubling capped at 150 ms, 5 attempts: 50, 100, 150, 150 ms after attempts 1-4."""
    config = RetriesConfig(max_attempts=5, backoff="50ms", multiplier=2.0, max_backoff="150ms")
    policy = RetryPolicy(config, stream(1, "retry"))
    assert policy.ceilings_s == (0.05, 0.1, 0.15, 0.15)
    assert RetryPolicy(None, stream(1, "retry")).max_attempts == 1


def test_full_jitter_reads_the_retry_stream_in_blocks():
    """delay_s = u x ceiling, u the stream's uniforms in order, across a block boundary."""
    policy = RetryPolicy(RetriesConfig(max_attempts=4), stream(7, "retry", replication=2))
    uniforms = stream(7, "retry", replication=2).random(2 * BLOCK)
    attempts = [1 + i % 3 for i in range(BLOCK + 5)]
    got = [policy.delay_s(a) for a in attempts]
    want = [u * policy.ceilings_s[a - 1] for u, a in zip(uniforms, attempts, strict=False)]
    assert got == want


def test_full_jitter_has_the_uniform_mean_and_variance():
    """Wait after attempt 2 (ceiling 100 ms): mean 50 ms, variance 0.1**2/12, within 4 SE."""
    seed, n = 11, 2 * BLOCK
    policy = RetryPolicy(RetriesConfig(), stream(seed, "retry"))
    waits = np.array([policy.delay_s(2) for _ in range(n)])
    mean, var = 0.05, 0.1**2 / 12
    msg = f"seed {seed}: mean {waits.mean():.5f}, var {waits.var():.6f}"
    assert abs(waits.mean() - mean) <= 4 * math.sqrt(var / n), msg
    assert abs(waits.var() - var) <= 4 * math.sqrt((0.1**4 / 80 - var**2) / n), msg
    assert ((waits >= 0) & (waits < 0.1)).all(), msg


def test_no_jitter_draws_nothing():
    """``jitter: none`` waits the ceiling and leaves the stream untouched."""
    rng = stream(3, "retry")
    policy = RetryPolicy(RetriesConfig(jitter="none", max_attempts=3), rng)
    assert [policy.delay_s(1), policy.delay_s(2)] == [0.05, 0.1]
    assert rng.random() == stream(3, "retry").random()


def test_no_retry_after_the_last_attempt():
    """delay_s is only defined while an attempt is left."""
    policy = RetryPolicy(RetriesConfig(max_attempts=2), stream(1, "retry"))
    with pytest.raises(ValueError, match="attempt 2 has no retry"):
        policy.delay_s(2)
    with pytest.raises(ValueError, match="attempt 0"):
        policy.delay_s(0)


def test_patience_fixed_and_exponential():
    """Fixed: the timeout, no draws; exponential: the stream's draws in blocks, in order."""
    rng = stream(5, "patience")
    fixed = Patience(2.0, rng)
    assert [fixed.next_s() for _ in range(3)] == [2.0] * 3 and (fixed.block() == 2.0).all()
    assert rng.random() == stream(5, "patience").random()
    drawn = Patience(ExponentialPatience(distribution="exponential", mean="0.5s"),
                     stream(5, "patience"))  # fmt: skip
    want = stream(5, "patience").exponential(0.5, 2 * BLOCK)
    assert [drawn.next_s() for _ in range(BLOCK + 3)] == want[: BLOCK + 3].tolist()


def test_exponential_patience_has_its_mean():
    """Mean 0.5 s over 4 blocks: within 4 SE (SE = 0.5 / sqrt(n))."""
    seed = 21
    patience = Patience(ExponentialPatience(distribution="exponential", mean="0.5s"),
                        stream(seed, "patience"))  # fmt: skip
    values = np.concatenate([patience.block() for _ in range(4)])
    se = 0.5 / math.sqrt(values.size)
    assert abs(values.mean() - 0.5) <= 4 * se, f"seed {seed}: mean {values.mean():.5f}"


def test_client_policies_use_their_own_streams():
    """The run's policies: retry from "retry", patience from "patience", per replication."""
    config = ClientsConfig.model_validate(yaml.safe_load(ISSUE_YAML))
    retry, patience = client_policies(config, seed=9, replication=1)
    assert retry.max_attempts == 3 and patience is not None and patience.next_s() == 2.0
    assert retry.delay_s(1) == stream(9, "retry", replication=1).random() * 0.05
    none_retry, none_patience = client_policies(None, seed=9)
    assert none_retry.max_attempts == 1 and none_patience is None


def test_deadlines_and_service():
    """Deadline = first arrival + patience; start only before it; finishing at it is ok."""
    assert deadline_s(3.0, 2.0) == 5.0 and deadline_s(3.0, None) == NO_DEADLINE
    assert may_start(4.999, 5.0) and not may_start(5.0, 5.0)
    assert served_status(5.0, 5.0) == OK and served_status(5.0001, 5.0) == TIMED_OUT
    assert served_status(1e9, NO_DEADLINE) == OK
    assert end_status(5.0, 5.0) == TIMED_OUT and end_status(5.1, 5.0) == IN_FLIGHT
    assert end_status(NO_DEADLINE, 5.0) == IN_FLIGHT


def test_what_follows_a_failed_attempt():
    """Retries while attempts are left and the retry lands before the deadline; the last
    attempt ends dropped or failed; the deadline first gives timed_out; no jitter here."""
    policy = RetryPolicy(RetriesConfig(max_attempts=3, jitter="none"), stream(1, "retry"))
    assert after_failed_attempt(1, 1.0, 2.0, False, policy) == (IN_FLIGHT, 1.05)
    assert after_failed_attempt(2, 1.0, 2.0, True, policy) == (IN_FLIGHT, 1.1)
    status, at = after_failed_attempt(3, 1.0, 2.0, False, policy)
    assert status == DROPPED and math.isnan(at)
    assert after_failed_attempt(3, 1.0, NO_DEADLINE, True, policy)[0] == FAILED
    assert after_failed_attempt(1, 1.95, 2.0, False, policy)[0] == TIMED_OUT  # 2.0 >= 2.0
    assert after_failed_attempt(1, 1.94, 2.0, False, policy) == (IN_FLIGHT, 1.94 + 0.05)
    assert after_failed_attempt(3, 2.5, 2.0, True, policy)[0] == TIMED_OUT  # served late


DURATIONS = st.builds(lambda n, u: f"{n}{u}", st.integers(1, 10_000), st.sampled_from(["ms", "s"]))
TIMEOUTS = st.none() | DURATIONS | st.builds(
    lambda m: {"distribution": "exponential", "mean": m}, DURATIONS)  # fmt: skip
RETRIES = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "max_attempts": st.integers(1, 100), "backoff": DURATIONS,
        "multiplier": st.floats(1.0, 10.0), "jitter": st.sampled_from(["full", "none"]),
        "max_backoff": DURATIONS,
    },
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(TIMEOUTS, RETRIES)
def test_configs_round_trip_and_ceilings_are_capped(timeout, retries):
    """Any valid clients config dumps to data that validates to itself; the backoff
    ceilings never decrease and never exceed max_backoff."""
    config = ClientsConfig.model_validate({"timeout": timeout, "retries": retries})
    assert ClientsConfig.model_validate(config.model_dump()) == config
    policy = RetryPolicy(config.retries, stream(1, "retry"))
    ceilings = policy.ceilings_s
    cap = config.retries.max_backoff if config.retries else math.inf
    assert all(0 <= a <= b <= cap for a, b in zip(ceilings, ceilings[1:], strict=False))
    assert len(ceilings) == policy.max_attempts - 1
