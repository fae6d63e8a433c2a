"""The request mix: weights, seq_len distributions and independent streams (seeded checks)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from sim.scenario.loading import parse_scenario
from sim.scenario.schema import MixEntry
from sim.streams import stream
from sim.workload.mix import RequestMix
from sim.workload.requests import request_stream

N = 200_000


def mix(entries):
    return RequestMix(
        [MixEntry.model_validate(e) for e in entries],
        [128] * len(entries),
        stream(9, "mix"),
        [stream(9, "seq_len", i) for i in range(len(entries))],
    )


def chi2(counts, probabilities):
    expected = np.asarray(probabilities) * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


def test_entries_follow_weights():
    """Entry frequencies match weights 1:3:6 (chi-square, 2 dof, 99.9%: 13.8)."""
    m = mix([{"model": "a", "weight": 1}, {"model": "b", "weight": 3}, {"model": "c", "weight": 6}])
    entry, _ = m.sample(N)
    assert chi2(np.bincount(entry, minlength=3), [0.1, 0.3, 0.6]) < 13.8


def test_choice_follows_its_weights():
    """seq_len choice values appear in proportion 3:1."""
    m = mix([{"model": "a", "seq_len": {"kind": "choice", "values": [64, 128], "weights": [3, 1]}}])
    _, seq = m.sample(N)
    assert set(np.unique(seq)) == {64, 128}
    assert chi2(np.array([(seq == 64).sum(), (seq == 128).sum()]), [0.75, 0.25]) < 10.8


def test_uniform_includes_both_ends():
    """uniform low..high draws every integer in the closed range, evenly."""
    m = mix([{"model": "a", "seq_len": {"kind": "uniform", "low": 10, "high": 14}}])
    _, seq = m.sample(N)
    counts = np.array([(seq == v).sum() for v in range(10, 15)])
    assert seq.min() == 10 and seq.max() == 14
    assert chi2(counts, [0.2] * 5) < 18.5  # 4 dof, 99.9%


def test_fixed_and_default():
    """A fixed length is constant; no seq_len gives the model default."""
    m = mix([{"model": "a", "seq_len": 77}, {"model": "b"}])
    entry, seq = m.sample(1000)
    assert (seq[entry == 0] == 77).all() and (seq[entry == 1] == 128).all()


def scenario(mix_entries):
    return parse_scenario(
        yaml.safe_dump(
            {
                "name": "m",
                "seed": 5,
                "duration": "5s",
                "workload": {"arrivals": {"kind": "poisson", "rate": 2000}, "mix": mix_entries},
                "fleet": [
                    {"name": n, "instance": "inf2.xlarge", "count": 1, "model": n}
                    for n in sorted({e["model"] for e in mix_entries})
                ],
                "slo": {"target": "10ms"},
            }
        )
    )


def lengths_of(sc, model):
    names = sorted({e.model for e in sc.workload.mix})
    chunks = list(request_stream(sc, names))
    models = np.concatenate([c[1] for c in chunks])
    seqs = np.concatenate([c[2] for c in chunks])
    return seqs[models == names.index(model)]


def test_adding_an_entry_keeps_other_lengths():
    """Each entry has its own seq_len stream, keyed by model name, not by position."""
    uniform = {"kind": "uniform", "low": 16, "high": 512}
    one = scenario([{"model": "bert-base", "seq_len": uniform}])
    two = scenario(
        [
            {"model": "distilbert-base", "seq_len": uniform, "weight": 1},
            {"model": "bert-base", "seq_len": uniform, "weight": 1},
        ]
    )
    a, b = lengths_of(one, "bert-base"), lengths_of(two, "bert-base")
    n = min(a.size, b.size)
    assert n > 1000 and np.array_equal(a[:n], b[:n])


@pytest.mark.parametrize("weights", [[1, 0], [0.2, 0.8]])
def test_zero_weight_entry_never_drawn(weights):
    """An entry of weight 0 is never chosen."""
    m = mix([{"model": "a", "weight": weights[0]}, {"model": "b", "weight": weights[1]}])
    entry, _ = m.sample(10_000)
    assert (entry == 1).any() == (weights[1] > 0) and (entry == 0).any() == (weights[0] > 0)
