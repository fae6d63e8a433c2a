"""Published Neuron benchmark rows, read in the service-time model's terms.

``hardware/data/neuron_published_calibration.csv`` is a verbatim copy of fleetsim's compilation
of every published Neuron SDK benchmark row (inf1, inf2, trn1), the Hugging Face batch-1 sweep
and a few older tutorial figures; each row names its ``source``. :func:`interpret` says, per
row, which zoo model, dtype, image or sequence size, replica layout and load it measured:

* **Replicas.** A data-parallel row runs ``neuron_cores_used`` single-core replicas (NeuronPerf
  rows: ``n_models`` copies). A "Model Pipeline" row (Inf1 NeuronCore Pipeline) runs one replica
  split across all its cores, timed by the model's multi-core (``cores > 1``) path.
* **Batches in flight** ``N``: the benchmark protocol when stated (NeuronPerf ``n_models x
  workers``; 1 for the single-stream Hugging Face sweep), else the Little's-law figure the notes
  give (``throughput x p50 / batch``), else one per replica.
* **Mapping.** With ``R`` replicas, service time ``s`` per batch of ``b``: instance throughput
  ``min(N, R) b / s`` and p50 latency ``max(N / R, 1) s``: saturated replicas queue ``N / R``
  batches each; with fewer batches than replicas each batch runs alone.

Rows the model cannot or should not reproduce get a ``reason`` (see :data:`SKIP` and
:data:`REPORT_ONLY`): ``status`` is ``"fit"`` (used for fitting and the error targets),
``"report"`` (predicted and shown, not fitted) or ``"skip"`` (not fitted; predicted only if
model, instance, batch and size are known, e.g. a row with a data glitch).
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from io import StringIO

import numpy as np
import pandas as pd

from hardware import catalog
from hardware.models import zoo
from hardware.models.workload import ModelSpec

CALIBRATION_FILE = "neuron_published_calibration.csv"
"""Shipped copy of the published benchmark rows (hardware/data)."""

NEURON_FAMILIES = ("inf1", "inf2", "trn1")
"""Instance families whose rows the NeuronCore model is calibrated on."""

_UNKNOWN_ARCH = (
    (r"llama|mistral|opt-|codellama", "llm"),
    (r"t5", "enc-dec"),
    (r"stable diffusion|pixart", "diffusion"),
    (r"perceiver", "perceiver"),
    (r"openpose|unet|ssd300", "variant"),
)
"""Reason keys for rows of unmodelled architectures (matched on the model column)."""

SKIP = {
    "llm": "autoregressive LLM decoding (tokens/s, TPOT): no decode model",
    "enc-dec": "encoder-decoder generation (tokens/s): no decode model",
    "diffusion": "diffusion pipeline (denoising steps, VAE): not in the zoo",
    "perceiver": "Perceiver IO (latent cross-attention): not in the zoo",
    "variant": "architecture variant and input size not stated: not in the zoo",
    "zoo": "architecture not in the zoo",
    "claim": "headline ratio claim, no absolute numbers",
    "instance": "not one EC2 instance type of the catalog",
    "batch": "batch size not stated (or not a positive number)",
    "shifted": "columns shifted in the source (size 'FP32', batch 128, 0.02 in flight)",
    "typo": "hardware-facts 4.10: 41.24/s at p50 1.017 ms is a typo",
    "inflight": "hardware-facts 4.10: implies 2.8 batches in flight on 2 cores",
    "p50": "hardware-facts 4.10: p50 10.5 ms conflicts with 40.6 ms in every other revision",
    "split": "one batch of 128 in flight on 16 cores at 3,100/s: how TF2-Neuron splits a batch "
    "over cores is not documented",
    "threads": "Little's law gives at least 1.5x as many batches in flight as the client threads "
    "stated, which synchronous clients cannot keep: the load protocol is unknown",
}
"""Reasons (by key) for rows that are not fitted: unknown architectures and instances are not
predicted; data glitches and unmappable protocols are predicted but not fitted."""

REPORT_ONLY = {
    "b5": "hardware-facts 4.10: model tag Resnet50-TF(fp16,b5,c4) says batch 5, the column 10; "
    "read as batch 5, since threads=8 and Little's law at batch 5 (thr x p50 / 5 = 7.9) agree "
    "on 8 batches in flight, at batch 10 they do not (3.9); kept out of the fit as a check",
    "clip": "CLIP zero-shot classification also runs the text tower on prompts that are not "
    "stated; only the vision tower is modelled",
    "gpu": "GPU row: timed by hardware.timing.gpu (calibrated by hardware.calibration.gpu_fit), "
    "outside the NeuronCore fit",
    "hf-inf2": "Hugging Face inf2 sweep (Neuron SDK of Dec 2022-Feb 2023) is 1.3-2.4x slower "
    "than the Neuron benchmark for the same 5 models at batch 1, seq 128 (bert-base 2.40 vs "
    "1.00 ms): conflicting sources",
    "size": "input size not stated (YOLOv4 runs at 416, 512 or 608 px); read as the zoo "
    "default 416 px, so not a validation (they agree with 512 px: 10% median error, 416 px: 35%)",
}
"""Reasons for rows that are predicted and shown but not fitted."""


THREADS_SLACK = 1.5
"""Batches in flight (Little) over stated client threads beyond which a row's load is unknown."""

