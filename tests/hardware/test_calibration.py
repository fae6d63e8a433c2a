import io
import warnings
from contextlib import redirect_stdout

import numpy as np
import pandas as pd
import pytest

import hardware
from hardware import catalog
from hardware.calibration import benchmarks, neuroncore_fit, row_times
from hardware.calibration.__main__ import main as calibration_main
from hardware.calibration.error_report import evaluation, model_family, summarise
from hardware.models import zoo
from hardware.timing.breakdown import hidden_host_s
from hardware.timing.neuroncore_parameters import parameter_table, service_parameters

TARGET_THR_PCT = 15.0
TARGET_P50_PCT = 20.0


@pytest.fixture(scope="module")
def rows():
    return benchmarks.load_published()


@pytest.fixture(scope="module")
def info(rows):
    return benchmarks.interpret(rows)


@pytest.fixture(scope="module")
def errors(rows, info):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predicted = row_times.predict(rows)
    frame = pd.DataFrame(
        {
            "instance_family": rows.instance.str.split(".").str[0],
            "status": info.status,
            "thr_err_pct": (predicted.pred_throughput_per_s / rows.throughput_per_s - 1) * 100,
            "p50_err_pct": (predicted.pred_latency_p50_ms / rows.latency_p50_ms - 1) * 100,
        }
    )
    return summarise(frame[frame.status == "fit"], ["instance_family"])


@pytest.mark.parametrize("family", ["inf1", "inf2", "trn1"])
def test_error_targets_hold_on_the_shipped_file(errors, family):
    """Median |error| <= 15% (throughput) and <= 20% (p50); p90 guards against regressions."""
    row = errors.loc[family]
    print(f"{family}: {row.to_dict()}")
    assert row.n_thr >= 100 and row.n_p50 >= 100
    assert row.thr_med <= TARGET_THR_PCT
    assert row.p50_med <= TARGET_P50_PCT
    assert row.thr_p90 <= 25.0
    assert row.p50_p90 <= 25.0


def test_held_out_families_meet_the_targets(rows, info):
    """Each model family predicted by a fit without it still meets the median targets."""
    families = info.zoo_model.map(model_family)
    held = evaluation(rows, info, neuroncore_fit.holdout_row_times(rows, info, families))
    table = summarise(held[held.status == "fit"], ["instance_family"])
    print(table)
    for family in ("inf1", "inf2", "trn1"):
        assert table.loc[family, "thr_med"] <= TARGET_THR_PCT
        assert table.loc[family, "p50_med"] <= TARGET_P50_PCT


def test_refit_reproduces_the_shipped_parameters(rows, info):
    """Running the fit again gives the parameters in calibrated_parameters.csv."""
    shipped = {
        (scope, name): value
        for scope, name, value in parameter_table(neuroncore_fit.PARAMETER_FILE)
        if scope.startswith("NeuronCore")
    }
    assert len(shipped) == 2 * len(neuroncore_fit.FITTED)
    fitted = neuroncore_fit.fit(rows, info)
    for generation, (params, n) in fitted.items():
        assert n > 150
        for name in neuroncore_fit.FITTED:
            assert getattr(params, name) == pytest.approx(shipped[generation, name], rel=2e-3)


def test_shipped_parameters_apply_per_generation():
    """inf2 and trn1 share the NeuronCore-v2 fit; inf3 derives from it; inf1 has its own."""
    v2 = service_parameters("inferentia2")
    assert service_parameters("trainium") == v2
    assert service_parameters("inferentia") != v2
    inf3 = service_parameters("inferentia3")
    assert inf3.tensor_efficiency == pytest.approx(v2.tensor_efficiency)
    assert inf3.core_bandwidth_share != v2.core_bandwidth_share
    t_inf2 = hardware.service_time("bert-base", "inf2.xlarge", 8, 128)
    assert hardware.service_time("bert-base", "trn1.2xlarge", 8, 128) == pytest.approx(t_inf2)


