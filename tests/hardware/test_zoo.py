import numpy as np
import pytest

from hardware.models import zoo
from hardware.models.zoo import ResNet, TransformerEncoder


def test_zoo_lists_builtin_models():
    """The zoo holds the v1 models plus the architectures of the published benchmarks."""
    names = zoo.model_names()
    assert {"bert-base", "bert-large", "distilbert-base", "resnet-50", "roberta-base"} <= set(names)
    assert names == sorted(names)
    assert len(names) == 42
    kinds = {zoo.model(n).kind for n in names}
    assert kinds == {"encoder", "decoder-prefill", "vit", "cnn", "audio"}


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("bert-base", "bert-base"),
        ("BERT-base-uncased", "bert-base"),
        ("bert_base_cased", "bert-base-cased"),
        ("google-bert/bert-large-uncased", "bert-large"),
        ("DistilBERT-base-uncased", "distilbert-base"),
        ("RoBERTa_base", "roberta-base"),
        ("resnet50", "resnet-50"),
        ("ResNet-50", "resnet-50"),
    ],
)
def test_model_resolves_spellings(alias, name):
    """Case, underscores, org prefixes, -uncased and resnet50 resolve; -cased is its own model."""
    assert zoo.model(alias).name == name


def test_unknown_model_raises_keyerror():
    """An unknown model name raises KeyError with the name."""
    with pytest.raises(KeyError, match="gpt-5"):
        zoo.model("gpt-5")


def test_bert_base_flops_seq128():
    """BERT-base at seq 128 is ~22.3 GFLOP (hardware-facts.md section 3)."""
    assert zoo.model("bert-base").flops(1, 128) == pytest.approx(22.3e9, rel=0.01)


def test_bert_large_flops_seq128():
    """BERT-Large at seq 128 is ~77.3 GFLOP; the batching note omits the 2% attention GEMMs."""
    spec = zoo.model("bert-large")
    assert spec.flops(1, 128) == pytest.approx(77.3e9, rel=0.03)
    g = spec.gemms(1, 128)
    linear = 2.0 * (g.m * g.k * g.n * g.count)[g.weight].sum()
    assert linear == pytest.approx(77.3e9, rel=0.001)


def test_resnet50_flops_224():
    """ResNet-50 at 224 px is 7.8-8.2 GFLOP (2 x 4.09 GMAC)."""
    assert 7.8e9 <= zoo.model("resnet-50").flops(1, 224) <= 8.2e9


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("bert-base", 109_482_240),  # HF BertModel
        ("bert-large", 335_141_888),  # HF BertModel
        ("resnet-50", 25_557_032),  # torchvision resnet50
    ],
)
def test_parameter_counts(name, params):
    """Parameter counts from hyper-parameters match the reference implementations."""
    assert zoo.model(name).params == params


def test_weight_bytes_scale_with_dtype():
    """Weight bytes are params x bytes per element (fp4 half a byte)."""
    spec = zoo.model("bert-base")
    assert spec.weight_bytes("bf16") == 2 * spec.params
    assert spec.weight_bytes("fp32") == 4 * spec.params
    assert spec.weight_bytes("fp4") == -(-spec.params // 2)
    with pytest.raises(ValueError):
        spec.weight_bytes("fp64")


def test_dense_params_match_batching_note():
    """Matmul weights: BERT-Large ~302 M and ResNet-50 ~25 M as in the Neuron batching note."""
    assert zoo.model("bert-large").dense_params == pytest.approx(302e6, rel=0.01)
    assert zoo.model("resnet-50").dense_params == pytest.approx(25e6, rel=0.03)


def test_gemms_broadcast_over_batch_and_seq():
    """gemms() returns (G, *grid) arrays and FLOPs broadcast over batch x seq_len."""
    spec = zoo.model("bert-base")
    batch = np.array([1, 2, 4])[:, None]
    seq = np.array([16, 64, 128, 512])
    g = spec.gemms(batch, seq)
    assert g.m.shape == (len(g.names), 3, 4)
    flops = spec.flops(batch, seq)
    assert flops.shape == (3, 4)
    assert flops[2, 2] == pytest.approx(spec.flops(4, 128))
    assert flops[1, 3] == pytest.approx(2 * flops[0, 3])


def test_encoder_flops_have_quadratic_attention():
    """Encoder FLOPs = linear-in-tokens part + attention part quadratic in seq_len."""
    spec = zoo.model("bert-base")
    h, n = spec.hidden, spec.layers
    linear = 2 * n * 128 * (4 * h * h + 2 * h * spec.ffn) + 2 * h * h
    attention = 2 * 2 * n * 128 * 128 * h
    assert spec.flops(1, 128) == pytest.approx(linear + attention)


def test_resnet_output_sizes_follow_image_side():
    """ResNet GEMM M = batch x output pixels: 112x112 after the stem, 7x7 at the last stage."""
    g = zoo.model("resnet-50").gemms(2, 224)
    rows = dict(zip(g.names, g.m, strict=True))
    assert rows["conv1"] == 2 * 112 * 112
    assert rows["s4b3_1x1b"] == 2 * 7 * 7
    assert rows["fc"] == 2
    assert len(g.names) == 54


def test_vector_ops_grow_with_shape():
    """Softmax work is quadratic in seq_len; every category is non-negative."""
    spec = zoo.model("bert-base")
    v1, v2 = spec.vector_ops(1, 128), spec.vector_ops(1, 256)
    assert v2.softmax == pytest.approx(4 * v1.softmax)
    for v in (v1, v2, zoo.model("resnet-50").vector_ops(1, 224)):
        assert min(v.elementwise, v.softmax, v.layernorm, v.activation) >= 0


def test_seq_len_range_is_enforced():
    """seq_len outside [min, max] (tokens, or pixels for CNNs) raises ValueError."""
    with pytest.raises(ValueError, match="seq_len"):
        zoo.model("bert-base").gemms(1, 513)
    with pytest.raises(ValueError, match="seq_len"):
        zoo.model("resnet-50").gemms(1, 16)
    with pytest.raises(ValueError, match="batch"):
        zoo.model("bert-base").gemms(0, 128)


def test_model_defaults():
    """Encoders default to 128 tokens, CNNs to 224 px images."""
    assert zoo.model("bert-base").kind == "encoder"
    assert zoo.model("bert-base").default_seq_len == 128
    assert zoo.model("resnet-50").kind == "cnn"
    assert zoo.model("resnet-50").default_seq_len == 224


def test_custom_encoder_and_validation():
    """Users build encoders from the documented fields; bad hyper-parameters raise."""
    tiny = TransformerEncoder("tiny", layers=2, hidden=128, heads=2, ffn=512)
    assert tiny.flops(1, 32) > 0
    assert tiny.max_seq_len == 512
    with pytest.raises(ValueError, match="heads"):
        TransformerEncoder("bad", layers=2, hidden=100, heads=3, ffn=512)
    with pytest.raises(ValueError):
        TransformerEncoder("bad", layers=0, hidden=128, heads=2, ffn=512)
    with pytest.raises(ValueError):
        ResNet("bad", blocks=(3, 4, 6))  # type: ignore[arg-type]
