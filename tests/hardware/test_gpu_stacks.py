"""GPU serving stacks: the API keyword, the published rows, the per-stack fit and its errors."""

from __future__ import annotations

import warnings
from importlib import resources

import numpy as np
import pandas as pd
import pytest

import hardware
from hardware import calibrate
from hardware.calibration import gpu_benchmarks, gpu_errors, gpu_fit, gpu_fit_choices, row_times
from hardware.timing.gpu_parameters import gpu_parameters
from hardware.timing.gpu_stacks import DEFAULT_STACK, STACKS

GPU_INSTANCES = ("g4dn.xlarge", "g5.xlarge", "g6.xlarge", "p3.2xlarge")

# Errors documented in docs/hardware.md ("GPU serving stacks"), from
# python -m hardware.calibration.gpu_fit --report: rows, then (latency median, latency p90,
# throughput median, throughput p90) in the fit and held out (leave one model out).
DOCUMENTED = {
    "tensorrt": (379, (0.064, 0.272, 0.062, 0.271), (0.093, 0.347, 0.090, 0.313)),
    "onnxruntime": (22, (0.140, 0.271, 0.160, 0.366), (0.200, 0.950, 0.259, 0.490)),
    "eager": (48, (0.023, 0.248, 0.023, 0.226), (0.036, 0.260, 0.035, 0.229)),
}
MEDIAN_TOLERANCE, P90_TOLERANCE = 0.01, 0.03
ERROR_COLUMNS = ("latency_median", "latency_p90", "throughput_median", "throughput_p90")


def assert_documented(table: pd.DataFrame, documented: tuple[float, ...]) -> None:
    """Each error of ``table`` within the tolerance of its documented value (both ways)."""
    e = gpu_errors.errors(table).iloc[0]
    for column, value in zip(ERROR_COLUMNS, documented, strict=True):
        tolerance = MEDIAN_TOLERANCE if column.endswith("median") else P90_TOLERANCE
        assert abs(e[column] - value) <= tolerance, (column, e[column], value)


@pytest.fixture(scope="module")
def refit() -> dict[str, gpu_fit.StackFit]:
    """What python -m hardware.calibration.gpu_fit fits, by stack."""
    return {fit.stack: fit for fit in gpu_fit.fit_all()}


def test_stack_registry_and_default():
    """Three stacks, TensorRT the default; service_time without a stack uses the default."""
    assert list(STACKS) == ["tensorrt", "onnxruntime", "eager"]
    assert DEFAULT_STACK == "tensorrt"
    for inst in GPU_INSTANCES:
        default = hardware.service_time("bert-base", inst, 4, 128, "fp16")
        named = hardware.service_time("bert-base", inst, 4, 128, "fp16", stack=DEFAULT_STACK)
        assert default == named


@pytest.mark.parametrize("inst", GPU_INSTANCES)
def test_compiled_stacks_beat_eager_at_batch_one(inst):
    """Published order at BERT-base seq 128 batch 1: TensorRT < ONNX Runtime < eager (~8 ms)."""
    t = {s: hardware.service_time("bert-base", inst, 1, 128, "fp16", stack=s) for s in STACKS}
    assert t["tensorrt"] < t["onnxruntime"] < t["eager"]
    assert t["eager"] > 6e-3 and t["tensorrt"] < 3e-3


def test_t4_tensorrt_matches_the_published_figure():
    """T4 BERT-base seq 128 batch 1 fp16 TensorRT: published 1.76 ms (TRT 7.1, the fitted row)
    to 1.96 ms (TRT 8.2) average; the model is within 15% of the fitted row, 20% of the rest."""
    t_ms = hardware.service_time("bert-base", "g4dn.xlarge", 1, 128, "fp16") * 1e3
    print(f"T4 bert-base s128 b1 tensorrt fp16: {t_ms:.3f} ms")
    assert t_ms == pytest.approx(1.76, rel=0.15)
    assert t_ms == pytest.approx(1.96, rel=0.20)


