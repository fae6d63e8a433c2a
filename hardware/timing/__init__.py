"""Timing: the service time of one batch on one model replica.

:mod:`~hardware.timing.service_times` is the entry point (``hardware.service_time`` and
friends). It asks the chip kind's timing model, picked by
:mod:`~hardware.timing.predictor` behind one protocol: :mod:`~hardware.timing.neuroncore`
(systolic-array cycles from :mod:`~hardware.timing.systolic`, a roofline, calibrated parameters
from :mod:`~hardware.timing.neuroncore_parameters`) or :mod:`~hardware.timing.gpu` (per-kernel
roofline, parameters from :mod:`~hardware.timing.gpu_parameters`). Both answer with a
:class:`~hardware.timing.breakdown.ServiceBreakdown`.

:mod:`~hardware.timing.jitter` (the mean-1 lognormal factor on a batch's service time) and
:mod:`~hardware.timing.host` (the host vCPU cost before the accelerator) sit beside them.
"""