B5_BATCH = 5.0
"""Batch size of the ``b5`` rows (TF 1.15 fp16 ResNet-50 on inf1.xlarge): the model tag's."""

_AMBIGUOUS_SIZE = frozenset({"yolo-v4"})
"""Models without one standard input size: rows that omit it are not fitted."""


_COLUMNS = (
    "zoo_model",
    "generation",
    "hw_dtype",
    "input_dtype",
    "seq_len",
    "size_assumed",
    "batch",
    "replica_cores",
    "replicas",
    "in_flight",
    "status",
    "reason_key",
    "reason",
)
"""Columns of :func:`interpret`."""


@lru_cache(maxsize=1)
def _calibration_text() -> str:
    return resources.files("hardware").joinpath("data", CALIBRATION_FILE).read_text("utf-8")


def load_published() -> pd.DataFrame:
    """The shipped published benchmark rows, in the calibration file's columns.

    Returns:
        One row per published measurement (a fresh copy).

    """
    return pd.read_csv(StringIO(_calibration_text()))


def hardware_dtype(text: object) -> str | None:
    """The dtype the matmuls run in, from the file's ``dtype`` description.

    ``"FP32 model; autocast Matmult-BF16"`` (neuronx-cc) and Inf1's ``"fp32 model; neuron-cc
    default fp32->bf16 autocast"`` run bf16 matmuls; ``"autocast None"`` keeps fp32.

    Args:
        text: The ``dtype`` cell.

    Returns:
        ``"fp32"``, ``"bf16"``, ``"fp16"`` or None when not stated.

    """
    if not isinstance(text, str):
        return None
    t = text.lower()
    if "autocast none" in t:
        return "fp32"
    if "bf16" in t:
        return "bf16"
    if t.startswith("fp16"):
        return "fp16"
    if "fp32" in t:
        return "fp32"
    return None


def model_dtype(text: object) -> str | None:
    """The dtype of the framework model (what its inputs are), from the ``dtype`` cell.

    ``"FP32 model; autocast Matmult-BF16"`` is an fp32 model (fp32 pixels) whose matmuls run in
    bf16; ``"fp16"`` is an fp16 model.

    Args:
        text: The ``dtype`` cell.

    Returns:
        ``"fp32"``, ``"fp16"`` or ``"bf16"``, or None when not stated.

    """
    if not isinstance(text, str):
        return None
    first = re.match(r"\s*(fp32|fp16|bf16)", text.lower())
    return first.group(1) if first else hardware_dtype(text)