def test_stacks_on_neuroncores_are_errors_or_nan():
    """A stack named for an Inferentia instance: ValueError from scalar calls, NaN in arrays."""
    with pytest.raises(ValueError, match="GPUs only.*got 'tensorrt'"):
        hardware.service_time("bert-base", "inf2.xlarge", 1, 128, stack="tensorrt")
    with pytest.raises(ValueError, match="GPUs only.*got 'eager'"):
        hardware.service_breakdown("bert-base", "inf1.xlarge", 1, 128, stack="eager")
    for name in ("service_time", "service_breakdown"):
        getattr(hardware, name)("bert-base", "inf2.xlarge", 1, 128, stack=None)  # no error
    grid = hardware.service_time_array(
        ["bert-base"], ["inf2.xlarge", "g5.xlarge"], [1, 8], [128], "fp16", stack="eager"
    )
    assert np.isnan(grid[0, 0]).all() and np.isfinite(grid[0, 1]).all()
    table = hardware.service_time_table(
        ["bert-base"], ["inf2.xlarge", "g5.xlarge"], [1], [128], "fp16", stack="onnxruntime"
    )
    assert table.service_time_s.isna().tolist() == [True, False]
    unchanged = hardware.service_time_array(["bert-base"], ["inf2.xlarge"], [1], [128], "fp16")
    assert unchanged[0, 0, 0, 0] == hardware.service_time(
        "bert-base", "inf2.xlarge", 1, 128, "fp16"
    )


def test_unknown_stack_is_an_error():
    """A misspelt stack names the choices."""
    with pytest.raises(ValueError, match="tensorrt, onnxruntime, eager"):
        hardware.service_time("bert-base", "g5.xlarge", 1, 128, "fp16", stack="trt")
    with pytest.raises(ValueError, match="unknown GPU stack"):
        hardware.service_time_array(["bert-base"], ["g5.xlarge"], [1], stack="vllm")
    with pytest.raises(ValueError, match="unknown GPU stack"):
        gpu_parameters("nvidia-t4", "vllm")


def test_array_and_scalar_agree_per_stack():
    """service_time_array with a stack equals the scalar calls with that stack."""
    batches = np.array([1, 4, 32])
    for stack in STACKS:
        arr = hardware.service_time_array(
            ["bert-large"], ["g6.xlarge"], batches, [128], stack=stack
        )
        one = hardware.service_time("bert-large", "g6.xlarge", batches, 128, stack=stack)
        np.testing.assert_allclose(arr[0, 0, :, 0], one)


def test_chip_efficiency_scale_applies_to_its_chip_under_every_stack():
    """The T4's fitted efficiency scale holds under every stack; the L4 (no rows) keeps 1."""
    table = pd.read_csv(resources.files("hardware") / "data" / "gpu_parameters.csv")
    own = table[(table.chip == "nvidia-t4") & (table.parameter == "chip_efficiency_scale")]
    assert own["stack"].tolist() == ["*"]
    for stack in STACKS:
        assert gpu_parameters("nvidia-t4", stack).chip_efficiency_scale == own.value.iloc[0]
        assert gpu_parameters("nvidia-l4", stack).chip_efficiency_scale == 1.0
    assert own.value.iloc[0] < 0.9  # the 70 W T4 sustains less of its peak


