import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hardware
from hardware import catalog
from hardware.calibration.anchors import TOLERANCE, anchor_comparison, load_anchors
from hardware.catalog import GIB
from hardware.models import zoo
from hardware.models.zoo import TransformerEncoder

INSTANCES = [  # GPUs: own tests
    n for n in catalog.instance_type_names() if catalog.instance_type(n).chip.kind == "neuroncore"
]
MODELS = zoo.model_names()
ANCHORS = load_anchors()
CHECKED = ANCHORS[ANCHORS.check != "report"].anchor.tolist()


@pytest.fixture(scope="module")
def comparison():
    return anchor_comparison().set_index("anchor")


@pytest.mark.parametrize("anchor", CHECKED)
def test_anchor_within_tolerance(comparison, anchor):
    """Each checked published anchor is predicted within 30% (shape rows: ratio to seq 128)."""
    row = comparison.loc[anchor]
    print(
        f"{anchor}: predicted {row.predicted_s * 1e3:.3f} ms, published "
        f"{row.published_s * 1e3:.3f} ms, error {row.error:+.1%} ({row.check})"
    )
    assert abs(row.error) <= TOLERANCE


def test_headline_anchors_are_checked():
    """The headline anchors of the issue are in the checked set, not merely reported."""
    for anchor in (
        "inf2-bert-base-bs1",
        "inf2-bert-base-bs8",
        "inf2-bert-large-bs1",
        "inf1-bert-base-bs1",
        "inf2-resnet50-bs8",
    ):
        assert anchor in CHECKED


def test_service_time_scalar_returns_float():
    """Scalar inputs give a positive float in seconds."""
    t = hardware.service_time("bert-base", "inf2.xlarge", 1, 128)
    assert isinstance(t, float)
    assert 1e-4 < t < 1e-2


def test_service_time_broadcasts():
    """batch_size (4,1) x seq_len (3,) broadcasts to a (4, 3) array."""
    batch = np.array([1, 2, 4, 8])[:, None]
    seq = np.array([32, 128, 512])
    t = hardware.service_time("bert-base", "inf2.xlarge", batch, seq)
    assert t.shape == (4, 3)
    assert t[3, 1] == pytest.approx(hardware.service_time("bert-base", "inf2.xlarge", 8, 128))


@pytest.mark.parametrize("instance", ["inf1.xlarge", "inf2.xlarge", "inf3.xlarge"])
@pytest.mark.parametrize("model", MODELS)
def test_service_time_positive_and_monotone(model, instance):
    """Service time is positive and non-decreasing in batch size and in sequence length."""
    spec = zoo.model(model)
    seq = np.unique(np.linspace(spec.min_seq_len, min(spec.max_seq_len, 512), 12).astype(int))
    seq = seq[seq >= spec.min_seq_len]
    batch = np.array([1, 2, 3, 4, 8, 16, 32, 64])[:, None]
    t = hardware.service_time(model, instance, batch, seq)
    assert np.all(t > 0)
    assert np.all(np.diff(t, axis=0) >= 0)
    assert np.all(np.diff(t, axis=1) >= 0)
    assert t[-1, -1] > t[0, 0]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(MODELS),
    st.sampled_from(INSTANCES),
    st.integers(1, 256),
    st.integers(1, 256),
    st.integers(32, 512),
)
def test_more_batch_never_faster(model, instance, batch, extra, seq):
    """Adding sequences to a batch never shortens its service time."""
    t1 = hardware.service_time(model, instance, batch, seq)
    t2 = hardware.service_time(model, instance, batch + extra, seq)
    assert t2 >= t1 > 0


def test_table_equals_elementwise_calls():
    """service_time_table rows equal individual service_time calls (NaN where unrunnable)."""
    models = ["bert-base", "resnet-50", "distilbert-base"]
    instances = ["inf1.xlarge", "inf2.8xlarge", "inf3.24xlarge"]
    batches = [1, 3, 16]
    seqs = [16, 64, 256]
    for dtype in ("bf16", "fp8", "fp32"):
        table = hardware.service_time_table(models, instances, batches, seqs, dtype=dtype)
        assert len(table) == 3 * 3 * 3 * 3
        for row in table.itertuples():
            spec = zoo.model(row.model)
            runnable = hardware.dtype_supported(row.instance, dtype) and (
                spec.min_seq_len <= row.seq_len <= spec.max_seq_len
            )
            if not runnable:
                assert np.isnan(row.service_time_s)
                assert not row.fits
                continue
            expected = hardware.service_time(
                row.model, row.instance, row.batch_size, row.seq_len, dtype
            )
            assert row.service_time_s == pytest.approx(expected, rel=1e-12)
            assert row.fits == hardware.fits(
                row.model, row.instance, dtype, 1, row.batch_size, row.seq_len
            )


def test_array_matches_table_and_defaults():
    """service_time_array has shape (models, instances, batches, seqs); None = default seq."""
    a = hardware.service_time_array(MODELS, INSTANCES, [1, 8], None)
    assert a.shape == (len(MODELS), len(INSTANCES), 2, 1)
    i = INSTANCES.index("inf2.xlarge")
    r = MODELS.index("resnet-50")
    assert a[r, i, 1, 0] == pytest.approx(hardware.service_time("resnet-50", "inf2.xlarge", 8))


