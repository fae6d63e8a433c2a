"""The model zoo: inference workloads described by architecture hyper-parameters only.

:mod:`~hardware.models.workload` defines what a model asks of the hardware (:class:`ModelSpec`:
GEMMs, vector-engine work, bytes); :mod:`~hardware.models.transformer`,
:mod:`~hardware.models.vit`, :mod:`~hardware.models.convnet`, :mod:`~hardware.models.cnn` and
:mod:`~hardware.models.yolo` implement it; :mod:`~hardware.models.zoo` names the built-in models.
Depends on :mod:`hardware.catalog` for dtype sizes only.
"""
