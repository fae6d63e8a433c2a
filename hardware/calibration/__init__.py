"""Calibration: the timing models fitted to, and checked against, published benchmarks.

* :mod:`~hardware.calibration.benchmarks`: published Neuron benchmark rows in the model's terms.
* :mod:`~hardware.calibration.row_times`: predictions for many rows at once (``predict``).
* :mod:`~hardware.calibration.neuroncore_fit`: the NeuronCore fit (writes
  ``calibrated_parameters.csv``); ``python -m hardware.calibration [--dry-run]`` runs it and
  prints :mod:`~hardware.calibration.error_report`.
* :mod:`~hardware.calibration.gpu_fit`: the GPU fit on the g5 rows
  (``python -m hardware.calibration.gpu_fit``).
* :mod:`~hardware.calibration.anchors`: published single-batch anchors and the model's error.
* :mod:`~hardware.calibration.jitter_fit`: service-time jitter per chip from published p99/p50
  (``python -m hardware.calibration.jitter_fit`` writes ``jitter.csv``).
* :mod:`~hardware.calibration.host_fit`: the host-cost measurement (``python -m
  hardware.calibration.host_fit`` writes ``host_cost.csv``; needs ``tokenizers``).
* :mod:`~hardware.calibration.power_projection`: the projected Inferentia3 power figure.

Import order is one way: ``benchmarks`` <- ``row_times`` <- ``neuroncore_fit`` <-
``error_report`` <- ``__main__``; nothing here is imported by the rest of :mod:`hardware`.
"""