@pytest.mark.parametrize(
    "text,expected",
    [
        ("TensorRT 8.4.3 demoBERT (custom BERT plugins, fixed seq len)", "tensorrt"),
        ("TensorRT 10.0.1.6 demoBERT varseqlen plugins", None),
        ("Triton Inference Server, backend=NVIDIA TensorRT, format=NVIDIA TensorRT", "tensorrt"),
        ("Triton Inference Server, backend=ONNX Runtime, format=ONNX", "onnxruntime"),
        ("Triton Inference Server, backend=ONNX Runtime + NVIDIA TensorRT, format=ONNX", None),
        ("Triton Inference Server, backend=PyTorch, format=TorchScript Trace", None),
        (
            "transformer-deploy 0.5.0 convert_model benchmark: ONNX Runtime (optimized)",
            "onnxruntime",
        ),
        ("transformer-deploy 0.5.0 convert_model benchmark: Pytorch (FP16)", "eager"),
        ("PyTorch eager 2.1.0 + transformers 4.35.0 (requirements_g5.txt)", "eager"),
        ("TensorFlow 1.x (NGC TensorFlow 20.06-tf1-py3) + XLA", None),
    ],
)
def test_software_stack_strings(text, expected):
    """Published software stacks map to the modelled stacks, the rest to None."""
    assert gpu_benchmarks.stack_of(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("FP16", "fp16"),
        ("Mixed precision (FP16/AMP)", "fp16"),
        ("FP16 (ORT optimized, mixed)", "fp16"),
        ("INT8 (+FP16 fallback; PTQ vs QAT calibration not stated in table)", "int8"),
        ("INT8 QAT + 2:4 sparsity", None),
        ("FP32 graph (ORT vanilla)", "fp32"),
        ("TF32", None),
        ("TF32 + XLA", None),
    ],
)
def test_precision_strings(text, expected):
    """Precisions map to fleetsim dtypes; TF32 and sparse INT8 are not modelled."""
    assert gpu_benchmarks.dtype_of(text) == expected


def test_every_shipped_row_is_read():
    """Every copied row names its source and is predictable (the copy holds used rows only)."""
    rows = gpu_benchmarks.load_gpu_published()
    info = gpu_benchmarks.interpret(rows)
    assert len(rows) == 449
    assert rows.source.str.startswith("github.com/").all()
    assert (info.reason == "").all(), info.reason.value_counts()
    assert set(info.gpu_stack) == set(STACKS)


def _gpu_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "gpu": ["T4", "T4", "A10G", "H100", "T4"],
            "software_stack": [
                "TensorRT 8.4.3 demoBERT (custom BERT plugins, fixed seq len)",
                "Triton Inference Server, backend=ONNX Runtime, format=ONNX",
                "PyTorch eager (HF transformers)",
                "TensorRT 10.0.1.6 demoBERT (custom BERT plugins, fixed seq len)",
                "TensorRT 8.4.3 demoBERT (custom BERT plugins, fixed seq len)",
            ],
            "model": [
                "bert-base-uncased (SQuAD QA)",
                "bert-large-uncased (SQuAD v1.1 QA, PyTorch BERT)",
                "bert-base-uncased",
                "bert-base-uncased (SQuAD QA)",
                "bert-base-uncased (SQuAD QA)",
            ],
            "seq_len_or_image_size": ["128", "384", "128", "128", "128"],
            "batch_size": [8.0, 1.0, 1.0, 1.0, "lots"],
            "precision": ["FP16", "FP16", "FP32", "FP16", "FP16"],
        }
    )


def test_predict_takes_gpu_published_rows():
    """calibrate.predict adds pred_throughput_per_s and pred_latency_ms, equal to service_time."""
    assert calibrate.predict is row_times.predict
    rows = _gpu_rows()
    with pytest.warns(UserWarning, match="2 GPU rows not predicted"):
        out = calibrate.predict(rows)
    assert list(out.columns[: len(rows.columns)]) == list(rows.columns)
    assert "pred_latency_ms" not in rows
    expected = [
        hardware.service_time("bert-base", "g4dn.xlarge", 8, 128, "fp16", stack="tensorrt"),
        hardware.service_time("bert-large", "g4dn.xlarge", 1, 384, "fp16", stack="onnxruntime"),
        hardware.service_time("bert-base", "g5.xlarge", 1, 128, "fp32", stack="eager"),
    ]
    np.testing.assert_allclose(out.pred_latency_ms[:3], np.array(expected) * 1e3)
    np.testing.assert_allclose(out.pred_throughput_per_s[:3], [8, 1, 1] / np.array(expected))
    assert out.pred_latency_ms[3:].isna().all()  # H100 not in the catalog; batch not a number


