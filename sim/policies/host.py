"""The host stage: the instance's vCPUs prepare each batch before the accelerator runs it.

A request costs host CPU time before it reaches the accelerator - tokenisation, the serving
framework, the network stack - and so does each batch (the framework's call into the Neuron
runtime or CUDA). A replica's worker runs on its share of the instance's vCPUs
(``vcpus / replicas``), serially with its accelerator, as a TorchServe or torch-neuron worker
per NeuronCore does:

.. code-block:: text

    host_s = (per_batch + per_request * batch + per_token * tokens) / (vcpus / replicas)

where ``tokens`` are the batch's real (unpadded) sequence lengths summed. The CPU work is
spread over the replica's vCPU share (a fluid approximation: with fewer vCPUs than replicas
a replica's host work takes longer). The batch then holds its replica for ``host_s`` plus its
accelerator time. ``host_utilisation`` in the summary is the share of that vCPU capacity
busy: a host-bound fleet shows it near 1 while the accelerator's stays low.

A pool's ``host``: ``auto`` (default) takes the measured defaults of
``hardware.timing.host`` (docs/hardware.md "Host cost"); ``none`` is a free host; or
``{per_request: 40us, per_token: 0.1us, per_batch: 150us}``. Synthetic-service pools have no
host stage unless one is given.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from sim.scenario.base import Config, Duration


class HostCosts(Config):
    """Explicit host CPU costs (CPU seconds on one vCPU)."""

    per_request: Duration = 0.0
    per_token: Duration = 0.0
    per_batch: Duration = 0.0


class HostCoefficients(NamedTuple):
    """A pool's host stage as engines compute it: ``batch_s + request_s * n + token_s * tokens``.

    Seconds of the replica's time (the CPU costs divided by its vCPU share).
    """

    batch_s: float = 0.0
    request_s: float = 0.0
    token_s: float = 0.0

    @property
    def free(self) -> bool:
        """No host stage."""
        return self.batch_s == 0.0 and self.request_s == 0.0 and self.token_s == 0.0

    def seconds(self, size: int, tokens: int) -> float:
        """The host stage of one batch (s); engines use this exact expression."""
        return self.batch_s + self.request_s * size + self.token_s * tokens


def coefficients(costs: HostCosts, vcpus: int, replicas: int) -> HostCoefficients:
    """Per-replica host coefficients from CPU costs and the instance's vCPUs and replicas."""
    share = vcpus / replicas
    return HostCoefficients(
        costs.per_batch / share, costs.per_request / share, costs.per_token / share
    )


HostConfig = Literal["auto", "none"] | HostCosts
"""``auto`` (the measured defaults), ``none`` (a free host) or explicit CPU costs."""
