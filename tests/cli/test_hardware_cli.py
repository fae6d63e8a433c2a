"""fleetsim hardware table / compare: output rows, sort order, PROJECTED markers, bad input."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from typer.testing import CliRunner

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


def test_compare_sorted_by_cost_with_projected_and_gpu_rows():
    """compare covers Inferentia, projected inf3 and GPUs, cheapest first; skips are explained."""
    args = ("compare", "--model", "bert-base", "--seq-len", 128, "--max-batch", 16)
    rows = csv_of(invoke(*args, "--csv"))
    assert rows.usd_per_million.is_monotonic_increasing
    families = set(rows.family)
    assert {"inf1", "inf2", "inf3", "g5", "g6"} <= families and "g4dn" not in families
    assert rows.projected.tolist() == (rows.family == "inf3").tolist()
    text = invoke(*args).output
    assert "skipped g4dn.xlarge: nvidia-t4 does not run bf16" in text
    inf3_lines = [line for line in text.splitlines() if "inf3." in line]
    assert inf3_lines and all("PROJECTED" in line for line in inf3_lines)
    order = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]
    assert order == rows.instance.tolist()


def test_compare_latency_budget_and_fp16():
    """With fp16 the T4 and V100 join; every chosen batch meets the latency budget."""
    rows = csv_of(
        invoke("compare", "--model", "bert-base", "--dtype", "fp16", "--latency-budget", "10ms",
               "--csv")
    )  # fmt: skip
    assert (rows.service_time_s <= 0.010).all()
    assert {"g4dn.xlarge", "p3.2xlarge"} <= set(rows.instance)


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
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_option_and_value(args, fragments):
    """Bad input is one clear error naming the option and value: exit 2, no traceback."""
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)