def test_predict_on_the_shipped_rows_matches_the_fit():
    """predict() on the shipped rows gives the documented in-fit errors (one code path)."""
    rows = gpu_benchmarks.load_gpu_published()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = calibrate.predict(rows)
    info = gpu_benchmarks.interpret(rows)
    latency_ms, per_s = gpu_benchmarks.observed(rows)
    table = info.assign(
        predicted_ms=out.pred_latency_ms, observed_ms=latency_ms, observed_per_s=per_s
    )
    for stack, (n, documented, _) in DOCUMENTED.items():
        mine = table[table.gpu_stack == stack]
        assert len(mine) == n
        np.testing.assert_allclose(
            mine.batch * 1e3 / mine.predicted_ms, out.pred_throughput_per_s[mine.index]
        )
        assert_documented(mine, documented)


@pytest.mark.parametrize("stack", list(STACKS))
def test_shipped_parameters_reproduce_documented_errors(stack):
    """The shipped parameters reproduce the documented in-fit errors of each stack."""
    rows = gpu_fit.fit_rows(stack)
    predicted = gpu_fit.predict_ms(rows, lambda chip: gpu_parameters(chip, stack))
    table = rows.assign(predicted_ms=predicted)
    print(f"{stack}: {gpu_errors.errors(table).iloc[0].to_dict()}")
    assert len(rows) == DOCUMENTED[stack][0]
    assert_documented(table, DOCUMENTED[stack][1])


@pytest.mark.parametrize("stack", list(STACKS))
def test_held_out_errors_reproduce_the_documented_figures(stack):
    """Leave-one-model-out errors match docs/hardware.md; TensorRT and eager meet the 20% target."""
    held = gpu_fit.leave_one_model_out(stack, gpu_fit.shipped_chip_scales())
    print(f"{stack} held out: {gpu_errors.errors(held).iloc[0].to_dict()}")
    assert len(held) == DOCUMENTED[stack][0]
    assert_documented(held, DOCUMENTED[stack][2])
    if stack != "onnxruntime":  # 22 rows of 4 models: misses the target (docs/hardware.md)
        e = gpu_errors.errors(held).iloc[0]
        assert e.latency_median <= 0.20 and e.throughput_median <= 0.20


@pytest.mark.parametrize("stack", list(STACKS))
def test_refit_reproduces_stored_parameters(refit, stack):
    """python -m hardware.calibration.gpu_fit recovers the shipped fitted values (within 5%)."""
    fitted = refit[stack]
    for name in gpu_fit_choices.FREE[stack]:
        low, high, _ = gpu_fit_choices.BOUNDS[name]
        stored = getattr(gpu_parameters("nvidia-l4", stack), name)
        assert getattr(fitted.shared, name) == pytest.approx(
            stored, rel=0.05, abs=0.01 * (high - low)
        ), name
    for chip, values in fitted.per_chip.items():
        stored = gpu_parameters(chip, stack).chip_efficiency_scale
        assert values["chip_efficiency_scale"] == pytest.approx(stored, rel=0.05), chip


def test_a_broken_stack_fails_the_error_check():
    """Eager parameters on the TensorRT rows miss the documented errors by far (the check bites)."""
    rows = gpu_fit.fit_rows("tensorrt")
    predicted = gpu_fit.predict_ms(rows, lambda chip: gpu_parameters(chip, "eager"))
    e = gpu_errors.errors(rows.assign(predicted_ms=predicted)).iloc[0]
    assert e.latency_median > 3 * DOCUMENTED["tensorrt"][1][0]


def test_report_table_is_the_documented_layout(refit):
    """--report's table: one row per GPU and 'all', in-fit and held-out columns, in percent."""
    fit = refit["eager"]
    held = gpu_fit.leave_one_model_out("eager", gpu_fit.chip_scales(refit["tensorrt"].per_chip))
    table = gpu_errors.report_table(fit.table, held)
    assert table.group.tolist() == ["nvidia-a10g", "nvidia-t4", "all"]
    assert table.rows.tolist() == [44, 4, 48]
    text = gpu_errors.markdown(table)
    first = gpu_errors.errors(fit.table).iloc[0]
    assert f"| all | 48 | {100 * first.latency_median:.1f}% |" in text
    assert text.splitlines()[0].endswith("| held throughput median | held throughput p90 |")
