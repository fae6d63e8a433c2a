"""Routes: the stages a request passes through, as both engines hand it on.

A request carries its *hop*: which stage of which route it is at. A route is a model (one
stage) or a pipeline (``sim.scenario.pipelines``: several stages, each served by a model's
group of instances). Hops are numbered so that a request's first hop is its route's
number: hops ``0..M-1`` are the M models, ``M..M+P-1`` the first stages of the P
pipelines, and the later stages follow, pipeline by pipeline. Without pipelines a hop is
a model number, as it always was.

**Hand-off.** When a batch leaves a replica, it is recorded as served; then each request
in it whose hop has a next one and whose client still waits (deadline after now) reaches
the next stage's balancer at once, at the leave event itself (``sim.engine.phases``: the
fleet's timed events, in key order), in batch order. The trace writer tells such a served
stage by the same rule and writes it as ``passed`` (``sim.engine.trace_writer``). A request
handed on enters the next stage with that stage's sequence length (``apply_seq_rule``),
``queued_s`` and ``entered_s`` now; its first arrival, deadline and attempts go with it.
A refused hand-off is retried to the same stage, as an arrival is. A request whose
deadline has passed when its stage ends is final there (``timed_out``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.scenario.pipelines import KEEP_SEQ, PipelineConfig, SeqRule, seq_rule


@dataclass(frozen=True)
class Routes:
    """Hops per route, and what each hop is.

    Attributes:
        names: Per route: the model's or the pipeline's name (the trace's ``model``).
        model: Per hop: the model (balancer group) that serves it.
        next: Per hop: the hop after it, -1 if it is its route's last.
        route: Per hop: its route.
        stage: Per hop: its position in its route (0: the first).
        seq: Per hop: its ``sim.scenario.pipelines.SeqRule``, its sequence length from the
            stage before's (``KEEP_SEQ`` for first stages).

    """

    names: list[str]
    model: list[int]
    next: list[int]
    route: list[int]
    stage: list[int]
    seq: list[SeqRule]

    @classmethod
    def build(cls, model_names: list[str], pipelines: list[PipelineConfig] = ()) -> Routes:
        """The routes of a run: each model alone, then each pipeline."""
        models = len(model_names)
        index = {name: m for m, name in enumerate(model_names)}
        first = list(range(models)) + [index[p.stages[0].model] for p in pipelines]
        names = list(model_names) + [p.name for p in pipelines]
        model, nxt = list(first), [-1] * len(first)
        route, stage = list(range(len(first))), [0] * len(first)
        seq = [KEEP_SEQ] * len(first)
        for p, pipeline in enumerate(pipelines):
            before = models + p
            for s, config in enumerate(pipeline.stages[1:], start=1):
                hop = len(model)
                nxt[before] = hop
                model.append(index[config.model])
                nxt.append(-1)
                route.append(models + p)
                stage.append(s)
                seq.append(seq_rule(config.seq_len))
                before = hop
        return cls(names, model, nxt, route, stage, seq)

    @property
    def staged(self) -> bool:
        """Whether any route has more than one stage."""
        return any(n >= 0 for n in self.next)