def resolve_row_model(model: object, notes: object) -> ModelSpec | None:
    """The zoo model a row measured: a checkpoint named in ``details=``, else the model cell.

    Args:
        model: The ``model`` cell (e.g. ``"BERT base (bert-base-uncased)"``).
        notes: The ``notes`` cell (``details=fp32, distilbert-base-uncased-..., ...``).

    Returns:
        The spec, or None if the architecture is not in the zoo.

    """
    details = re.search(r"details=([^;]*)", notes) if isinstance(notes, str) else None
    names = [n.strip() for n in details.group(1).split(",")] if details else []
    for name in [*names, model]:
        if isinstance(name, str) and name and not re.match(r"(fp|bf)\d|sequence", name):
            try:
                return zoo.model(name)
            except KeyError:
                continue
    return None


def _size(cell: object, spec: ModelSpec | None) -> tuple[float, bool]:
    """(sequence length or image side, assumed?) from ``seq_len_or_image_size``."""
    if isinstance(cell, int | float | np.integer | np.floating) and not pd.isna(cell):
        return float(cell), False
    if isinstance(cell, str) and cell.strip():
        parts = [p.strip() for p in cell.lower().split("x")]
        if all(p.isdigit() for p in parts) and len(set(parts)) == 1:
            return float(parts[0]), False
        return np.nan, False
    if spec is None:
        return np.nan, False
    return float(spec.default_seq_len), True


def _in_flight(notes: str, replicas: float) -> tuple[float, float]:
    """(batches in flight, replicas) from the protocol or Little's-law figure in ``notes``."""
    perf = re.search(r"n_models=(\d+), workers/model=(\d+)", notes)
    if perf:
        return float(perf.group(1)) * float(perf.group(2)), float(perf.group(1))
    if "single-stream" in notes:
        return 1.0, 1.0
    little = re.search(r"Little\) = ([\d.]+)", notes)
    if little:
        return float(little.group(1)), replicas
    return replicas, replicas


def _glitch(row: dict, spec: ModelSpec | None) -> str | None:
    """Key of :data:`SKIP` for the data glitches of hardware-facts 4.10 and unmappable rows."""
    name = spec.name if spec is not None else ""
    inst, b = row.get("instance"), row.get("batch_size")
    thr, p50 = row.get("throughput_per_s"), row.get("latency_p50_ms")
    if row.get("seq_len_or_image_size") == "FP32":
        return "shifted"
    if inst == "inf2.xlarge" and name == "bert-base-cased" and b == 1:
        if thr == 41.24:
            return "typo"
        if thr == 2830.1:
            return "inflight"
    if inst == "inf1.xlarge" and name == "bert-base" and b == 6 and p50 == 10.5:
        return "p50"
    if inst == "inf1.xlarge" and name == "resnet-50" and b == 10:
        return "b5"  # read as batch 5 by interpret
    if inst == "inf1.6xlarge" and b == 128:
        return "split"
    notes = row.get("notes") if isinstance(row.get("notes"), str) else ""
    threads = re.search(r"threads=(\d+)", notes)
    little = re.search(r"Little\) = ([\d.]+)", notes)
    if threads and little and float(little.group(1)) >= THREADS_SLACK * int(threads.group(1)) > 0:
        return "threads"
    return None


