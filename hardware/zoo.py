"""Model zoo: inference workloads described by architecture hyper-parameters only.

Every model turns a batch size and a sequence length into the GEMMs it runs (as arrays, so one
call covers a whole grid of batch sizes and sequence lengths), the element counts of its
vector-engine work, and its weight bytes. No measured numbers enter here.

For CNNs the ``seq_len`` argument is the image side in pixels (square images, default 224).
"""

from __future__ import annotations

import re
from functools import lru_cache
from types import MappingProxyType

from hardware.cnn import ResNet
from hardware.transformer import TransformerEncoder
from hardware.workload import GemmSet, ModelSpec, VectorWork

__all__ = [
    "GemmSet",
    "ModelSpec",
    "ResNet",
    "TransformerEncoder",
    "VectorWork",
    "model",
    "model_names",
]


def _builtin_models() -> tuple[ModelSpec, ...]:
    return (
        TransformerEncoder("bert-base", layers=12, hidden=768, heads=12, ffn=3072),
        TransformerEncoder("bert-large", layers=24, hidden=1024, heads=16, ffn=4096),
        TransformerEncoder("distilbert-base", layers=6, hidden=768, heads=12, ffn=3072),
        # RoBERTa's HF config says max_position_embeddings=514: 2 rows are a padding offset,
        # usable length is 512.
        TransformerEncoder("roberta-base", layers=12, hidden=768, heads=12, ffn=3072, vocab=50265),
        ResNet("resnet-50", blocks=(3, 4, 6, 3)),
    )


@lru_cache(maxsize=1)
def _registry() -> MappingProxyType[str, ModelSpec]:
    return MappingProxyType({m.name: m for m in _builtin_models()})


def _normalise(name: str) -> str:
    key = name.strip().lower().rsplit("/", 1)[-1]
    key = re.sub(r"[\s_]+", "-", key)
    key = re.sub(r"-(un)?cased$", "", key)
    return re.sub(r"^(resnet)-?(\d+)$", r"\1-\2", key)


def model(name: str) -> ModelSpec:
    """Look up a built-in model.

    Case, underscores and spaces are ignored, a ``-cased``/``-uncased`` suffix and an
    ``org/`` prefix are dropped, and ``resnet50`` means ``resnet-50``.

    Args:
        name: Model name, e.g. ``"bert-base"``, ``"bert-base-uncased"``, ``"ResNet50"``.

    Returns:
        The model specification.

    Raises:
        KeyError: If the name does not resolve to a built-in model.

    """
    spec = _registry().get(_normalise(name))
    if spec is None:
        raise KeyError(name)
    return spec


def model_names() -> list[str]:
    """Canonical names of the built-in models, sorted."""
    return sorted(_registry())
