"""What clients do, as both engines apply it: a deadline per request, and retries.

* **Deadline.** A request's client gives up ``timeout`` after its first arrival (a fixed
  time, or a patience drawn per request in arrival order: ``patience``); never without one.
  A request still waiting when its deadline has passed never starts: the instance discards
  it when its batcher next takes requests from the queue (recorded ``timed_out``, no start);
  one in service finishes but is recorded ``timed_out`` if it finishes after its deadline
  (the server does the work; the client has gone). In the queue it still counts toward the
  queue length until discarded, as a server that learns of a cancelled request only when it
  reaches it (the served and abandoned shares are those of a queue with impatience,
  ``analysis.abandonment``: a discarded request takes no service).
* **Retries.** A request refused (its queue full, or no instance in service) or lost with a
  failed instance is sent again after a backoff, while it has attempts left: attempt ``a``
  (1 = the first) is followed after ``backoff_caps_s[a - 1]`` x u, where u is the next
  uniform variate of the ``jitter`` draws (full jitter) or 1 (no jitter). A retry that would
  arrive at or after the deadline is not sent: the request is recorded ``timed_out`` then.
  With no attempts left it is recorded ``dropped`` (refused) or ``failed`` (lost).
* A retry arrives like a new request (its balancer chooses again) at its instant's retry
  phase (``sim.engine.phases.RETRY``); its ``attempts`` goes up by one. Requests waiting
  for a retry when the run ends are recorded ``in_flight`` with no instance.

Draws (patience, jitter) come from their own named streams, in the order the engines use
them, so both engines read the same numbers; with no timeout and one attempt nothing is drawn
and a run is exactly what it was without clients.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.policies.clients import ClientsConfig, client_policies

Blocks = Callable[[], np.ndarray]
"""A source of draws: each call returns the next block (float64), read in order."""


@dataclass(frozen=True)
class ClientRules:
    """The clients of a run, as the engines apply them (see the module docstring).

    Attributes:
        timeout_s: Fixed time from first arrival to the deadline (s), or None.
        patience: Per-request times to the deadline (s), drawn in arrival order, or None.
        max_attempts: Times a request may be sent (1: no retries).
        backoff_caps_s: Per retry (index = attempt - 1), the longest backoff (s).
        jitter: Uniform [0, 1) variates scaling each backoff (full jitter), or None.

    """

    timeout_s: float | None = None
    patience: Blocks | None = None
    max_attempts: int = 1
    backoff_caps_s: tuple[float, ...] = ()
    jitter: Blocks | None = None

    def __post_init__(self) -> None:
        if self.timeout_s is not None and self.patience is not None:
            raise ValueError("a fixed timeout_s or drawn patience, not both")
        if self.timeout_s is not None and not self.timeout_s > 0:
            raise ValueError(f"timeout_s = {self.timeout_s!r}: must be > 0")
        if self.max_attempts < 1 or len(self.backoff_caps_s) != self.max_attempts - 1:
            raise ValueError(
                f"max_attempts = {self.max_attempts} needs {self.max_attempts - 1} backoff "
                f"caps, got {len(self.backoff_caps_s)}"
            )
        if not all(math.isfinite(c) and c >= 0 for c in self.backoff_caps_s):
            raise ValueError(f"backoff caps must be finite and >= 0: {self.backoff_caps_s}")

    @property
    def any(self) -> bool:
        """Whether clients do anything (a deadline or retries)."""
        return self.timeout_s is not None or self.patience is not None or self.max_attempts > 1


NO_CLIENTS = ClientRules()


def client_rules(config: ClientsConfig | None, seed: int, replication: int = 0) -> ClientRules:
    """The rules of a scenario's ``clients`` (None: none), on their named streams."""
    if config is None:
        return NO_CLIENTS
    retry, patience = client_policies(config, seed, replication)
    fixed = patience is not None and patience.fixed_s is not None
    return ClientRules(
        timeout_s=patience.fixed_s if fixed else None,
        patience=patience.block if patience is not None and not fixed else None,
        max_attempts=retry.max_attempts,
        backoff_caps_s=tuple(retry.ceilings_s),
        jitter=retry.block if retry.jitter else None,
    )


class Draws:
    """Reads a ``Blocks`` source one number at a time (the SimPy engine's side)."""

    def __init__(self, source: Blocks) -> None:
        self._source = source
        self._block: list[float] = []
        self._pos = 0

    def next(self) -> float:
        """The next number of the source."""
        if self._pos == len(self._block):
            self._block = np.asarray(self._source(), dtype=np.float64).tolist()
            self._pos = 0
        self._pos += 1
        return self._block[self._pos - 1]
