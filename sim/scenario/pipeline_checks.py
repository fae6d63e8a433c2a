"""Checks of a scenario's pipelines that need the models: names, pools, sequence lengths.

Called by ``sim.scenario.checks.check_references``; returns (field path, message) problems
the loader reports with their YAML lines.
"""

from __future__ import annotations

from hardware import zoo
from sim.scenario.base import did_you_mean
from sim.scenario.groups import served_models
from sim.scenario.models import (
    default_seq_len,
    resolve_model,
    seq_len_bounds,
)
from sim.scenario.pipelines import next_seq_len
from sim.scenario.schema import Scenario
from sim.workload.replay import TraceArrivals

Problem = tuple[tuple[str | int, ...], str]


def check_pipelines(scenario: Scenario) -> list[Problem]:
    """Problems with the pipelines: names, the pools of stages, and stage lengths.

    Each pipeline's name is its own, some pool serves each stage's model, and the lengths a
    stage can be asked for are ones its model takes.
    """
    problems: list[Problem] = []
    arrivals = scenario.workload.arrivals
    if scenario.pipelines and isinstance(arrivals, TraceArrivals):
        data = arrivals.load()
        if data.models is not None or data.seq_lens is not None:
            problems.append(
                (
                    ("pipelines",),
                    "a replayed trace that names models or lengths cannot drive a pipeline: "
                    "it gives a model's requests, not a pipeline's stages (replay arrival "
                    "times only, and let the mix choose the pipeline and its lengths)",
                )
            )
    served = served_models(scenario)
    models = set(zoo.model_names()) | set(scenario.models) | served
    seen: set[str] = set()
    for i, pipeline in enumerate(scenario.pipelines):
        where = ("pipelines", i)
        found: list[Problem] = []
        if pipeline.name in seen:
            found.append(((*where, "name"), f"pipeline name {pipeline.name!r} is used twice"))
        seen.add(pipeline.name)
        if pipeline.name in models:
            found.append(
                (
                    (*where, "name"),
                    f"{pipeline.name!r} is the name of a model; a pipeline needs a name of its "
                    "own (the mix and the trace's model column tell them apart by name)",
                )
            )
        for s, stage in enumerate(pipeline.stages):
            if stage.model not in served:
                found.append(
                    (
                        (*where, "stages", s, "model"),
                        f"no pool serves model {stage.model!r}"
                        f"{did_you_mean(stage.model, sorted(served))}; pools serve: "
                        f"{', '.join(sorted(served))}",
                    )
                )
        problems += found or _check_lengths(scenario, i)
    return problems


def _check_lengths(scenario: Scenario, i: int) -> list[Problem]:
    """Each stage's lengths, from each mix entry asking for the pipeline, in its model's range."""
    pipeline = scenario.pipelines[i]
    problems: list[Problem] = []
    for entry in scenario.workload.mix:
        if entry.model != pipeline.name:
            continue
        low, high = seq_len_bounds(entry, default_seq_len(scenario, entry.model))
        for s, stage in enumerate(pipeline.stages):
            low, high = next_seq_len(stage.seq_len, low), next_seq_len(stage.seq_len, high)
            try:
                model = resolve_model(scenario, stage.model)
            except KeyError:  # a label of synthetic pools, or reported with its pool
                continue
            if low < model.min_seq_len or high > model.max_seq_len:
                field = (
                    ("workload", "mix", scenario.workload.mix.index(entry), "seq_len")
                    if s == 0
                    else ("pipelines", i, "stages", s, "seq_len")
                )
                problems.append(
                    (
                        field,
                        f"{stage.model} takes sequence lengths {model.min_seq_len}.."
                        f"{model.max_seq_len}; stage {s} of {pipeline.name} gets {low}..{high}",
                    )
                )
    return problems