def test_predict_adds_columns(rows):
    """predict() returns a copy of the rows with both prediction columns added."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = row_times.predict(rows)
    assert list(out.columns[: len(rows.columns)]) == list(rows.columns)
    assert {"pred_throughput_per_s", "pred_latency_p50_ms"} <= set(out.columns)
    assert "pred_throughput_per_s" not in rows.columns
    assert out.pred_latency_p50_ms.notna().sum() > 700


def test_predict_unknown_rows_get_nan_and_a_warning():
    """Unknown model or instance: NaN and a warning, never an exception; known rows predicted."""
    frame = pd.DataFrame(
        {
            "instance": ["inf2.xlarge", "inf2.xlarge", "inf9.huge", "trn1.2xlarge"],
            "model": ["bert-base-uncased", "gpt-5", "bert-base-uncased", "roberta-large"],
            "neuron_cores_used": [2.0, 2.0, 2.0, np.nan],
            "seq_len_or_image_size": ["128", "128", "128", None],
            "batch_size": [8.0, 8.0, 8.0, 4.0],
            "dtype": ["FP32 model; autocast Matmult-BF16"] * 4,
            "throughput_per_s": [3000.0, 1.0, 1.0, np.nan],
            "latency_p50_ms": [5.3, 1.0, 1.0, np.nan],
        }
    )
    with pytest.warns(UserWarning, match="not predicted"):
        out = row_times.predict(frame)
    assert np.isnan(out.pred_throughput_per_s[1]) and np.isnan(out.pred_latency_p50_ms[2])
    assert 2000 < out.pred_throughput_per_s[0] < 4000  # 2 cores x 8 / ~5.4 ms
    # no cores, no notes: data parallel over the instance's 2 cores, one batch each
    assert out.pred_throughput_per_s[3] == pytest.approx(2 * 4 / out.pred_latency_p50_ms[3] * 1e3)


def test_predict_never_raises_on_odd_cells():
    """Numeric sizes are read; a zero, fractional or text batch is NaN with a warning."""
    frame = pd.DataFrame(
        {
            "instance": ["inf2.xlarge"] * 4,
            "model": ["resnet50"] * 4,
            "neuron_cores_used": [2, 2, 2, 2],
            "seq_len_or_image_size": [224, 224, 224, 224],
            "batch_size": [8, 0, 2.5, "lots"],
            "dtype": ["bf16"] * 4,
        }
    )
    with pytest.warns(UserWarning, match="3 rows not predicted"):
        out = row_times.predict(frame)
    assert out.pred_latency_p50_ms.notna().tolist() == [True, False, False, False]


def test_predict_accepts_an_empty_frame():
    """An empty frame in the file's format comes back empty with the two columns."""
    out = row_times.predict(benchmarks.load_published().iloc[:0])
    assert len(out) == 0 and "pred_latency_p50_ms" in out


def test_row_interpretation(rows, info):
    """Replicas and batches in flight follow the protocol stated in each row's notes."""
    x = pd.concat(
        [rows[["model", "instance", "batch_size", "notes", "throughput_per_s"]], info], axis=1
    )
    perf = x[x.notes.str.contains("n_models=4, workers/model=2", na=False)].iloc[0]
    assert (perf.replicas, perf.in_flight) == (4.0, 8.0)
    pipe = x[x.notes.str.contains("Model Pipeline", na=False)].iloc[0]
    assert (pipe.replica_cores, pipe.replicas, pipe.zoo_model) == (16.0, 1.0, "bert-base")
    hf = x[x.notes.str.contains("single-stream", na=False)].iloc[0]
    assert (hf.replicas, hf.in_flight) == (1.0, 1.0)
    tf2 = x[(x.instance == "inf1.6xlarge") & (x.batch_size == 16)].iloc[0]
    assert tf2.zoo_model == "distilbert-base"  # model column says "BERT base"; details say so
    assert set(x[x.model.str.contains("Llama", na=False)].status) == {"skip"}
    assert x[x.reason_key == "typo"].throughput_per_s.tolist() == [41.24]
    assert (info.status == "fit").sum() > 600


