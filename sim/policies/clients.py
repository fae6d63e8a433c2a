"""Client timeouts and retries: the ``clients:`` scenario config and the rules both engines apply.

```yaml
clients:
  timeout: 2s                      # or {distribution: exponential, mean: 2s}; absent: none
  retries: {max_attempts: 3, backoff: 50ms, multiplier: 2, jitter: full, max_backoff: 20s}
```

The rules, defined here once (the functions below) and applied by both engines:

* **Deadline.** A request's deadline is its first arrival plus its patience: ``timeout``
  itself (fixed), or a draw from ``Exp(mean)`` (:class:`Patience`, one draw per request in
  order of first arrival, from the stream ``"patience"``). No ``timeout``: no deadline. The
  deadline spans all attempts: a retry keeps it.
* **Attempts.** An attempt fails when the request finds its instance's queue full (or no
  instance in service to route to) or is lost with its instance (``fleet.fail`` or
  ``fleet.terminate`` while it waits or is served). A failed attempt is retried if attempts
  are left (``attempt < max_attempts``): the retry arrives at the balancer again after
  :meth:`RetryPolicy.delay_s` (exponential backoff with full jitter: AWS Architecture Blog,
  M. Brooker, "Exponential Backoff And Jitter", 2015). A time-out is never retried.
  :func:`after_failed_attempt` decides, for both kinds of failure.
* **Waiting and service.** A request may start service only before its deadline
  (:func:`may_start`: ``now < deadline``); one still waiting at its deadline leaves its queue
  then (its place counts no more against ``queue_limit``) and never starts. A request in
  service is never interrupted: it keeps its replica to the end, and is ``timed_out`` if it
  finishes after its deadline (:func:`served_status`). This is the queue-time rule of the
  M/M/c+D and Erlang-A checks (``analysis.abandonment.mmc_timeout_share``).
* **Final status** (``analysis.schema.STATUSES``): ``ok``; ``dropped`` (queue full on the
  last allowed attempt); ``failed`` (lost with its instance on the last allowed attempt);
  ``timed_out`` (the deadline came first: while waiting, between attempts - a retry that
  would arrive at or after the deadline is not made - or during service); ``in_flight``
  (unfinished when the run ends and the deadline, if any, still ahead: :func:`end_status`).
  The trace keeps one row per request, its last attempt's, with ``attempts`` (1 = never
  retried) and ``arrival_s`` the first arrival.

Random draws: the backoff jitter comes from the stream ``"retry"``, one uniform per retried
attempt, in the order the engines call :meth:`RetryPolicy.delay_s` (the order failures
happen; at one instant, the order the engine processes them); patience from ``"patience"``.
Both are handed out in blocks of ``BLOCK`` (like ``sim.policies.jitter``) so that the
compiled kernel reads the same numbers through a pointer. Neither stream is used by
anything else, so turning timeouts or retries on leaves the arrivals bit-identical.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Discriminator, Field, Tag

from analysis.schema import DROPPED, FAILED, IN_FLIGHT, OK, TIMED_OUT
from sim.scenario.base import Config, Duration, PositiveDuration
from sim.streams import stream

BLOCK = 4096
"""Draws handed out at a time (the kernel reads a block through a pointer)."""
MAX_ATTEMPTS = 100
"""Most attempts a request may make (a sanity bound: the AWS SDKs default to 3)."""
NO_DEADLINE = math.inf
"""The deadline of a request without a timeout."""


class ExponentialPatience(Config):
    """Each request's patience drawn from an exponential distribution (mean ``mean``).

    Mean ``mean``, variance ``mean**2``: the ``+M`` of Erlang-A (abandonment rate
    ``1 / mean``), so a run can be checked against ``analysis.abandonment``.
    """

    distribution: Literal["exponential"]
    mean: PositiveDuration


def _timeout_kind(value: Any) -> str:
    return "drawn" if isinstance(value, dict | ExponentialPatience) else "fixed"


TimeoutConfig = Annotated[
    Annotated[PositiveDuration, Tag("fixed")] | Annotated[ExponentialPatience, Tag("drawn")],
    Discriminator(_timeout_kind),
]
"""A fixed timeout (``2s``) or ``{distribution: exponential, mean: 2s}``."""


class RetriesConfig(Config):
    """Exponential backoff with optional full jitter between the attempts of a request.

    The wait after attempt ``k`` failed (k = 1, 2, ...) is ``min(max_backoff, backoff *
    multiplier**(k-1))`` with ``jitter: none``, and uniform on ``[0, that)`` with
    ``jitter: full`` ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
    Defaults: 3 attempts and a 20 s cap are the AWS SDKs' "standard" retry mode (AWS SDKs and
    Tools Reference Guide, "Retry behavior"); the 50 ms base and the doubling are issue 15's
    example.
    """

    max_attempts: Annotated[int, Field(ge=1, le=MAX_ATTEMPTS)] = 3
    backoff: Duration = 0.05
    multiplier: Annotated[float, Field(ge=1.0, le=10.0)] = 2.0
    jitter: Literal["full", "none"] = "full"
    max_backoff: PositiveDuration = 20.0


class ClientsConfig(Config):
    """How clients treat their requests: a deadline over all attempts, and retries."""

    timeout: TimeoutConfig | None = Field(
        default=None,
        description="a request not finished by first arrival + timeout is timed_out: a "
        "duration, or {distribution: exponential, mean: 2s} drawn per request; none if absent",
    )
    retries: RetriesConfig | None = Field(
        default=None,
        description="retry a request whose queue was full or whose instance was lost; "
        "one attempt if absent",
    )


class RetryPolicy:
    """The retry rule of a run: how many attempts, and the wait before each retry.

    Args:
        config: The ``retries`` config; None means one attempt (no retries, no draws).
        rng: The run's ``"retry"`` stream (read only with ``jitter: full``).

    Attributes:
        max_attempts: Attempts a request may make (>= 1).
        ceilings_s: ``ceilings_s[k - 1]`` is the longest wait (s) after attempt ``k`` failed,
            ``min(max_backoff, backoff * multiplier**(k-1))``, for k = 1 .. max_attempts - 1:
            the kernel reads this table (no ``pow`` of its own).
        jitter: True for full jitter (wait = uniform draw x ceiling), False for the ceiling.

    """

    __slots__ = ("_position", "_uniforms", "ceilings_s", "jitter", "max_attempts", "rng")

    def __init__(self, config: RetriesConfig | None, rng: np.random.Generator) -> None:
        config = config if config is not None else RetriesConfig(max_attempts=1)
        self.max_attempts = config.max_attempts
        self.ceilings_s = tuple(
            min(config.max_backoff, config.backoff * config.multiplier ** (k - 1))
            for k in range(1, config.max_attempts)
        )
        self.jitter = config.jitter == "full"
        self.rng = rng
        self._uniforms: list[float] = []
        self._position = 0

    def block(self) -> np.ndarray:
        """The next ``BLOCK`` uniforms on [0, 1) of the jitter (float64); advances the stream."""
        return self.rng.random(BLOCK)

    def delay_s(self, attempt: int) -> float:
        """The wait (s) after attempt ``attempt`` failed, before attempt ``attempt + 1``.

        With full jitter, ``u * ceilings_s[attempt - 1]`` for the next uniform ``u`` (from
        the blocks :meth:`block` hands out); else the ceiling, without a draw. Mean: half the
        ceiling with full jitter.

        Raises:
            ValueError: no attempt is left after ``attempt`` (or ``attempt`` < 1).

        """
        if not 1 <= attempt < self.max_attempts:
            raise ValueError(
                f"attempt {attempt!r} has no retry after it (max_attempts {self.max_attempts})"
            )
        ceiling = self.ceilings_s[attempt - 1]
        if not self.jitter:
            return ceiling
        if self._position == len(self._uniforms):
            self._uniforms = self.block().tolist()
            self._position = 0
        u = self._uniforms[self._position]
        self._position += 1
        return u * ceiling


class Patience:
    """Each request's patience (s), in order of first arrival: fixed, or exponential draws.

    Args:
        timeout: The ``timeout`` config (a duration in s, or ``ExponentialPatience``).
        rng: The run's ``"patience"`` stream (read only for exponential patience).

    """

    __slots__ = ("_position", "_values", "fixed_s", "mean_s", "rng")

    def __init__(self, timeout: float | ExponentialPatience, rng: np.random.Generator) -> None:
        drawn = isinstance(timeout, ExponentialPatience)
        self.fixed_s: float | None = None if drawn else float(timeout)
        self.mean_s = float(timeout.mean if drawn else timeout)
        if not (math.isfinite(self.mean_s) and self.mean_s > 0):
            raise ValueError(f"a timeout must be a positive duration (s), got {self.mean_s!r}")
        self.rng = rng
        self._values: list[float] = []
        self._position = 0

    def block(self) -> np.ndarray:
        """The next ``BLOCK`` patience values (s, float64); advances the stream if drawn."""
        if self.fixed_s is not None:
            return np.full(BLOCK, self.fixed_s)
        return self.rng.exponential(self.mean_s, BLOCK)

    def next_s(self) -> float:
        """The next request's patience (s), from the same blocks :meth:`block` hands out."""
        if self.fixed_s is not None:
            return self.fixed_s
        if self._position == len(self._values):
            self._values = self.block().tolist()
            self._position = 0
        value = self._values[self._position]
        self._position += 1
        return value


