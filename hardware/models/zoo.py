"""Model zoo: inference workloads described by architecture hyper-parameters only.

Every model turns a batch size and a sequence length into the GEMMs it runs (as arrays, so one
call covers a whole grid of batch sizes and sequence lengths), the element counts of its
vector-engine work, and its weight bytes. No measured numbers enter here.

For CNNs and vision transformers the ``seq_len`` argument is the image side in pixels (square
images); for speech encoders it is the audio length in milliseconds
(:mod:`hardware.models.audio`). Hyper-parameters come from the Hugging Face ``config.json`` of
each checkpoint named in the comments, torchvision's model builders, and darknet's
``yolov4.cfg``; the tests check the resulting parameter counts against the published ones.
"""

from __future__ import annotations

import re
from functools import lru_cache
from types import MappingProxyType

from hardware.models.audio import Wav2Vec2, WhisperEncoder
from hardware.models.cnn import VGG, ResNet
from hardware.models.convnet import ConvNet
from hardware.models.transformer import TransformerEncoder
from hardware.models.vit import VisionTransformer
from hardware.models.workload import GemmSet, ModelSpec, VectorWork
from hardware.models.yolo import YoloV4

__all__ = [
    "VGG",
    "ConvNet",
    "GemmSet",
    "ModelSpec",
    "ResNet",
    "TransformerEncoder",
    "VectorWork",
    "VisionTransformer",
    "Wav2Vec2",
    "WhisperEncoder",
    "YoloV4",
    "PREDICTION_ONLY_KINDS",
    "aliases",
    "model",
    "model_names",
    "model_spec",
]

_ROBERTA = {"vocab": 50265, "type_vocab": 1, "position_offset": 2}
"""RoBERTa-style configs: max_position_embeddings=514 of which 2 are a padding offset."""


def _encoders() -> tuple[ModelSpec, ...]:
    te = TransformerEncoder
    return (
        # google-bert/bert-{base,large}-{uncased,cased} config.json (vocab 30522 / 28996)
        te("bert-base", layers=12, hidden=768, heads=12, ffn=3072),
        te("bert-base-cased", layers=12, hidden=768, heads=12, ffn=3072, vocab=28996),
        te("bert-large", layers=24, hidden=1024, heads=16, ffn=4096),
        te("bert-large-cased", layers=24, hidden=1024, heads=16, ffn=4096, vocab=28996),
        # distilbert/distilbert-base-{uncased,cased}: 6 layers, no segments, no pooler
        te("distilbert-base", 6, 768, 12, 3072, type_vocab=0, pooler=False),
        te("distilbert-base-cased", 6, 768, 12, 3072, 28996, type_vocab=0, pooler=False),
        # FacebookAI/roberta-{base,large}, distilbert/distilroberta-base
        te("roberta-base", layers=12, hidden=768, heads=12, ffn=3072, **_ROBERTA),
        te("roberta-large", layers=24, hidden=1024, heads=16, ffn=4096, **_ROBERTA),
        te("distilroberta-base", layers=6, hidden=768, heads=12, ffn=3072, **_ROBERTA),
        # FacebookAI/xlm-roberta-{base,large} (vocab 250002), almanach/camembert-base (32005)
        te("xlm-roberta-base", 12, 768, 12, 3072, 250002, type_vocab=1, position_offset=2),
        te("xlm-roberta-large", 24, 1024, 16, 4096, 250002, type_vocab=1, position_offset=2),
        te("camembert-base", 12, 768, 12, 3072, 32005, type_vocab=1, position_offset=2),
        # albert/albert-{base,large}-v2: embedding 128, one shared layer applied 12/24 times
        te("albert-base-v2", 12, 768, 12, 3072, 30000, embedding_size=128, shared_layers=True),
        te("albert-large-v2", 24, 1024, 16, 4096, 30000, embedding_size=128, shared_layers=True),
        # google/electra-{small,base,large}-discriminator (ElectraModel: no pooler)
        te("electra-small", 12, 256, 4, 1024, embedding_size=128, pooler=False),
        te("electra-base", 12, 768, 12, 3072, pooler=False),
        te("electra-large", 24, 1024, 16, 4096, pooler=False),
        # openai-community/gpt2{,-medium,-large,-xl}, distilgpt2: prefill pass of GPT2Model
        # (no LM head), 1024 positions, vocab 50257
        *(
            te(name, n, h, heads, 4 * h, 50257, 1024, 0, False, causal=True)
            for name, n, h, heads in (
                ("gpt2", 12, 768, 12),
                ("gpt2-medium", 24, 1024, 16),
                ("gpt2-large", 36, 1280, 20),
                ("gpt2-xl", 48, 1600, 25),
                ("distilgpt2", 6, 768, 12),
            )
        ),
    )


