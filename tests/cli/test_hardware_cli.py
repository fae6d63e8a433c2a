"""fleetsim hardware table / compare: output rows, sort order, PROJECTED markers, bad input."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from typer.testing import CliRunner

import hardware
from hardware import catalog
from hardware.planning import cost_tables
from sim.cli.commands import app


def invoke(*args):
    return CliRunner().invoke(app, ["hardware", *[str(a) for a in args]])


def csv_of(result) -> pd.DataFrame:
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.output))


def test_table_prints_one_row_per_batch_size():
    """The table lists each requested batch size with cost columns and the instance price."""
    result = invoke("table", "--instance", "inf2.xlarge", "--model", "bert-base", "--seq-len", 128)
    assert result.exit_code == 0, result.output
    assert "$/M inf" in result.output and "inf/J" in result.output
    assert "$0.7582/h" in result.output and "inferentia2 160 W (estimate)" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("│")]
    assert [line.split("│")[1].strip() for line in lines] == ["1", "2", "4", "8", "16", "32"]
    assert "PROJECTED" not in result.output


def test_table_csv_and_options():
    """--csv gives the report table; --cores 2 halves the replicas; --dtype is applied."""
    rows = csv_of(
        invoke(
            "table", "--instance", "inf2.xlarge", "--model", "bert-base", "--dtype", "fp32",
            "--cores", "2", "--batch-sizes", "1,8", "--csv",
        )
    )  # fmt: skip
    assert rows.batch_size.tolist() == [1, 8] and (rows.replicas == 1).all()
    assert (rows.dtype == "fp32").all() and (rows.seq_len == 128).all()
    expected = rows.usd_per_hour / (3600 * rows.instance_throughput_per_s) * 1e6
    pd.testing.assert_series_equal(rows.usd_per_million, expected, check_names=False, rtol=1e-6)


def test_table_marks_projected_inf3():
    """Every inf3 row says PROJECTED, and so does the footer."""
    result = invoke("table", "--instance", "inf3.xlarge", "--model", "bert-base")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert rows and all("PROJECTED" in line for line in rows)
    assert "projections" in result.output


def test_inf3_perf_per_watt_is_not_available_with_its_reason():
    """inf3 has no power figure: inf/J shows '-', the note and footer say why; CSV has NaN."""
    result = invoke("table", "--instance", "inf3.xlarge", "--model", "bert-base")
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    assert rows and all("inf/J n/a: no power figure" in line for line in rows)
    assert all(line.split("│")[6].strip() == "-" for line in rows)
    footer = " ".join(result.output.split())
    assert "inferentia3 not available (no published power to derive it from)" in footer
    table = csv_of(invoke("table", "--instance", "inf3.xlarge", "--model", "bert-base", "--csv"))
    assert table.inferences_per_j.isna().all() and (table.power_basis == "unavailable").all()


def test_table_on_a_gpu():
    """A GPU instance has one replica and published power."""
    rows = csv_of(invoke("table", "--instance", "g6.xlarge", "--model", "resnet-50", "--csv"))
    assert (rows.replicas == 1).all() and (rows.power_basis == "published").all()
    assert (rows.service_time_s.diff().dropna() >= -1e-12).all()  # flat while launch-bound


def test_compare_lists_every_family_in_its_natural_dtype():
    """By default compare runs each instance in its natural dtype (bf16 on NeuronCores, fp16 on
    GPUs), so every family of the catalog is listed, cheapest first; inf3 flagged PROJECTED."""
    args = ("compare", "--model", "bert-base", "--seq-len", 128, "--max-batch", 16)
    rows = csv_of(invoke(*args, "--csv"))
    assert rows.usd_per_million.is_monotonic_increasing
    every = {"inf1", "inf2", "trn1", "inf3", "g4dn", "g5", "g6", "p3"}
    assert every <= {catalog.instance_type(n).family for n in catalog.instance_type_names()}
    assert set(rows.family) == every
    assert sorted(rows.instance) == sorted(catalog.instance_type_names())
    gpu = rows.instance.map(lambda n: catalog.instance_type(n).chip.is_gpu)
    assert rows.dtype.tolist() == ["fp16" if g else "bf16" for g in gpu]
    assert rows.dtype.tolist() == [hardware.natural_dtype(n) for n in rows.instance]
    assert rows.projected.tolist() == (rows.family == "inf3").tolist()
    text = invoke(*args).output
    assert "skipped" not in text and "natural dtype per instance" in text
    inf3_lines = [line for line in text.splitlines() if line.startswith("│ inf3.")]
    assert len(inf3_lines) == 4 and all("PROJECTED" in line for line in inf3_lines)
    table_rows = [line.split("│") for line in text.splitlines() if line.startswith("│")]
    assert [r[1].strip() for r in table_rows] == rows.instance.tolist()
    assert [r[2].strip() for r in table_rows] == rows.dtype.tolist()
    assert [r[3].strip() for r in table_rows] == rows["stack"].tolist()
    assert [int(r[4]) for r in table_rows] == rows.cores.tolist()  # cores per replica shown
    pointer = [line for line in text.splitlines() if "fleetsim plan" in line]
    assert (
        pointer
        and "--instances " + ",".join(rows.drop_duplicates("family").instance[:3]) in (pointer[0])
    )


def test_compare_with_a_forced_dtype_skips_the_chips_without_it():
    """--dtype bf16 runs every instance in bf16; the T4 and V100 (no bf16) are skipped."""
    rows = csv_of(invoke("compare", "--model", "bert-base", "--dtype", "bf16", "--csv"))
    assert (rows.dtype == "bf16").all() and not {"g4dn", "p3"} & set(rows.family)
    text = invoke("compare", "--model", "bert-base", "--dtype", "bf16").output
    assert "skipped g4dn.xlarge: nvidia-t4 does not run bf16" in text
    assert "skipped p3.2xlarge: nvidia-v100 does not run bf16" in text
    fp32 = csv_of(invoke("compare", "--model", "bert-base", "--dtype", "fp32", "--csv"))
    assert (fp32.dtype == "fp32").all() and {"g4dn", "p3", "inf2"} <= set(fp32.family)


def _fastest_request_s(instance: str) -> float:
    """The least request latency of bert-base at 128 tokens on ``instance``, any layout."""
    return min(
        cost_tables.table("bert-base", instance, 128, "auto", cores, [1]).request_latency_s.iloc[0]
        for cores in hardware.replica_layouts(instance)
    )


def _us(seconds: float) -> str:
    return f"{1e6 * seconds:.3f}us"


def test_latency_budget_applies_to_what_a_request_sees():
    """--latency-budget bounds max wait + pipeline depth x service time: a batch whose service
    time fits the budget is refused when the wait for the batch to fill does not."""
    fastest = _fastest_request_s("inf2.xlarge")
    budget = 2 * fastest
    base = ("compare", "--model", "bert-base", "--seq-len", 128, "--latency-budget", _us(budget))
    served = csv_of(invoke(*base, "--csv"))
    assert "inf2.xlarge" in set(served.instance)
    # the wait alone is within the budget, and so is the service of a batch of one, not both
    late = invoke(*base, "--max-wait", _us(1.5 * fastest))
    assert late.exit_code == 0, late.output
    assert "skipped inf2.xlarge: no batch within the" in late.output
    assert "inf2.xlarge" not in set(
        csv_of(invoke(*base, "--max-wait", _us(1.5 * fastest), "--csv")).instance
    )
    wait = 0.5 * fastest
    rows = csv_of(invoke(*base, "--max-wait", _us(wait), "--csv"))
    assert "inf2.xlarge" in set(rows.instance) and len(rows) <= len(served)
    assert rows.max_wait_s.to_numpy() == pytest.approx(wait, rel=1e-6)
    expected = rows.max_wait_s + rows.pipeline_depth * rows.service_time_s
    assert rows.request_latency_s.to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-12)
    assert (rows.pipeline_depth == rows.cores).all()
    assert (rows.request_latency_s <= budget * (1 + 1e-6)).all()


def test_compare_tries_replicas_over_several_cores():
    """Every layout of an instance's cores is tried: gpt2-xl, too big for one inf1 core, runs
    on a pipeline of inf1 cores; each winner is the cheapest over all layouts and batches."""
    model = "gpt2-xl"
    assert not hardware.fits(model, "inf1.xlarge", "bf16", cores=1)
    rows = csv_of(invoke("compare", "--model", model, "--max-batch", 8, "--csv"))
    inf1 = rows[rows.family == "inf1"]
    assert len(inf1) == 4 and (inf1.cores > 1).all()
    assert (
        inf1.replicas == inf1.instance.map(lambda n: catalog.instance_type(n).cores) // inf1.cores
    ).all()
    for _, row in rows.iterrows():
        every = pd.concat(
            cost_tables.table(model, row.instance, None, "auto", cores, range(1, 9))
            for cores in hardware.replica_layouts(row.instance)
        )
        assert row.usd_per_million == pytest.approx(every.usd_per_million.min(), rel=1e-9)
    assert hardware.replica_layouts("inf2.48xlarge") == (1, 2, 3, 4, 6, 8, 12, 24)
    assert hardware.replica_layouts("g5.xlarge") == (1,)


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["table", "--instance", "inf2.xlarg", "--model", "bert-base"],
         ["--instance", "'inf2.xlarg'", "did you mean 'inf2.xlarge'"]),
        (["table", "--instance", "inf2.xlarge", "--model", "bert-bse"],
         ["--model", "'bert-bse'", "did you mean 'bert-base'"]),
        (["compare", "--model", "bertbase"], ["--model", "'bertbase'"]),
        (["table", "--instance", "inf2.xlarge", "--model", "bert-base", "--dtype", "bf17"],
         ["--dtype", "'bf17'"]),
        (["table", "--instance", "g4dn.xlarge", "--model", "bert-base", "--dtype", "bf16"],
         ["--dtype", "g4dn.xlarge", "'bf16'", "supported: fp32, fp16, int8"]),
        (["compare", "--model", "bert-base", "--dtype", "float"], ["--dtype", "'float'"]),
        (["table", "--instance", "inf2.xlarge", "--model", "bert-base", "--seq-len", "0"],
         ["--seq-len", "1..512", "0"]),
        (["compare", "--model", "bert-base", "--seq-len", "1024"], ["--seq-len", "1024"]),
        (["table", "--instance", "inf2.xlarge", "--model", "bert-base", "--batch-sizes", "1,x"],
         ["--batch-sizes", "'1,x'"]),
        (["table", "--instance", "g5.xlarge", "--model", "bert-base", "--cores", "2"],
         ["--cores", "g5.xlarge"]),
        (["table", "--instance", "inf2.xlarge", "--model", "bert-base", "--cores", "3"],
         ["--cores", "3"]),
        (["compare", "--model", "bert-base", "--latency-budget", "fast"],
         ["--latency-budget", "'fast'"]),
        (["compare", "--model", "bert-base", "--latency-budget", "0ms"],
         ["--latency-budget", "'0ms'"]),
        (["compare", "--model", "bert-base", "--max-batch", "0"], ["--max-batch"]),
        (["compare", "--model", "bert-base", "--max-wait", "-1ms"], ["--max-wait", "'-1ms'"]),
        (["compare", "--model", "bert-base", "--max-wait", "5"], ["--max-wait", "needs a unit"]),
        (["compare", "--model", "bert-base", "--dtype", "auto16"],
         ["--dtype", "'auto16'", "auto, fp32"]),
        (["compare", "--model", "bert-base", "--stack", "eagr"],
         ["--stack", "'eagr'", "did you mean 'eager'", "tensorrt, onnxruntime, eager"]),
        (["table", "--instance", "inf2.xlarge", "--model", "bert-base", "--stack", "tensorrt"],
         ["--stack", "'tensorrt'", "inf2.xlarge", "Neuron"]),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_option_and_value(args, fragments):
    """Bad input is one clear error naming the option and value: exit 2, no traceback."""
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)


def test_gpu_rows_name_their_stack_and_the_stack_changes_the_time():
    """compare shows each row's stack (neuron on NeuronCores, the default tensorrt on GPUs);
    --stack eager times the GPUs on the PyTorch-eager fit (slower than TensorRT at batch 1)
    and leaves the NeuronCore rows as they were."""
    best = csv_of(invoke("compare", "--model", "bert-base", "--max-batch", 1, "--csv"))
    gpu = best.instance.map(lambda i: catalog.instance_type(i).chip.is_gpu)
    assert set(best["stack"][gpu]) == {hardware.DEFAULT_STACK} == {"tensorrt"}
    assert set(best["stack"][~gpu]) == {cost_tables.NEURON_STACK}
    eager = csv_of(
        invoke("compare", "--model", "bert-base", "--max-batch", 1, "--stack", "eager", "--csv")
    )
    assert set(
        eager["stack"][eager.instance.map(lambda i: catalog.instance_type(i).chip.is_gpu)]
    ) == {"eager"}
    both = best.merge(eager, on="instance", suffixes=("", "_eager"))
    on_gpu = both.instance.map(lambda i: catalog.instance_type(i).chip.is_gpu)
    assert (both.service_time_s_eager[on_gpu] > both.service_time_s[on_gpu]).all()
    assert (both.service_time_s_eager[~on_gpu] == both.service_time_s[~on_gpu]).all()
    table = csv_of(
        invoke("table", "--instance", "g4dn.xlarge", "--model", "bert-base", "--stack",
               "onnxruntime", "--batch-sizes", "1", "--csv")
    )  # fmt: skip
    expected = hardware.service_time(
        "bert-base", "g4dn.xlarge", 1, 128, "fp16", stack="onnxruntime"
    )
    assert table["stack"].tolist() == ["onnxruntime"]
    assert table.service_time_s.iloc[0] == pytest.approx(expected)