def test_throughput_and_latency_mapping():
    """Saturated replicas queue N/R batches; fewer batches than replicas each run alone."""
    thr, p50 = benchmarks.throughput_and_latency(
        np.array([0.01, 0.01]), np.array([8.0, 8.0]), np.array([2.0, 4.0]), np.array([4.0, 2.0])
    )
    assert thr.tolist() == pytest.approx([1600.0, 1600.0])
    assert p50.tolist() == pytest.approx([0.02, 0.01])


def test_a_queued_batch_hides_its_input_transfer():
    """From two batches per replica on, the interval drops by the hidden input time."""
    per_replica = np.array([1.0, 1.5, 2.0, 4.0])
    service, hidden = np.full(4, 0.010), np.full(4, 0.004)
    thr, p50 = benchmarks.throughput_and_latency(service, 8.0, 1.0, per_replica, hidden)
    interval = np.array([0.010, 0.008, 0.006, 0.006])
    assert thr.tolist() == pytest.approx((8.0 / interval).tolist())
    assert p50.tolist() == pytest.approx((per_replica * interval).tolist())
    # input longer than the device work: only the device part can be hidden
    assert hidden_host_s(np.array([0.010]), np.array([0.007])).tolist() == [pytest.approx(0.003)]


def test_b5_rows_read_as_batch_5_with_8_in_flight(rows, info):
    """The TF 1.15 fp16 ResNet-50 rows run batch 5 (tag, threads=8 and Little agree), shown."""
    b5 = info[info.reason_key == "b5"]
    assert len(b5) == 8 and (b5.batch == 5.0).all() and (b5.status == "report").all()
    assert (rows.batch_size[b5.index] == 10.0).all()  # the file keeps the column verbatim
    assert b5.in_flight.between(7.7, 8.1).all()


def test_inf1_resnet50_matches_the_published_rows(rows, info):
    """inf1.xlarge ResNet-50: the fitted PyTorch fp32 rows within 3% (median), and the TF fp16
    rows kept out of the fit (2,162-2,277 img/s, 1.8x faster than predicted before the input
    overlap) within 10% for throughput and p50."""
    frame = evaluation(rows, info, row_times.predict_row_times(rows, info))
    r50 = frame[(frame.model == "resnet-50") & (frame.instance == "inf1.xlarge")]
    fp16 = r50[r50.reason == "b5"]
    fitted = r50[r50.status == "fit"]
    assert fp16.thr.between(2160, 2280).all() and len(fitted) == 12
    assert fp16.thr_err_pct.abs().max() <= 10.0 and fp16.p50_err_pct.abs().max() <= 10.0
    assert fitted.thr_err_pct.abs().median() <= 3.0


def test_rows_with_more_batches_in_flight_than_threads_are_skipped(rows, info):
    """Little's N >= 1.5x the stated client threads marks a row's load protocol unknown."""
    odd = info[info.reason_key == "threads"]
    assert len(odd) == 6 and (odd.status == "skip").all()
    threads = rows.notes[odd.index].str.extract(r"threads=(\d+)")[0].astype(float)
    assert (odd.in_flight >= 1.5 * threads).all()
    fine = info[(info.status == "fit") & rows.notes.str.contains("threads=", na=False)]
    fine_threads = rows.notes[fine.index].str.extract(r"threads=(\d+)")[0].astype(float)
    assert len(fine) > 100 and (fine.in_flight < 1.5 * fine_threads).all()


def test_input_overlap_is_assumed_per_generation():
    """NeuronCore-v1 overlaps a queued batch's input fully; v2 (and projected inf3) not."""
    assert service_parameters("inferentia").input_overlap == 1.0
    assert service_parameters("inferentia2").input_overlap == 0.0
    assert service_parameters("inferentia3").input_overlap == 0.0
    assert "input_overlap" not in neuroncore_fit.FITTED


