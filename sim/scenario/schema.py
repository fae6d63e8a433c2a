"""The scenario schema: frozen pydantic models that a YAML scenario file validates into.

Durations are converted to seconds at load (``"2ms"`` -> 0.002); rates are requests per
second. Every config rejects unknown keys with a did-you-mean. Cross-references (instance
types, models, memory fit) are checked afterwards in ``sim.scenario.loading``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from analysis.schema import MAX_SEQ_LEN
from hardware import STACKS
from sim.control.config import AutoscalingConfig, EventConfig, FailuresConfig, SpotConfig
from sim.policies.balancers import BALANCERS
from sim.policies.clients import ClientsConfig
from sim.policies.host import HostConfig
from sim.policies.jitter import JitterConfig
from sim.policies.service import ServiceConfig
from sim.policies.shapes import ShapesConfig
from sim.scenario.base import (
    DTYPES,
    BytesPerSecond,
    Config,
    Duration,
    PositiveDuration,
)
from sim.scenario.base import did_you_mean as did_you_mean  # re-exported for callers
from sim.scenario.pipelines import PipelineConfig
from sim.workload.arrivals import ArrivalsConfig
from sim.workload.replay import TraceArrivals


def _kind_shorthand(value: Any) -> Any:
    """Let ``balancer: round_robin`` stand for ``balancer: {kind: round_robin}``."""
    return {"kind": value} if isinstance(value, str) else value


# --- workload ------------------------------------------------------------------------------


class FixedSeqLen(Config):
    """Every request has the same sequence length (tokens; image px for CNNs; audio ms)."""

    kind: Literal["fixed"]
    value: int = Field(ge=1, le=MAX_SEQ_LEN)


class ChoiceSeqLen(Config):
    """Sequence length drawn from a list of values with weights."""

    kind: Literal["choice"]
    values: list[Annotated[int, Field(ge=1, le=MAX_SEQ_LEN)]] = Field(min_length=1)
    weights: list[Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> ChoiceSeqLen:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights has {len(self.weights)} entries but values has {len(self.values)}"
                )
            if sum(self.weights) <= 0:
                raise ValueError(f"weights {self.weights} must sum to a positive number")
        return self


class UniformSeqLen(Config):
    """Sequence length drawn uniformly from the integers low..high (both included)."""

    kind: Literal["uniform"]
    low: int = Field(ge=1, le=MAX_SEQ_LEN)
    high: int = Field(ge=1, le=MAX_SEQ_LEN)

    @model_validator(mode="after")
    def _ordered(self) -> UniformSeqLen:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self


def _seq_len_shorthand(value: Any) -> Any:
    """Let ``seq_len: 128`` stand for ``seq_len: {kind: fixed, value: 128}``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"kind": "fixed", "value": value}
    return value


SeqLenConfig = Annotated[
    FixedSeqLen | ChoiceSeqLen | UniformSeqLen,
    Field(discriminator="kind"),
    BeforeValidator(_seq_len_shorthand),
]


class MixEntry(Config):
    """One class of request: which model it needs, how often, and its sequence lengths."""

    model: str
    weight: float = Field(default=1.0, ge=0)
    seq_len: SeqLenConfig | None = None


class Workload(Config):
    """Arrival process plus request mix."""

    arrivals: ArrivalsConfig
    mix: list[MixEntry] = Field(default_factory=list)

    @field_validator("mix")
    @classmethod
    def _weights_positive(cls, mix: list[MixEntry]) -> list[MixEntry]:
        total = sum(entry.weight for entry in mix)
        if mix and total <= 0:
            raise ValueError(f"mix weights sum to {total:g}; they must sum to a positive number")
        return mix

    @model_validator(mode="after")
    def _mix_needed(self) -> Workload:
        replayed = isinstance(self.arrivals, TraceArrivals) and self.arrivals.has_models
        if not self.mix and not replayed:
            raise ValueError(
                "mix must list at least one {model, weight, seq_len} entry (only a trace "
                "with a 'model' column can do without)"
            )
        return self


# --- models, fleet, balancer, SLO ----------------------------------------------------------


class EncoderModel(Config):
    """A custom transformer encoder given by its architecture hyper-parameters."""

    kind: Literal["encoder"] = "encoder"
    layers: int = Field(ge=1)
    hidden: int = Field(ge=1)
    heads: int = Field(ge=1)
    ffn: int = Field(ge=1)
    vocab: int = Field(default=30522, ge=1)
    max_positions: int = Field(default=512, ge=1)

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> EncoderModel:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        return self


class Batching(Config):
    """Dynamic batching: start when ``max_batch`` wait or the oldest has waited ``max_wait``."""

    max_batch: int = Field(default=1, ge=1, le=4096)
    max_wait: Duration = 0.0


class ModelGroup(Config):
    """One model of a multi-model pool, on its own group of ``cores`` NeuronCores.

    ``batching`` and ``queue_limit`` default to the pool's.
    """

    model: str
    cores: int = Field(ge=1, description="NeuronCores (or GPUs) of the instance this model gets")
    batching: Batching | None = None
    queue_limit: int | None = Field(default=None, ge=1)


class ColdStartConfig(Config):
    """A pool's cold start; a key left out takes the instance family's default.

    How the parts add up, and the defaults with their sources: ``sim.policies.coldstart``.
    """

    provision: Duration | None = None
    runtime_init: Duration | None = None
    load_bandwidth: BytesPerSecond | None = None


