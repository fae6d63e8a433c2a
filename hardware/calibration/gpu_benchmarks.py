"""Published GPU inference rows, read in the GPU timing model's terms.

``hardware/data/gpu_published_calibration.csv`` is a verbatim subset of fleetsim's compilation of
published GPU figures (gpu_published.csv: NVIDIA TensorRT demoBERT and DeepLearningExamples
Triton tables, transformer-deploy, the Hugging Face g5 sweep); each row names its ``source``.
:func:`interpret` says, per row, which stack, chip, zoo model, dtype, size and batch it measured:

* **Stack** (:func:`stack_of`): TensorRT demoBERT with fixed sequence length, the Triton
  TensorRT backend and transformer-deploy's TensorRT engine are ``tensorrt``; the Triton ONNX
  Runtime backend (CUDA execution provider) and transformer-deploy's ONNX Runtime runs are
  ``onnxruntime``; PyTorch eager (Hugging Face, transformer-deploy's PyTorch runs) is ``eager``.
  TorchScript, TF/XLA, MXNet, Paddle, ORT with the TensorRT provider and varseqlen demoBERT are
  not modelled.
* **Chip** (:data:`GPU_CHIPS`): the catalog GPU of the row's ``gpu``. V100-32GB rows (DGX-1
  sections) run on the V100 SXM2 model: same GV100 peaks and 900 GB/s; memory size does not enter
  the timing. A10 is not A10G; A100-80GB (form factor and so bandwidth not stated) is left out.
* **Dtype** (:func:`dtype_of`): FP16 and mixed precision (AMP, ORT optimized) -> fp16; INT8 with
  FP16 fallback -> int8; FP32 -> fp32. TF32 has no fleetsim dtype (fp32 would use the CUDA-core
  peak, 8x below TF32 tensor cores on an A100) and 2:4-sparse INT8 is not modelled: not used.
* **Load**: every used row has one batch in flight (single-stream benchmarks, Triton offline at
  concurrency 1), so the batch's latency is the service time and throughput is batch / latency.
  TensorRT demoBERT latency excludes host-device copies; Triton rows are end to end through
  perf_analyzer on the same host (server compute is 95-99% of it at concurrency 1); the Hugging
  Face eager rows are host-dispatch bound without synchronisation: each stack's fitted
  ``overhead_s`` absorbs its protocol.
* **Observed**: latency = ``latency_avg_ms`` (else ``latency_p50_ms``); throughput =
  ``throughput_per_s`` (else batch x 1000 / latency, as the data notes say for demoBERT).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from io import StringIO
from types import MappingProxyType

import numpy as np
import pandas as pd

from hardware import catalog
from hardware.models import zoo

CALIBRATION_FILE = "gpu_published_calibration.csv"
"""Shipped subset of the published GPU rows (hardware/data)."""

GPU_CHIPS = MappingProxyType(
    {
        "T4": "nvidia-t4",
        "A10G": "nvidia-a10g",
        "L4": "nvidia-l4",
        "V100-16GB": "nvidia-v100",
        "V100-32GB": "nvidia-v100",
        "A100-40GB": "nvidia-a100-40gb",
        "A30": "nvidia-a30",
        "L40S": "nvidia-l40s",
    }
)
"""Published ``gpu`` name -> catalog chip."""

_MODELS = (
    (r"^NV distilled BERT dist6l", "distilbert-base"),  # 6 layers x 768: DistilBERT's shape
    (r"^cardiffnlp/twitter-roberta-base", "roberta-base"),
    (r"^roberta-large-mnli", "roberta-large"),
    (r"^google/vit-base-patch16-224", "vit-base-patch16-224"),
)
"""Published model names the zoo does not resolve by itself -> zoo model."""

COLUMNS = ("gpu_stack", "chip", "zoo_model", "dtype", "seq_len", "batch", "reason")
"""Columns of :func:`interpret` (``reason`` is empty for a predictable row)."""


def stack_of(software_stack: object) -> str | None:
    """The modelled stack of a published ``software_stack`` string, or None.

    Args:
        software_stack: The row's ``software_stack`` cell.

    Returns:
        ``"tensorrt"``, ``"onnxruntime"``, ``"eager"`` or None (not modelled).

    """
    s = str(software_stack).lower()
    if "demobert" in s:
        return "tensorrt" if "fixed seq len" in s else None
    if "triton" in s:
        if "backend=nvidia tensorrt" in s:
            return "tensorrt"
        if "backend=onnx runtime, format=onnx" in s:
            return "onnxruntime"
        return None
    if "transformer-deploy" in s:
        if "tensorrt (fp16)" in s:
            return "tensorrt"
        if "onnx runtime" in s:
            return "onnxruntime"
        if "pytorch (fp" in s:
            return "eager"
        return None
    if "pytorch eager" in s:
        return "eager"
    return None


def dtype_of(precision: object) -> str | None:
    """The fleetsim dtype of a published ``precision`` string, or None (not modelled).

    Args:
        precision: The row's ``precision`` cell.

    Returns:
        ``"fp16"``, ``"int8"``, ``"fp32"`` or None (TF32, sparse INT8, empty).

    """
    p = str(precision).lower()
    if "tf32" in p or "sparsity" in p or p in ("", "nan"):
        return None
    if p.startswith("int8"):
        return "int8"
    if "fp16" in p or "mixed" in p:
        return "fp16"
    if p.startswith("fp32"):
        return "fp32"
    return None


def zoo_model_of(model: object) -> str | None:
    """The zoo model of a published ``model`` string, or None.

    Args:
        model: The row's ``model`` cell, e.g. ``"bert-base-uncased (SQuAD QA)"``.

    Returns:
        A zoo model name, or None.

    """
    text = str(model)
    for pattern, name in _MODELS:
        if re.search(pattern, text):
            return name
    try:
        return zoo.model(text.split(" (")[0].strip()).name
    except KeyError:
        return None


def _number(cell: object) -> float:
    match = re.match(r"\s*(\d+(?:\.0)?)(?:x\d+)?(?:\s|\(|$)", str(cell))  # 128, 224x224
    return float(match.group(1)) if match else np.nan


def interpret(rows: pd.DataFrame) -> pd.DataFrame:
    """Read published GPU rows (gpu_published.csv layout) in the timing model's terms.

    Args:
        rows: Rows with at least ``gpu, software_stack, model, seq_len_or_image_size,
            batch_size, precision``.

    Returns:
        :data:`COLUMNS`, aligned with ``rows``; ``reason`` says why a row cannot be predicted.

    """
    stack = rows.software_stack.map(stack_of)
    chip = rows.gpu.map(lambda g: GPU_CHIPS.get(str(g)))
    model = rows.model.map(zoo_model_of)
    dtype = rows.precision.map(dtype_of)
    seq = rows.seq_len_or_image_size.map(_number)
    batch = pd.to_numeric(rows.batch_size, errors="coerce")
    runs = [
        isinstance(c, str) and isinstance(d, str) and catalog.chip(c).supports(d)
        for c, d in zip(chip, dtype, strict=True)
    ]
    reason = np.select(
        [
            stack.isna().to_numpy(),
            chip.isna().to_numpy(),
            model.isna().to_numpy(),
            dtype.isna().to_numpy(),
            ~np.asarray(runs, dtype=bool),
            seq.isna().to_numpy(),
            ~(batch >= 1).to_numpy(),
        ],
        [
            "software stack not modelled",
            "GPU not in the catalog",
            "model not in the zoo",
            "precision not a modelled dtype",
            "dtype not run by the catalog chip (e.g. INT8 on a V100: DP4A, not modelled)",
            "size not stated",
            "batch size not stated",
        ],
        "",
    )
    return pd.DataFrame(
        {
            "gpu_stack": stack,
            "chip": chip,
            "zoo_model": model,
            "dtype": dtype,
            "seq_len": seq,
            "batch": batch,
            "reason": reason,
        },
        index=rows.index,
    )


def observed(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Published latency and throughput of one-batch-in-flight rows.

    Args:
        rows: Rows in the gpu_published.csv layout.

    Returns:
        ``(latency_ms, throughput_per_s)`` arrays (NaN where not given).

    """
    latency = pd.to_numeric(rows.latency_avg_ms, errors="coerce")
    latency = latency.fillna(pd.to_numeric(rows.latency_p50_ms, errors="coerce")).to_numpy()
    batch = pd.to_numeric(rows.batch_size, errors="coerce").to_numpy()
    thr = pd.to_numeric(rows.throughput_per_s, errors="coerce").to_numpy()
    return latency, np.where(np.isnan(thr), batch * 1e3 / latency, thr)


@lru_cache(maxsize=1)
def _text() -> str:
    return resources.files("hardware").joinpath("data", CALIBRATION_FILE).read_text("utf-8")


def load_gpu_published() -> pd.DataFrame:
    """The shipped published GPU rows (a fresh copy).

    Returns:
        One row per published measurement, gpu_published.csv's columns.

    """
    return pd.read_csv(StringIO(_text()), comment="#")
