"""Speech encoders in the zoo: parameters, hand-computed GEMMs, a run and the CLI table.

``seq_len`` of a speech model is the audio length in milliseconds (hardware/models/audio.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import ENGINES, scenario
from typer.testing import CliRunner

import sim
from hardware.models import zoo
from sim.cli import app
from sim.policies.shapes import resolve_shapes


def _layer_flops(t: int, hidden: int, heads: int, ffn: int) -> float:
    """One transformer layer over ``t`` frames, written out GEMM by GEMM (2 FLOPs per MAC)."""
    dh = hidden // heads
    qkv = t * hidden * 3 * hidden
    scores = heads * (t * dh * t + t * t * dh)
    out = t * hidden * hidden
    ffn_macs = 2 * t * hidden * ffn
    return 2.0 * (qkv + scores + out + ffn_macs)


@pytest.mark.parametrize(
    ("name", "params", "published", "rel"),
    [
        ("wav2vec2-base", 94_371_712, 95e6, 0.02),  # HF Wav2Vec2Model; the paper's "95M"
        # HF WhisperEncoder of openai/whisper-base; "~20M" is a round figure (20.6M of 74M)
        ("whisper-base-encoder", 20_590_592, 20e6, 0.03),
    ],
)
def test_speech_parameter_counts(name, params, published, rel):
    """Counts from hyper-parameters: exact vs the HF classes, near the published round figure."""
    spec = zoo.model(name)
    assert spec.params == params
    assert spec.params == pytest.approx(published, rel=rel)
    assert spec.kind == "audio"
    assert spec.seq_len_unit == "ms audio"


def test_wav2vec2_frames_follow_the_conv_strides():
    """One frame per 20 ms: 49 frames for 1 s (16,000 samples), 25 ms is the receptive field."""
    spec = zoo.model("wav2vec2-base")
    assert spec.frames(np.array([1000, 4000, 25])).tolist() == [49, 199, 1]
    assert spec.min_seq_len == 25
    with pytest.raises(ValueError, match="seq_len"):
        spec.gemms(1, 24)
    with pytest.raises(ValueError, match="seq_len"):
        spec.gemms(1, 30_001)


def test_wav2vec2_flops_per_second_by_hand():
    """1 s of audio: conv lengths 3199, 1599, 799, 399, 199, 99, 49 frames; every GEMM by hand."""
    spec = zoo.model("wav2vec2-base")
    g = spec.gemms(1, 1000)
    rows = {n: (int(m), int(k), int(n_), int(c)) for n, m, k, n_, c in zip(
        g.names, g.m, g.k, g.n, g.count, strict=True)}  # fmt: skip
    assert rows["feature_conv0"] == (3199, 10, 512, 1)
    assert rows["feature_conv1"] == (1599, 3 * 512, 512, 1)
    assert rows["feature_conv6"] == (49, 2 * 512, 512, 1)
    assert rows["feature_proj"] == (49, 512, 768, 1)
    assert rows["pos_conv"] == (49, 128 * 48, 48, 16)  # 16 groups of 48 channels
    lengths = [3199, 1599, 799, 399, 199, 99, 49]
    convs = 3199 * 10 * 512 + sum(
        t * k * 512 * 512 for t, k in zip(lengths[1:], (3, 3, 3, 3, 2, 2), strict=True)
    )
    front = 2.0 * (convs + 49 * 512 * 768 + 16 * 49 * 6144 * 48)
    expected = front + 12 * _layer_flops(49, 768, 12, 3072)
    assert spec.flops(1, 1000) == pytest.approx(expected, rel=1e-12)
    assert spec.flops(1, 1000) == pytest.approx(13.81e9, rel=0.001)  # GFLOP per second of audio
    assert spec.flops(4, 1000) == pytest.approx(4 * expected, rel=1e-12)


def test_whisper_flops_are_one_30s_window_whatever_the_length():
    """Whisper pads every input to 30 s: conv1 on 3000 mel frames, conv2 and 6 layers on 1500."""
    spec = zoo.model("whisper-base-encoder")
    g = spec.gemms(1, 2000)
    rows = dict(zip(g.names, zip(g.m, g.k, g.n, strict=True), strict=True))
    assert tuple(map(int, rows["conv1"])) == (3000, 3 * 80, 512)
    assert tuple(map(int, rows["conv2"])) == (1500, 3 * 512, 512)
    convs = 2.0 * (3000 * 240 * 512 + 1500 * 1536 * 512)
    expected = convs + 6 * _layer_flops(1500, 512, 8, 2048)
    assert spec.flops(1, 2000) == pytest.approx(expected, rel=1e-12)
    assert spec.flops(1, 30_000) == spec.flops(1, 1)
    assert spec.input_bytes(2, 500, "fp32") == 2 * 80 * 3000 * 4


def test_speech_vector_work_memory_and_bytes_are_consistent():
    """Every vector category is positive; waveform bytes = 16 samples per ms x element size."""
    spec = zoo.model("wav2vec2-base")
    work = spec.vector_ops(np.array([1, 2]), 4000)
    assert np.all(work.passes() > 0) and work.passes()[1] == pytest.approx(2 * work.passes()[0])
    assert spec.input_bytes(1, 4000, "fp32") == 4000 * 16 * 4
    assert spec.input_bytes(1, 4000, "bf16") == 4000 * 16 * 2
    assert spec.activation_bytes(1, 8000, "bf16") > spec.activation_bytes(1, 4000, "bf16") > 0
    assert spec.layer_steps == 7 + 2 + 2 * 12


def test_audio_is_bucketed_on_neuroncores():
    """auto shapes bucket audio ms like tokens (a model compiled for a fixed sample count)."""
    buckets, _ = resolve_shapes("auto", on_gpu=False, model_kind="audio", max_seq_len=30_000,
                                max_batch=4)  # fmt: skip
    assert buckets is not None and buckets[0] == 64 and buckets[-1] == 30_000
    assert resolve_shapes("auto", on_gpu=True, model_kind="audio", max_seq_len=30_000,
                          max_batch=4) == (None, None)  # fmt: skip


def _asr(instance: str) -> dict:
    return {
        "name": "asr",
        "seed": 5,
        "duration": "3s",
        "workload": {
            "arrivals": {"kind": "poisson", "rate": 40},
            "mix": [
                {
                    "model": "wav2vec2-base",
                    "weight": 1,
                    "seq_len": {"kind": "uniform", "low": 1000, "high": 6000},
                }
            ],
        },
        "fleet": [
            {
                "name": "asr",
                "instance": instance,
                "count": 1,
                "model": "wav2vec2-base",
                "batching": {"max_batch": 2, "max_wait": "5ms"},
            }
        ],
        "slo": {"percentile": 99, "target": "500ms"},
    }


@ENGINES
@pytest.mark.parametrize("instance", ["inf2.xlarge", "g5.xlarge"])
def test_wav2vec2_runs_in_a_scenario(tmp_path, engine, instance):
    """A few seconds of utterances (1-6 s of audio) served on Inferentia and on a GPU."""
    result = sim.run(scenario(_asr(instance)), tmp_path / "out", engine=engine)
    trace = pd.read_parquet(tmp_path / "out" / "requests.parquet")
    done = trace[trace.status == "ok"]
    assert len(done) > 50, f"seed 5, replication 0: {len(done)} requests served"
    assert done.seq_len.between(1000, 6000).all()
    if instance == "inf2.xlarge":  # padded to the power-of-two ms buckets
        assert set(done.padded_seq_len) <= {1024, 2048, 4096, 8192}
    else:
        assert (done.padded_seq_len >= done.seq_len).all()
    assert result.summary["requests"] == len(trace)


def test_hardware_table_prints_for_wav2vec2():
    """The CLI table names the unit and flags the model as an uncalibrated prediction."""
    out = CliRunner().invoke(
        app,
        ["hardware", "table", "--model", "wav2vec2-base", "--instance", "inf2.xlarge",
         "--seq-len", "4000", "--batch-sizes", "1,4"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "4000 ms audio" in out.output
    assert "ARCHITECTURE PREDICTION" in out.output
    bad = CliRunner().invoke(
        app, ["hardware", "table", "--model", "wav2vec2-base", "--instance", "inf2.xlarge",
              "--seq-len", "10"],
    )  # fmt: skip
    assert bad.exit_code == 2 and "--seq-len" in bad.output