@pytest.mark.parametrize(
    ("text", "matmul", "model"),
    [
        ("FP32 model; autocast Matmult-BF16", "bf16", "fp32"),
        ("fp32 model; neuron-cc default fp32->bf16 autocast", "bf16", "fp32"),
        ("FP32 model; autocast None", "fp32", "fp32"),
        ("fp16", "fp16", "fp16"),
        ("fp16/bf16 (neuron-cc)", "bf16", "fp16"),
        (np.nan, None, None),
    ],
)
def test_dtype_strings(text, matmul, model):
    """The file's dtype descriptions map to the matmul dtype and the framework model's dtype."""
    assert benchmarks.hardware_dtype(text) == matmul
    assert benchmarks.model_dtype(text) == model


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("roberta-large", "roberta-large"),
        ("xlm-roberta-base", "xlm-roberta-base"),
        ("camembert-base", "camembert-base"),
        ("google/electra-base-discriminator", "electra-base"),
        ("distilroberta-base", "distilroberta-base"),
        ("bert-base-cased-finetuned-mrpc", "bert-base-cased"),
        ("resnet101", "resnet-101"),
        ("resnet152", "resnet-152"),
        ("vgg16", "vgg16"),
        ("vgg16_bn", "vgg16-bn"),
        ("google/vit-base-patch16-224", "vit-base-patch16-224"),
        ("gpt2-medium", "gpt2-medium"),
        ("albert-base-v2", "albert-base-v2"),
        ("distilbert-base-cased-distilled-squad", "distilbert-base-cased"),
        ("distilbert-base-uncased-finetuned-sst-2-english", "distilbert-base"),
        ("openai/clip-vit-base-patch32", "clip-vit-base-patch32"),
        ("BERT base (bert-base-uncased)", "bert-base"),
        ("DistilBERT base (distilbert-base-uncased-finetuned-sst-2-english)", "distilbert-base"),
        ("Resnet-50", "resnet-50"),
        ("ResNet-50 (Keras, TF 1.15)", "resnet-50"),
        ("YOLO v4", "yolo-v4"),
        ("resnet18", "resnet-18"),
        ("google/electra-small-discriminator", "electra-small"),
    ],
)
def test_hugging_face_and_torchvision_names_resolve(name, canonical):
    """Names as Hugging Face, torchvision and the benchmark tables spell them resolve."""
    assert zoo.model(name).name == canonical


@pytest.mark.parametrize(
    ("name", "params", "rel"),
    [
        ("roberta-large", 355_359_744, 0.0),  # RobertaModel
        ("xlm-roberta-base", 278_043_648, 0.0),
        ("camembert-base", 110_621_952, 0.0),
        ("distilroberta-base", 82_118_400, 0.0),
        ("bert-base-cased", 108_310_272, 0.0),
        ("distilbert-base", 66_362_880, 0.0),
        ("albert-base-v2", 11_683_584, 0.0),  # ~12M: one shared layer
        ("electra-base", 108_891_648, 0.0),  # ElectraModel (no pooler)
        ("electra-small", 13_483_776, 0.001),
        ("gpt2", 124_439_808, 0.0),
        ("gpt2-medium", 354_823_168, 0.0),
        ("gpt2-large", 774_030_080, 0.0),
        ("resnet-18", 11_689_512, 0.0),  # torchvision
        ("resnet-34", 21_797_672, 0.0),
        ("resnet-101", 44_549_160, 0.0),
        ("resnet-152", 60_192_808, 0.0),
        ("vgg11", 132_863_336, 0.0),
        ("vgg16", 138_357_544, 0.0),
        ("vgg16-bn", 138_365_992, 0.0),
        ("vit-base-patch16-224", 86_567_656, 0.0),  # ViTForImageClassification
        ("vit-large-patch16-224", 304_326_632, 0.0),
        ("yolo-v4", 64_363_101, 0.0),  # darknet yolov4.cfg
    ],
)
def test_parameter_counts_match_published(name, params, rel):
    """Parameter counts from hyper-parameters match the reference implementations."""
    assert zoo.model(name).params == pytest.approx(params, rel=rel)