def client_policies(
    config: ClientsConfig | None, seed: int, replication: int = 0
) -> tuple[RetryPolicy, Patience | None]:
    """A run's retry policy and patience (None: no timeout), on their own named streams."""
    config = config if config is not None else ClientsConfig()
    retry = RetryPolicy(config.retries, stream(seed, "retry", replication=replication))
    if config.timeout is None:
        return retry, None
    return retry, Patience(config.timeout, stream(seed, "patience", replication=replication))


def deadline_s(arrival_s: float, patience_s: float | None) -> float:
    """A request's deadline (s): first arrival + patience; ``NO_DEADLINE`` without a timeout."""
    return NO_DEADLINE if patience_s is None else arrival_s + patience_s


def may_start(now_s: float, deadline: float) -> bool:
    """Whether a waiting request may start service at ``now_s``: only before its deadline."""
    return now_s < deadline


def served_status(finish_s: float, deadline: float) -> int:
    """Status of a request served to the end: ``OK`` if finished by its deadline (inclusive)."""
    return OK if finish_s <= deadline else TIMED_OUT


def end_status(deadline: float, end_s: float) -> int:
    """Status of a request unfinished when the run ends at ``end_s``.

    ``TIMED_OUT`` if its deadline is at or before the end (its outcome is known: it cannot
    start any more, and one in service would finish after it), else ``IN_FLIGHT``.
    """
    return TIMED_OUT if deadline <= end_s else IN_FLIGHT