def interpret(rows: pd.DataFrame) -> pd.DataFrame:
    """Read each benchmark row as (model, chip, dtype, size, replicas, batches in flight).

    Args:
        rows: Rows in the calibration file's columns.

    Returns:
        A frame with the index of ``rows`` and columns ``zoo_model`` (canonical name or None),
        ``generation`` (NeuronCore generation, ``"gpu"`` or None), ``hw_dtype`` (matmul dtype),
        ``input_dtype`` (the framework model's dtype, for its input bytes), ``seq_len``,
        ``size_assumed``, ``batch``, ``replica_cores``, ``replicas``, ``in_flight``,
        ``status`` (``fit``/``report``/``skip``), ``reason_key`` and ``reason`` (see
        :data:`SKIP` and :data:`REPORT_ONLY`).

    """
    out = []
    names = set(catalog.instance_type_names())
    for row in rows.to_dict("records"):
        notes = row["notes"] if isinstance(row.get("notes"), str) else ""
        spec = resolve_row_model(row.get("model"), notes)
        inst = catalog.instance_type(row["instance"]) if row.get("instance") in names else None
        generation = None
        if inst is not None:
            generation = "gpu" if inst.family not in NEURON_FAMILIES else inst.chip.core_name
        size, assumed = _size(row.get("seq_len_or_image_size"), spec)
        cores = pd.to_numeric(row.get("neuron_cores_used"), errors="coerce")
        if pd.isna(cores):  # not stated: single-stream rows use one core, others all cores
            single = "single-stream" in notes or inst is None
            cores = 1.0 if single else inst.cores
        cores = float(cores)
        batch = float(pd.to_numeric(row.get("batch_size"), errors="coerce"))
        pipeline = "Model Pipeline" in notes
        in_flight, replicas = _in_flight(notes, 1.0 if pipeline else cores)
        if generation == "gpu":
            cores, replicas, in_flight = 1.0, 1.0, 1.0
        status, key = "fit", ""
        glitch = _glitch(row, spec)
        if "HEADLINE RATIO CLAIM" in notes:
            status, key = "skip", "claim"
        elif inst is None:
            status, key = "skip", "instance"
        elif spec is None:
            model = str(row.get("model")).lower()
            why = [k for pattern, k in _UNKNOWN_ARCH if re.search(pattern, model)]
            status, key = "skip", why[0] if why else "zoo"
        elif glitch == "b5":
            batch, in_flight = B5_BATCH, in_flight * batch / B5_BATCH
            status, key = "report", glitch
        elif glitch is not None:
            status, key = "skip", glitch
        elif not batch >= 1:
            status, key = "skip", "batch"
        elif generation == "gpu":
            status, key = "report", "gpu"
        elif spec.name.startswith("clip-"):
            status, key = "report", "clip"
        elif "philschmid" in str(row.get("source")) and row["instance"] == "inf2.xlarge":
            status, key = "report", "hf-inf2"
        elif assumed and spec.name in _AMBIGUOUS_SIZE:
            status, key = "report", "size"
        out.append(
            {
                "zoo_model": spec.name if spec is not None else None,
                "generation": generation,
                "hw_dtype": hardware_dtype(row.get("dtype")),
                "input_dtype": model_dtype(row.get("dtype")),
                "seq_len": size,
                "size_assumed": assumed,
                "batch": batch,
                "replica_cores": cores if pipeline else 1.0,
                "replicas": replicas,
                "in_flight": in_flight,
                "status": status,
                "reason_key": key,
                "reason": {**SKIP, **REPORT_ONLY}.get(key, ""),
            }
        )
    return pd.DataFrame(out, index=rows.index, columns=_COLUMNS)


def throughput_and_latency(
    service_s: np.ndarray,
    batch: np.ndarray,
    replicas: np.ndarray,
    in_flight: np.ndarray,
    hidden_s: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Instance throughput and p50 latency implied by a service time per batch.

    A replica with a second batch queued stages that batch's input while it executes the
    current one (the runtime copies inputs to device memory asynchronously), so its interval
    per batch is ``service_s - f * hidden_s`` with ``f = clip(N / R - 1, 0, 1)``: no overlap
    with one batch per replica, all of ``hidden_s`` from two on.

    Args:
        service_s: Service time of one batch on one replica, seconds.
        batch: Batch size.
        replicas: Replicas serving (single-core, or one pipelined replica).
        in_flight: Batches in flight on the instance.
        hidden_s: Seconds of ``service_s`` a queued batch overlaps
            (:func:`hardware.timing.breakdown.hidden_host_s`).

    Returns:
        ``(throughput_per_s, latency_p50_s)``: ``min(N, R) b / interval`` and
        ``max(N / R, 1) interval`` (Little's law for a saturated replica).

    """
    per_replica = in_flight / replicas
    interval = service_s - np.clip(per_replica - 1.0, 0.0, 1.0) * hidden_s
    busy = np.minimum(in_flight, replicas)
    return busy * batch / interval, np.maximum(per_replica, 1.0) * interval