@pytest.mark.parametrize(
    ("name", "size", "gflop", "rel"),
    [
        ("resnet-18", 224, 3.64, 0.02),  # 1.82 GMAC
        ("resnet-101", 224, 15.7, 0.02),  # 7.8 GMAC
        ("resnet-152", 224, 23.1, 0.02),  # 11.6 GMAC
        ("vgg16", 224, 31.0, 0.01),  # 15.5 GMAC
        ("vit-base-patch16-224", 224, 35.1, 0.02),  # 17.6 GMAC
        ("yolo-v4", 608, 128.5, 0.01),  # darknet: 128.5 BFLOPS at 608
        ("yolo-v4", 416, 60.1, 0.01),
        ("gpt2", 128, 2 * 85e6 * 128 / 1e9, 0.05),  # 2 x non-embedding params x tokens
    ],
)
def test_flops_are_sane(name, size, gflop, rel):
    """Forward-pass FLOPs agree with published MAC counts."""
    assert zoo.model(name).flops(1, size) / 1e9 == pytest.approx(gflop, rel=rel)


def test_albert_shares_weights_but_not_compute():
    """ALBERT: BERT-base compute (plus the 128-wide projection) with one layer of weights."""
    albert, bert = zoo.model("albert-base-v2"), zoo.model("bert-base")
    assert albert.flops(1, 128) == pytest.approx(bert.flops(1, 128), rel=0.01)
    assert albert.dense_params < bert.dense_params / 10
    assert albert.weight_reuse == 12


def test_trn1_instances_are_in_the_catalog():
    """trn1.2xlarge and trn1.32xlarge run NeuronCore-v2 with sourced prices."""
    small, big = catalog.instance_type("trn1.2xlarge"), catalog.instance_type("trn1.32xlarge")
    assert small.chip.core_name == big.chip.core_name == "NeuronCore-v2"
    assert (small.cores, big.cores, small.usd_per_hour, big.usd_per_hour) == (2, 32, 1.34375, 21.5)


def test_pipelined_replica_interval():
    """A replica over c cores is a c-stage pipeline: one hand-off per batch, ~1/c of the work."""
    one = hardware.service_breakdown("bert-base", "inf1.6xlarge", 1, 128, "fp32", cores=1)
    many = hardware.service_breakdown("bert-base", "inf1.6xlarge", 1, 128, "fp32", cores=16)
    assert many.compute_s == pytest.approx(one.compute_s / 16)
    assert 0 < many.transfer_s < 1e-4
    assert many.total_s < one.total_s / 4


def test_cli_dry_run_prints_the_report():
    """python -m hardware.calibration --dry-run fits and prints the tables without writing."""
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert calibration_main(["--dry-run", "--no-holdout"]) == 0
    text = buffer.getvalue()
    assert "## Errors on the fitted rows" in text and "wrote" not in text
    assert "| inf1 |" in text and "| llm | 102 | 0 |" in text


def test_a_busy_inf1_core_stages_its_next_input_at_run_time():
    """The runtime uses the staging the calibration checks: inf1.xlarge ResNet-50 at batch 5
    runs at the published 2,162-2,277 img/s (within 10%) when its cores are busy, each batch
    still taking its full service time; NeuronCore-v2 and pipelines stage nothing."""
    split = hardware.service_breakdown("resnet-50", "inf1.xlarge", 5, dtype="fp16")
    interval = hardware.service_interval("resnet-50", "inf1.xlarge", 5, dtype="fp16")
    assert interval == pytest.approx(float(split.total_s - split.staged_s))
    assert 0 < float(split.staged_s) <= float(split.host_s)
    assert 4 * 5 / interval == pytest.approx(2220, rel=0.10)
    assert 4 * 5 / float(split.total_s) < 0.7 * 2162  # without staging: the old 1.7x gap
    assert hardware.service_time("resnet-50", "inf1.xlarge", 5, dtype="fp16") == float(
        split.total_s
    )
    for instance, cores in (("inf2.xlarge", 1), ("inf1.xlarge", 2)):
        assert hardware.service_interval("resnet-50", instance, 5, cores=cores) == (
            hardware.service_time("resnet-50", instance, 5, cores=cores)
        )