def after_failed_attempt(
    attempt: int, now_s: float, deadline: float, lost: bool, policy: RetryPolicy
) -> tuple[int, float]:
    """What becomes of a request whose attempt ``attempt`` failed at ``now_s``.

    In this order: past its deadline (``now_s >= deadline``, e.g. lost while served late)
    it is ``TIMED_OUT``; with no attempt left it ends ``FAILED`` if ``lost`` with its
    instance, else ``DROPPED`` (queue full, or no instance in service); otherwise the retry
    wait is drawn (:meth:`RetryPolicy.delay_s`) and the retry arrives at ``now_s + wait``,
    unless that is at or after the deadline: then ``TIMED_OUT`` (no retry is made).

    Args:
        attempt: The attempt that failed (1 = the first).
        now_s: When it failed (s).
        deadline: The request's deadline (s; ``NO_DEADLINE`` without a timeout).
        lost: True if lost with its instance, False if its queue was full.
        policy: The run's retry policy.

    Returns:
        (status, retry_at_s): ``(IN_FLIGHT, when its attempt ``attempt + 1`` arrives)`` if it
        is retried, else (its final status, NaN).

    """
    if now_s >= deadline:
        return TIMED_OUT, math.nan
    if attempt >= policy.max_attempts:
        return (FAILED if lost else DROPPED), math.nan
    retry_at_s = now_s + policy.delay_s(attempt)
    if retry_at_s >= deadline:
        return TIMED_OUT, math.nan
    return IN_FLIGHT, retry_at_s
