"""What the GPU stack fit frees and what it assumes, per stack, with the reasoning.

:data:`FREE` names the parameters :mod:`hardware.calibration.gpu_fit` fits on each stack's
published rows; :data:`ASSUMED` gives every other parameter's value and why (the text that
``data/gpu_parameters.csv`` carries as its ASSUMED source); :data:`BOUNDS` and :data:`UNITS` are
the search box and the units of each parameter.
"""

from __future__ import annotations

from types import MappingProxyType

UNITS = MappingProxyType(
    {
        "compute_efficiency": "fraction",
        "bandwidth_efficiency": "fraction",
        "launch_s": "s",
        "overhead_s": "s",
        "kernels_per_step_encoder": "kernels/step",
        "kernels_per_step_cnn": "kernels/step",
        "kernels_per_step_other": "kernels/step",
        "int8_efficiency": "fraction",
        "half_rate_rows": "rows",
        "unfused_elementwise": "fraction",
        "chip_efficiency_scale": "ratio",
    }
)

BOUNDS = MappingProxyType(
    {
        "compute_efficiency": (0.01, 1.0, 0.1),  # low, high, scale
        "bandwidth_efficiency": (0.05, 1.0, 0.1),
        "launch_s": (0.0, 2e-4, 1e-5),
        "overhead_s": (0.0, 5e-3, 1e-4),
        "int8_efficiency": (0.05, 1.0, 0.1),
        "half_rate_rows": (0.0, 4096.0, 100.0),
        "unfused_elementwise": (0.0, 1.0, 0.1),
        "chip_efficiency_scale": (0.2, 3.0, 0.1),
    }
)

FREE = MappingProxyType(
    {
        "tensorrt": (
            "compute_efficiency",
            "bandwidth_efficiency",
            "launch_s",
            "overhead_s",
            "int8_efficiency",
            "half_rate_rows",
            "unfused_elementwise",
        ),
        "onnxruntime": ("compute_efficiency", "launch_s", "overhead_s", "unfused_elementwise"),
        "eager": ("compute_efficiency", "launch_s", "overhead_s"),
    }
)
"""Parameters fitted per stack (identifiable from its rows)."""

_BW = (
    "typical achieved fraction of GDDR6/HBM2 peak for streaming kernels; not identifiable from "
    "these rows"
)
ASSUMED = MappingProxyType(
    {
        "tensorrt": {
            "bandwidth_efficiency": (0.8, _BW),
            "kernels_per_step_encoder": (
                2.5,
                "demoBERT fuses a layer into ~5 kernels (QKV GEMM, fused MHA, output GEMM with "
                "residual+layernorm, FFN1 with GELU, FFN2 with residual+layernorm) = 2.5 per step",
            ),
            "kernels_per_step_cnn": (1.0, "TensorRT fuses conv + batch-norm + ReLU (+ add)"),
            "kernels_per_step_other": (2.5, "other kinds are transformer layers: encoder count"),
            "int8_efficiency": (1.0, "no INT8 rows"),
            "half_rate_rows": (0.0, "no small-batch sweep"),
            "unfused_elementwise": (0.0, "fused"),
        },
        "onnxruntime": {
            "bandwidth_efficiency": (0.8, _BW),
            "kernels_per_step_encoder": (
                5.0,
                "the ORT transformer optimizer fuses attention, skip-layernorm and bias-GELU: "
                "~10 kernels per layer = 5 per step",
            ),
            "kernels_per_step_cnn": (1.0, "ORT fuses conv + batch-norm + ReLU"),
            "kernels_per_step_other": (5.0, "other kinds are transformer layers: encoder count"),
            "int8_efficiency": (1.0, "no INT8 rows: INT8 engines are a TensorRT feature here"),
            "half_rate_rows": (
                0.0,
                "not identifiable from 22 rows at batch 1-16; 0 = full rate at any size",
            ),
        },
        "eager": {
            "bandwidth_efficiency": (0.8, _BW),
            "kernels_per_step_encoder": (
                9.5,
                "a Hugging Face BertLayer in PyTorch eager launches ~19 kernels (q/k/v/out/ffn "
                "addmm x6, 2 bmm, 2-3 copies, div, mask add, softmax, gelu, 2 residual adds, 2 "
                "layernorms) = 9.5 per step (2 steps per layer)",
            ),
            "kernels_per_step_cnn": (
                3.5,
                "torchvision eager convolution step = conv + batch-norm + ReLU (3) plus the "
                "residual add and ReLU shared by a block's convolutions (~0.5)",
            ),
            "kernels_per_step_other": (9.5, "other kinds are transformer layers: encoder count"),
            "int8_efficiency": (1.0, "eager rows are fp32/fp16 only"),
            "half_rate_rows": (0.0, "eager rows are batch 1 or one batch 16: not identifiable"),
            "unfused_elementwise": (1.0, "eager launches every elementwise operator unfused"),
        },
    }
)
"""Fixed values per stack with their reasoning (ASSUMED in the data file)."""
