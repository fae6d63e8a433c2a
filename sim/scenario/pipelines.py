"""Multi-stage pipelines in YAML: a request served by one model, then the next, and so on.

Alexa's voice requests pass through speech recognition, then language understanding. A
scenario names such a chain under ``pipelines:`` and asks for it in the workload mix by its
name, as if it were a model::

    pipelines:
      - name: utterance
        stages:
          - model: whisper-base-encoder    # seq_len: the mix entry's (utterance ms)
          - model: bert-base
            seq_len: {scale: 0.004, min: 4, max: 128}   # tokens from the utterance's ms

Each stage is served by the pools serving its model, behind that model's balancer, with
requests of other kinds for the same model. A stage's sequence length is the mix entry's
for the first stage; for a later stage it is ``seq_len`` (a fixed length, or the stage
before's length times ``scale``, rounded up and clipped to ``[min, max]``), or the stage
before's if omitted. How the engines hand a request from stage to stage is in
``sim.engine.routes``; the trace columns in docs/pipelines.md.
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from pydantic import Discriminator, Field, Tag, model_validator

from analysis.schema import MAX_SEQ_LEN
from sim.scenario.base import Config


class ScaledSeqLen(Config):
    """The stage before's length times ``scale``, rounded up, clipped to ``[min, max]``.

    Speech to text: about 2.5 words (3-4 BERT tokens) per second of speech, so 0.004 tokens
    per millisecond of utterance; ``max`` the NLU model's compiled length.
    """

    scale: float = Field(gt=0, le=1e6, description="this stage's length per unit of the last's")
    min: int = Field(default=1, ge=1, le=MAX_SEQ_LEN)
    max: int = Field(ge=1, le=MAX_SEQ_LEN)

    @model_validator(mode="after")
    def _ordered(self) -> ScaledSeqLen:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


def _form(value: object) -> str:
    """Which form a stage's ``seq_len`` is written in: a mapping scales, anything else is fixed."""
    return "scaled" if isinstance(value, dict | ScaledSeqLen) else "fixed"


StageSeqLen = Annotated[
    Annotated[Annotated[int, Field(ge=1, le=MAX_SEQ_LEN, strict=True)], Tag("fixed")]
    | Annotated[ScaledSeqLen, Tag("scaled")],
    Discriminator(_form),
]
"""A later stage's length: fixed (``seq_len: 32``) or scaled from the stage before's."""


class StageConfig(Config):
    """One stage: the model that serves it and its sequence length."""

    model: str
    seq_len: StageSeqLen | None = Field(
        default=None,
        description="a fixed length, or {scale, min, max} from the stage before's length; "
        "omitted: the stage before's length (the first stage's comes from the mix)",
    )


class PipelineConfig(Config):
    """A chain of stages a request passes through, in order; asked for by ``name``."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    stages: list[StageConfig] = Field(min_length=2, max_length=16)

    @model_validator(mode="after")
    def _first_from_mix(self) -> PipelineConfig:
        if self.stages[0].seq_len is not None:
            raise ValueError(
                "stages[0].seq_len: the first stage's length is the mix entry's seq_len; give "
                "it there"
            )
        names = [stage.model for stage in self.stages]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(
                f"stages: {', '.join(twice)} listed twice (a request would queue behind itself "
                "for one model; give the second pass its own model name under models:)"
            )
        return self


SeqRule = tuple[float, int, int]
"""A stage's length rule as numbers, (scale, min, max): ``min(max, max(min, ceil(length x
scale)))`` of the stage before's length, in double arithmetic. The engines apply this form
(the compiled kernel too); every form of ``StageSeqLen`` is one."""

KEEP_SEQ: SeqRule = (1.0, 0, 2**53 - 1)  # keeps a length: ceil(s x 1.0) = s below 2**53


def seq_rule(rule: int | ScaledSeqLen | None) -> SeqRule:
    """A stage's ``seq_len`` as a ``SeqRule``: a fixed length is scale 0 clipped to itself."""
    if rule is None:
        return KEEP_SEQ
    if isinstance(rule, int):
        return (0.0, rule, rule)
    return (float(rule.scale), rule.min, rule.max)


def apply_seq_rule(rule: SeqRule, seq_len: int) -> int:
    """The length a stage with ``rule`` gets from the stage before's ``seq_len``."""
    scale, low, high = rule
    return min(high, max(low, math.ceil(seq_len * scale)))


def next_seq_len(rule: int | ScaledSeqLen | None, seq_len: int) -> int:
    """The length a stage with ``seq_len`` config ``rule`` gets from the stage before's."""
    return apply_seq_rule(seq_rule(rule), seq_len)


def next_seq_lens(rule: int | ScaledSeqLen | None, seq_lens: np.ndarray) -> np.ndarray:
    """``next_seq_len`` over an array of lengths (int64; the same double arithmetic)."""
    scale, low, high = seq_rule(rule)
    return np.clip(np.ceil(seq_lens.astype(np.float64) * scale), low, high).astype(np.int64)
