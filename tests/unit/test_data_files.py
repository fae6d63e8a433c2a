"""User data files (arrival traces, service samples) at their edges: each refusal names the
file, the row, the column and the value as written; bounds are inclusive or not as stated."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

import sim.scenario.datafiles as datafiles
from sim.scenario.datafiles import numbers, read_table, resolve_path
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import parse_scenario

WHAT = "a time in seconds >= 0"


def refusal(call) -> str:
    with pytest.raises(ValueError) as error:
        call()
    return str(error.value)


def test_resolve_path_takes_relative_paths_from_the_scenario_directory(tmp_path, monkeypatch):
    """Relative to ``base_dir`` when there is one, else to the current directory."""
    monkeypatch.chdir(tmp_path)
    with_base = SimpleNamespace(context={"base_dir": "/data"})
    assert resolve_path("a.csv", with_base) == "/data/a.csv"
    assert resolve_path("a.csv", SimpleNamespace(context=None)) == str(tmp_path / "a.csv")
    assert resolve_path("a.csv", SimpleNamespace(context={})) == str(tmp_path / "a.csv")
    assert refusal(lambda: resolve_path("a\0b.csv", with_base)) == (
        "cannot resolve the path 'a\\x00b.csv': embedded null byte"
    )


def test_a_parse_without_base_dir_reads_data_files_from_the_current_directory(
    tmp_path, monkeypatch
):
    """``parse_scenario`` of text (no file, no base_dir) finds a relative trace in the cwd."""
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"arrival_s": [0.0, 0.5]}).to_csv("arrivals.csv", index=False)
    text = yaml.safe_dump({
        "name": "t", "seed": 1, "duration": "1s",
        "workload": {"arrivals": {"kind": "trace", "path": "arrivals.csv"},
                     "mix": [{"model": "m"}]},
        "fleet": [{"name": "p", "instance": "inf2.xlarge", "count": 1, "model": "m",
                   "service": {"kind": "deterministic", "base": "10ms"}}],
        "slo": {"target": "1s"},
    })  # fmt: skip
    scenario = parse_scenario(text)
    assert scenario.workload.arrivals.path == str(tmp_path / "arrivals.csv")
    assert scenario.workload.arrivals.load().times_s.tolist() == [0.0, 0.5]


def test_read_table_refusals_name_the_file_and_the_reason(tmp_path):
    """Unknown suffix, empty csv, corrupt parquet, a directory, a missing or unreachable
    file: one message each, starting with the path, on one line."""
    other = tmp_path / "a.txt"
    other.write_text("x\n1\n")
    assert refusal(lambda: read_table(str(other))) == f"{other}: expected a .csv or .parquet file"
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert refusal(lambda: read_table(str(empty))) == (
        f"{empty}: cannot read it (No columns to parse from file)"
    )
    corrupt = tmp_path / "bad.parquet"
    corrupt.write_bytes(b"not parquet at all\n" * 4)
    message = refusal(lambda: read_table(str(corrupt)))  # pyarrow's reason, on one line
    assert message.startswith(f"{corrupt}: cannot read it (ArrowInvalid: Could not open ")
    assert "Parquet magic bytes not found in footer." in message and message.endswith(".)")
    assert message == " ".join(message.split())
    assert refusal(lambda: read_table(str(tmp_path))) == (
        f"{tmp_path}: not a regular file (a directory, a named pipe or a device)"
    )
    missing = tmp_path / "missing.csv"
    assert refusal(lambda: read_table(str(missing))) == f"{missing}: no such file"
    below_a_file = other / "x.csv"
    assert refusal(lambda: read_table(str(below_a_file))).startswith(
        f"{below_a_file}: cannot read it ([Errno 20] Not a directory"
    )


def test_read_table_reads_pq_files_and_names_missing_columns(tmp_path):
    """``.pq`` is parquet too; missing columns are all named, with the columns found."""
    path = tmp_path / "t.pq"
    pq.write_table(pa.table({"arrival_s": [0.0, 1.0], "x": [1, 2]}), path)
    assert read_table(str(path))["arrival_s"].tolist() == [0.0, 1.0]
    assert refusal(lambda: read_table(str(path), ["arrival_s", "model", "seq_len"])) == (
        f"{path}: missing column(s) model, seq_len; found: arrival_s, x"
    )
    bare = tmp_path / "none.parquet"
    pq.write_table(pa.table({}), bare)
    assert refusal(lambda: read_table(str(bare), ["arrival_s"])) == (
        f"{bare}: missing column(s) arrival_s; found: none"
    )


def test_a_csv_with_text_is_quoted_as_written(tmp_path):
    """When a requested column holds text the file is read as text, so a bad value is quoted
    exactly as the user wrote it: an empty cell is '' (not nan), '-1.50' keeps its zeros."""
    path = tmp_path / "t.csv"
    path.write_text("arrival_s,model\n0,a\n,b\nx,c\n")
    df = read_table(str(path), ["arrival_s", "model"])
    assert refusal(lambda: numbers(df, "t.csv", "arrival_s", what=WHAT)) == (
        f"t.csv: data row 2: arrival_s = ''; expected {WHAT}"
    )
    path.write_text("arrival_s,model\n0,a\n-1.50,b\n")
    df = read_table(str(path), ["arrival_s", "model"])
    assert refusal(lambda: numbers(df, "t.csv", "arrival_s", what=WHAT, low=0.0)) == (
        f"t.csv: data row 2: arrival_s = '-1.50'; expected {WHAT}"
    )
    path.write_text("arrival_s,model\n0,a\nNA,b\n")
    df = read_table(str(path), ["arrival_s", "model"])
    assert refusal(lambda: numbers(df, "t.csv", "arrival_s", what=WHAT)) == (
        f"t.csv: data row 2: arrival_s = 'NA'; expected {WHAT}"
    )
    path.write_text("arrival_s,model\ninf,a\n")
    df = read_table(str(path), ["arrival_s", "model"])
    assert refusal(lambda: numbers(df, "t.csv", "arrival_s", what=WHAT)) == (
        f"t.csv: data row 1: arrival_s = 'inf'; expected {WHAT}"
    )


def test_a_file_too_large_for_memory_is_refused_before_reading(tmp_path, monkeypatch):
    """A file needs about 12 bytes of memory per byte on disk; more than is available is
    refused with both sizes; exactly what is available is read."""
    path = tmp_path / "t.csv"
    path.write_text("arrival_s\n" + "0.5\n" * 47)  # 10 + 47 * 4 = 198 bytes
    size = path.stat().st_size
    needed = size * datafiles.DATA_MEMORY_FACTOR
    monkeypatch.setattr(datafiles, "available_memory_bytes", lambda: needed - 1)
    assert refusal(lambda: read_table(str(path))) == (
        f"{path}: 0.0 GB on disk needs about 0 GB of memory to read, more than this machine "
        "has available; replay a part of it"
    )
    monkeypatch.setattr(datafiles, "available_memory_bytes", lambda: needed)
    assert len(read_table(str(path))) == 47


def test_numbers_bounds_are_inclusive_or_exclusive_as_asked():
    """``high`` is allowed; ``low`` is allowed unless ``low_inclusive=False``."""
    df = pd.DataFrame({"v": [0.0, 1.0, 2.0]})
    assert numbers(df, "f", "v", what="w", low=0.0, high=2.0).tolist() == [0.0, 1.0, 2.0]
    assert refusal(lambda: numbers(df, "f", "v", what="w", high=1.5)) == (
        "f: data row 3: v = 2.0; expected w"
    )
    assert refusal(lambda: numbers(df, "f", "v", what="w > 0", low=0.0, low_inclusive=False)) == (
        "f: data row 1: v = 0.0; expected w > 0"
    )
    assert refusal(lambda: numbers(df, "f", "v", what="w", low=0.5)) == (
        "f: data row 1: v = 0.0; expected w"
    )


def test_numbers_integer_columns_come_back_as_int64():
    """``integer=True`` refuses fractions and returns int64 (sequence lengths index tables)."""
    got = numbers(pd.DataFrame({"n": [1.0, 512.0]}), "f", "n", what="w", integer=True)
    assert got.dtype == np.int64 and got.tolist() == [1, 512]
    fraction = pd.DataFrame({"n": [1, 2.5]})
    message = refusal(lambda: numbers(fraction, "f", "n", what="w", integer=True))
    assert message == "f: data row 2: n = 2.5; expected w"
    floats = numbers(pd.DataFrame({"n": [1, 2]}), "f", "n", what="w")
    assert floats.dtype == np.float64


def test_numbers_refuses_booleans_and_accepts_numbers_held_as_objects():
    """A boolean column, or a boolean among objects, is not a number; a number held in an
    object column is one."""
    assert refusal(lambda: numbers(pd.DataFrame({"b": [True, False]}), "f", "b", what=WHAT)) == (
        f"f: data row 1: b = True; expected {WHAT}"
    )
    mixed = pd.DataFrame({"b": pd.Series([True, None], dtype=object)})
    assert refusal(lambda: numbers(mixed, "f", "b", what=WHAT)) == (
        f"f: data row 1: b = True; expected {WHAT}"
    )
    objects = pd.DataFrame({"v": pd.Series([1.5, 2, "3"], dtype=object)})
    assert numbers(objects, "f", "v", what=WHAT).tolist() == [1.5, 2.0, 3.0]
    assert math.isnan(datafiles._number(None))


def test_a_service_sample_of_zero_is_refused(tmp_path):
    """Empirical service samples must be > 0: a zero names its file, row and value."""
    pd.DataFrame({"service_s": [0.01, 0.0]}).to_csv(tmp_path / "s.csv", index=False)
    text = yaml.safe_dump({
        "name": "t", "seed": 1, "duration": "1s",
        "workload": {"arrivals": {"kind": "poisson", "rate": 1}, "mix": [{"model": "m"}]},
        "fleet": [{"name": "p", "instance": "inf2.xlarge", "count": 1, "model": "m",
                   "service": {"kind": "empirical", "path": "s.csv"}}],
        "slo": {"target": "1s"},
    })  # fmt: skip
    with pytest.raises(ScenarioError) as error:
        parse_scenario(text, base_dir=tmp_path)
    ((field, message, _),) = error.value.problems
    assert field == "fleet[0].service"
    assert message == (
        f"{tmp_path / 's.csv'}: data row 2: service_s = 0.0; expected a service time in seconds > 0"
    )