def test_dtype_effects():
    """inf1 fp32 = bf16 (autocast); inf2 fp8 = bf16 and fp32 slower; inf3 fp8 faster."""
    st_ = hardware.service_time
    assert st_("bert-base", "inf1.xlarge", 4, 128, "fp32") == st_(
        "bert-base", "inf1.xlarge", 4, 128
    )
    assert st_("bert-base", "inf2.xlarge", 4, 128, "fp8") == st_("bert-base", "inf2.xlarge", 4, 128)
    assert st_("bert-base", "inf2.xlarge", 4, 128, "fp32") > st_("bert-base", "inf2.xlarge", 4, 128)
    assert st_("bert-base", "inf3.xlarge", 8, 128, "fp8") < st_("bert-base", "inf3.xlarge", 8, 128)


def test_unsupported_requests_raise():
    """Unsupported dtypes, unknown names and impossible core counts fail loudly."""
    with pytest.raises(ValueError, match="fp8"):
        hardware.service_time("bert-base", "inf1.xlarge", 1, 128, "fp8")
    with pytest.raises(ValueError, match="dtype"):
        hardware.service_time("bert-base", "inf2.xlarge", 1, 128, "fp64")
    with pytest.raises(KeyError):
        hardware.service_time("bert-base", "inf9.xlarge", 1, 128)
    with pytest.raises(ValueError, match="cores"):
        hardware.service_time("bert-base", "inf2.xlarge", 1, 128, cores=3)
    with pytest.raises(ValueError, match="seq_len"):
        hardware.service_time("bert-base", "inf2.xlarge", 1, 1024)


def test_multicore_replica():
    """Splitting a replica over cores helps big batches and costs exchange time at batch 1."""
    t1 = hardware.service_time("bert-large", "inf2.xlarge", 16, 128, cores=1)
    t2 = hardware.service_time("bert-large", "inf2.xlarge", 16, 128, cores=2)
    assert t2 < t1
    parts = hardware.service_breakdown("bert-large", "inf2.48xlarge", 1, 128, cores=4)
    assert parts.transfer_s > 0
    single = hardware.service_breakdown("bert-large", "inf2.48xlarge", 1, 128, cores=1)
    assert single.transfer_s == 0
    assert parts.total_s == pytest.approx(
        hardware.service_time("bert-large", "inf2.48xlarge", 1, 128, cores=4)
    )


def test_objects_accepted_in_place_of_names():
    """A ModelSpec and an InstanceType work wherever names do."""
    custom = TransformerEncoder("mini", layers=4, hidden=256, heads=4, ffn=1024)
    inst = catalog.instance_type("inf2.xlarge")
    t = hardware.service_time(custom, inst, 8, 64)
    assert 0 < t < hardware.service_time("bert-base", inst, 8, 64)


def test_replica_memory_and_fits():
    """Replica memory is the cores' share of device memory; fits compares weights+activations."""
    assert hardware.replica_memory_bytes("inf2.xlarge", 1) == 16 * GIB
    assert hardware.replica_memory_bytes("inf1.6xlarge", 4) == 8 * GIB
    with pytest.raises(ValueError):
        hardware.replica_memory_bytes("inf2.xlarge", 3)
    assert hardware.fits("bert-base", "inf1.xlarge", "bf16", 1) is True
    huge = TransformerEncoder("huge", layers=48, hidden=8192, heads=64, ffn=32768)
    assert not hardware.fits(huge, "inf2.xlarge", "bf16", 1)
    assert hardware.fits(huge, "inf2.48xlarge", "bf16", 24)
    assert not hardware.fits("bert-base", "inf1.xlarge", "fp8", 1)  # unsupported dtype
    batch = np.array([1, 64, 4096, 65536])
    fit = hardware.fits("bert-large", "inf1.xlarge", "bf16", 1, batch, 512)
    assert fit.tolist() == sorted(fit.tolist(), reverse=True)


def test_dtype_supported():
    """dtype support per family; unknown dtype names raise."""
    assert hardware.dtype_supported("inf1.xlarge", "fp32")  # autocast to bf16
    assert not hardware.dtype_supported("inf1.xlarge", "fp8")
    assert hardware.dtype_supported("inf2.xlarge", "fp8")
    assert not hardware.dtype_supported("inf2.xlarge", "fp4")
    assert hardware.dtype_supported("inf3.xlarge", "fp4")
    with pytest.raises(ValueError):
        hardware.dtype_supported("inf2.xlarge", "tf32")


def test_public_api_and_version():
    """The package re-exports the documented API and a string model version."""
    assert hardware.HARDWARE_MODEL_VERSION == "2.3"
    for name in (
        "service_time",
        "service_time_table",
        "fits",
        "replica_memory_bytes",
        "dtype_supported",
        "catalog",
        "zoo",
        "systolic",
    ):
        assert hasattr(hardware, name)