def _vision() -> tuple[ModelSpec, ...]:
    clip = {"patch_bias": False, "pre_layernorm": True, "head_bias": False}
    return (
        # torchvision resnet18/34/50/101/152, vgg11/13/16/19(_bn)
        ResNet("resnet-18", blocks=(2, 2, 2, 2), bottleneck=False),
        ResNet("resnet-34", blocks=(3, 4, 6, 3), bottleneck=False),
        ResNet("resnet-50", blocks=(3, 4, 6, 3)),
        ResNet("resnet-101", blocks=(3, 4, 23, 3)),
        ResNet("resnet-152", blocks=(3, 8, 36, 3)),
        *(VGG(f"vgg{d}", d) for d in (11, 13, 16, 19)),
        *(VGG(f"vgg{d}-bn", d, batch_norm=True) for d in (11, 13, 16, 19)),
        # google/vit-{base,large}-patch16-224 (ViTForImageClassification, 1000 classes)
        VisionTransformer("vit-base-patch16-224", 16, 12, 768, 12, 3072),
        VisionTransformer("vit-large-patch16-224", 16, 24, 1024, 16, 4096),
        # openai/clip-vit-{base-patch32,large-patch14}: vision tower + visual projection only
        VisionTransformer("clip-vit-base-patch32", 32, 12, 768, 12, 3072, 512, **clip),
        VisionTransformer("clip-vit-large-patch14", 14, 24, 1024, 16, 4096, 768, **clip),
        # darknet cfg/yolov4.cfg (COCO 80 classes); default 416 px, see YoloV4.image_size
        YoloV4("yolo-v4"),
    )


def _speech() -> tuple[ModelSpec, ...]:
    return (
        # facebook/wav2vec2-base (Baevski et al. 2020): 7 convs of 512 channels, 12 x 768
        Wav2Vec2("wav2vec2-base"),
        # openai/whisper-base encoder (Radford et al. 2022): 2 convs on 80-bin log-mel, 6 x 512
        WhisperEncoder("whisper-base-encoder"),
    )


PREDICTION_ONLY_KINDS = frozenset({"audio"})
"""Model kinds with no published benchmark row in the calibration data: their service times
are architecture predictions of the calibrated hardware model, not validated."""


_ALIASES = MappingProxyType(
    {
        "bert-base-uncased": "bert-base",
        "bert-large-uncased": "bert-large",
        "distilbert-base-uncased": "distilbert-base",
        "distilbert": "distilbert-base",
        "albert-base": "albert-base-v2",
        "albert-base-v1": "albert-base-v2",
        "albert-large": "albert-large-v2",
        "electra-small-discriminator": "electra-small",
        "electra-base-discriminator": "electra-base",
        "electra-large-discriminator": "electra-large",
        "gpt2-small": "gpt2",
        "gpt-2": "gpt2",
        "vit-base": "vit-base-patch16-224",
        "vit-b-16": "vit-base-patch16-224",
        "vit-large": "vit-large-patch16-224",
        "vit-l-16": "vit-large-patch16-224",
        "yolov4": "yolo-v4",
        "yolo": "yolo-v4",
        "wav2vec2": "wav2vec2-base",
        "wav2vec2-base-960h": "wav2vec2-base",  # + a 768 x 32 CTC head: 0.03% of the params
    }
)
"""Common spellings (after normalisation) of canonical zoo names."""


@lru_cache(maxsize=1)
def _registry() -> MappingProxyType[str, ModelSpec]:
    return MappingProxyType({m.name: m for m in _encoders() + _vision() + _speech()})


def _normalise(name: str) -> str:
    key = name.strip().lower().rsplit("/", 1)[-1]
    key = re.sub(r"[\s_]+", "-", key)
    key = re.sub(r"-(finetuned|fine-tuned|distilled)-.*$", "", key)  # task heads: same backbone
    key = re.sub(r"-uncased$", "", key)
    key = re.sub(r"^(resnet|vgg)-?(\d+)", r"\1-\2", key)
    return re.sub(r"^vgg-", "vgg", key)


def _lookup(name: str) -> ModelSpec | None:
    key = _normalise(name)
    registry = _registry()
    return registry.get(_ALIASES.get(key, key))


def model(name: str) -> ModelSpec:
    """Look up a built-in model.

    Case, underscores and spaces are ignored; an ``org/`` prefix, an ``-uncased`` suffix and a
    fine-tuning suffix (``-finetuned-mrpc``, ``-distilled-squad``, ...) are dropped, since a task
    head does not change the backbone; ``resnet50`` means ``resnet-50``. A name with a
    parenthesis, as in the Neuron benchmark tables (``"BERT base (bert-base-uncased)"``), is
    tried inside the parenthesis first, then before it.

    Args:
        name: Model name, e.g. ``"bert-base"``, ``"google/electra-base-discriminator"``,
            ``"ResNet50"``, ``"YOLO v4"``.

    Returns:
        The model specification.

    Raises:
        KeyError: If the name does not resolve to a built-in model.

    """
    candidates = [name]
    inner = re.fullmatch(r"\s*(.*?)\s*\((.*)\)\s*", name)
    if inner:
        candidates = [inner.group(2), inner.group(1)]
    for candidate in candidates:
        spec = _lookup(candidate)
        if spec is not None:
            return spec
    raise KeyError(name)


def model_spec(name_or_spec: str | ModelSpec) -> ModelSpec:
    """The spec named by ``name_or_spec``, or ``name_or_spec`` itself if it is already a spec.

    Args:
        name_or_spec: Zoo name (any spelling :func:`model` resolves) or a :class:`ModelSpec`.

    Returns:
        The spec.

    Raises:
        KeyError: Unknown name.

    """
    return name_or_spec if isinstance(name_or_spec, ModelSpec) else model(name_or_spec)


def model_names() -> list[str]:
    """Canonical names of the built-in models, sorted."""
    return sorted(_registry())


def aliases() -> dict[str, str]:
    """Extra spellings accepted by :func:`model` (normalised alias -> canonical name)."""
    return dict(_ALIASES)
