"""Predictions for published benchmark rows: ``hardware.calibrate.predict(rows)``.

A short public name for :func:`hardware.calibration.row_times.predict`, which takes rows in the
Neuron calibration file's layout (adds ``pred_throughput_per_s`` and ``pred_latency_p50_ms``) or
in the published GPU file's layout (``gpu, software_stack, model, seq_len_or_image_size,
batch_size, precision``; adds ``pred_throughput_per_s`` and ``pred_latency_ms``).
"""

from hardware.calibration.row_times import predict

__all__ = ["predict"]