class PoolConfig(Config):
    """A group of identical instances, each serving one model, or several on their own cores.

    ``model``: every core serves it; ``models``: each model on its own group of cores
    (``sim.scenario.groups``).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)
    instance: str
    count: int = Field(ge=1, le=1_000_000)
    model: str | None = Field(default=None, description="the model every core serves")
    models: list[ModelGroup] | None = Field(
        default=None,
        min_length=1,
        description="several models per instance: [{model, cores, batching, queue_limit}]; "
        "instead of model (sim.scenario.groups)",
    )
    dtype: Literal[("auto", *DTYPES)] = Field(  # type: ignore[valid-type]
        default="auto",
        description="compiled dtype; 'auto': the instance's natural one (bf16 on NeuronCores, "
        "fp16 on GPUs)",
    )
    cores_per_replica: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        default=1,
        description="cores serving one replica; 'auto': the fewest that hold the model "
        "(more than one core makes a pipeline)",
    )
    sparsity: Literal["4:16", "4:12", "4:8", "2:8", "2:4", "1:4", "1:2"] | None = Field(
        default=None, description="structured weight sparsity M:N (projected inf3 only)"
    )
    batching: Batching = Batching()
    queue_limit: int = Field(
        default=1000, ge=1, description="waiting requests per instance before new ones drop"
    )
    service: ServiceConfig | None = Field(
        default=None, description="synthetic service times instead of the hardware model"
    )
    stack: Literal[("auto", *STACKS)] = Field(  # type: ignore[valid-type]
        default="auto",
        description="GPU serving stack: 'auto' (the best published: tensorrt), 'tensorrt', "
        "'onnxruntime' or 'eager' (PyTorch eager); GPUs only",
    )
    jitter: JitterConfig = Field(
        default="auto",
        description="per-batch service-time variability: 'auto' (the chip family's fitted "
        "cv), 'none' (exact hardware-model times) or {cv: X}",
    )

    shapes: ShapesConfig = Field(
        default="auto",
        description="compiled shapes a batch is padded to: 'auto' (Neuron bucketing on "
        "NeuronCores, none on GPUs), 'none' or {seq_buckets: [...], batch_sizes: [...]}",
    )
    host: HostConfig = Field(
        default="auto",
        description="host CPU cost before the accelerator: 'auto' (measured defaults), "
        "'none' or {per_request: 40us, per_token: 0.1us, per_batch: 150us}",
    )
    zone: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=64,
        description="availability zone of its instances (zone_outage events name it)",
    )
    cold_start: ColdStartConfig | None = Field(
        default=None,
        description="time from requesting an instance to it serving: {provision, "
        "runtime_init, load_bandwidth}; each key defaults per chip family",
    )
    autoscaling: AutoscalingConfig | None = Field(
        default=None,
        description="kind target_tracking, step or scheduled (docs/fleet-dynamics.md)",
    )
    failures: FailuresConfig | None = Field(
        default=None, description="{mtbf, mttr, distribution, shape, action: repair|replace}"
    )
    spot: SpotConfig | None = Field(
        default=None, description="{share, interruptions_per_hour, usd_per_hour}"
    )

    @model_validator(mode="after")
    def _one_of_model_and_models(self) -> PoolConfig:
        if (self.model is None) == (self.models is None):
            raise ValueError(
                "give exactly one of model (one model on every core) and models (a list of "
                "{model, cores}: several models, each on its own cores)"
            )
        if self.models is not None:
            names = [g.model for g in self.models]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"models: {', '.join(twice)} listed twice in one pool")
        return self

    @model_validator(mode="after")
    def _jitter_on_hardware_model(self) -> PoolConfig:
        if self.service is not None and not isinstance(self.jitter, str):
            raise ValueError(
                "jitter applies to hardware-model service times; a synthetic service has its "
                "own distribution (remove jitter or service)"
            )
        if self.service is not None and not isinstance(self.shapes, str):
            raise ValueError(
                "shapes apply to hardware-model service times; a synthetic service has no "
                "compiled shapes (remove shapes or service)"
            )
        batch_sizes = None if isinstance(self.shapes, str) else self.shapes.batch_sizes
        if batch_sizes is not None and batch_sizes[-1] < self.batching.max_batch:
            raise ValueError(
                f"shapes.batch_sizes: the largest compiled batch size ({batch_sizes[-1]}) is "
                f"smaller than batching.max_batch ({self.batching.max_batch})"
            )
        return self


BalancerKind = Literal[tuple(BALANCERS)]  # type: ignore[valid-type]
"""Load-balancing policies: the names in ``sim.policies.balancers.BALANCERS``."""


class BalancerConfig(Config):
    """Which instance of the pool(s) serving a model receives each request."""

    kind: BalancerKind = "round_robin"


class Slo(Config):
    """Latency objective: ``percentile`` of latencies at or below ``target``."""

    percentile: float = Field(default=99.0, gt=0, lt=100)
    target: PositiveDuration


class Scenario(Config):
    """A complete fleet simulation: workload, fleet, balancer, SLO and run length."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    seed: int = Field(ge=0, lt=2**63)
    duration: PositiveDuration
    warmup: Duration = 0.0
    workload: Workload
    models: dict[str, EncoderModel] = Field(default_factory=dict)
    fleet: list[PoolConfig] = Field(min_length=1)
    balancer: Annotated[BalancerConfig, BeforeValidator(_kind_shorthand)] = BalancerConfig()
    slo: Slo
    events: list[EventConfig] = Field(
        default_factory=list, description="[{kind: zone_outage, zone, at, duration}]"
    )
    pipelines: list[PipelineConfig] = Field(
        default_factory=list,
        description="[{name, stages: [{model, seq_len?}, ...]}]: chains of models a request "
        "passes through; the mix asks for one by its name",
    )
    clients: ClientsConfig | None = Field(
        default=None,
        description="client timeout and retries: {timeout: 2s, retries: {max_attempts: 3, "
        "backoff: 50ms, multiplier: 2, jitter: full}}",
    )
    description: str = ""
