"""Hostile and careless input: each case reproduces a way fleetsim once fell short.

Every refusal is exit code 2 with one ``file:line: field: message`` (or the option's name),
no traceback, and nothing written.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from helpers import BASE_SCENARIO, ROOT, needs_kernel
from typer.testing import CliRunner

import sim
from sim.cli.commands import app
from sim.engine.engines import kernel_built
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import parse_scenario


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def text_with(path: tuple, raw: str) -> str:
    """The base scenario as YAML text with the value at ``path`` written as ``raw``."""
    data = copy.deepcopy(BASE_SCENARIO)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = "@@RAW@@"
    return yaml.safe_dump(data, sort_keys=False).replace("'@@RAW@@'", raw)


# --- 1. every duration needs its unit; YAML 1.2 numbers are numbers ---------------------


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        (("fleet", 0, "batching", "max_wait"), '"2"'),  # a string without a unit
        (("fleet", 0, "batching", "max_wait"), "1e-3"),  # YAML 1.1 would read text
        (("duration",), "1e1"),
        (("slo", "target"), "0.01"),
    ],
)
def test_a_duration_without_a_unit_is_refused(path, raw):
    """``max_wait: "2"``, ``max_wait: 1e-3``, ``duration: 1e1``: refused, naming the field
    and asking for a unit (they were read as seconds)."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text_with(path, raw), source="s.yaml")
    message = str(info.value)
    assert path[-1] in message and "needs a unit" in message, message


@pytest.mark.parametrize("raw", ["1e5", "2.5e3", "1E3", "+2e2"])
def test_yaml_1_2_numbers_are_numbers(raw):
    """A rate written ``1e5`` is the number 100000 (PyYAML alone reads it as text)."""
    scenario = parse_scenario(text_with(("workload", "arrivals", "rate"), raw))
    assert scenario.workload.arrivals.rate == float(raw)


@pytest.mark.parametrize(
    "args",
    [
        ("run", ROOT / "scenarios" / "alexa.yaml", "--duration", "10"),
        ("hardware", "compare", "--model", "bert-base", "--latency-budget", "10"),
    ],
)
def test_a_duration_option_without_a_unit_is_refused(tmp_path, args):
    """``--duration 10`` and ``--latency-budget 10`` are refused with exit 2, naming the
    option; nothing is written."""
    result = invoke(*args, "--out", tmp_path / "out") if args[0] == "run" else invoke(*args)
    assert result.exit_code == 2, result.output
    assert "needs a unit" in result.output and "--" in result.output
    assert not (tmp_path / "out").exists()


def test_the_api_refuses_a_duration_without_a_unit(tmp_path):
    """``sim.run(duration="10")`` too."""
    with pytest.raises(ScenarioError, match="needs a unit"):
        sim.run(ROOT / "scenarios" / "alexa.yaml", tmp_path / "out", duration="10")
    assert not (tmp_path / "out").exists()


# --- 7. distribution parameters stay where their samplers are exact ---------------------


@pytest.mark.parametrize("cv", ["1.0e-155", "1.0e-300", "0.0001", "100"])
def test_a_gamma_cv_outside_the_exact_range_is_refused(cv):
    """``cv: 1e-155`` ran zero requests with exit 0 and ``1e-300`` raised ZeroDivisionError:
    refused, naming ``cv`` and its range."""
    arrivals = f"{{kind: gamma, rate: 500, cv: {cv}}}"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text_with(("workload", "arrivals"), arrivals), source="s.yaml")
    assert "workload.arrivals.cv" in str(info.value)


def test_mmpp_sojourns_far_below_the_mean_gap_are_refused():
    """``mean_sojourn: [1ns, 1ns]`` ran for minutes on 2 simulated seconds: refused with the
    reason (it is Poisson) and the shortest sensible sojourn."""
    arrivals = "{kind: mmpp, rates: [100, 900], mean_sojourn: [1ns, 1ns]}"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text_with(("workload", "arrivals"), arrivals), source="s.yaml")
    message = str(info.value)
    assert "mean_sojourn 1ns is far below the mean gap" in message and "kind: poisson" in message


# --- 13. messages ------------------------------------------------------------------------


def test_a_numeric_top_level_key_is_reported_at_its_own_line():
    """``123: x`` at the end of the file is named ``123`` at its line (it was ``[123]`` at
    line 1)."""
    text = text_with(("name",), "base") + "123: x\n"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.yaml")
    assert str(info.value).startswith(f"s.yaml:{len(text.splitlines())}: 123: unknown key 123")


def test_an_infinite_duration_gets_no_unit_suggestion():
    """``duration: .inf`` is not finite; it used to be offered 'infs'."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text_with(("duration",), ".inf"), source="s.yaml")
    assert "must be finite" in str(info.value) and "infs" not in str(info.value)


def test_a_union_field_names_every_alternative_once():
    """``cores_per_replica: 0`` gets one message naming both alternatives, not 'auto' as
    if 0 were close to it."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text_with(("fleet", 0, "cores_per_replica"), "0"), source="s.yaml")
    assert info.value.problems[0][:2] == (
        "fleet[0].cores_per_replica",
        "must be >= 1 or 'auto', got 0",
    )
    assert len(info.value.problems) == 1


# --- 4. wide sequence-length ranges are checked, never tabulated -----------------------


def run_limited(code: str, limit_bytes: int = 1_500_000_000):
    """Run Python ``code`` in a subprocess whose address space is capped (a MemoryError
    there means something tried to allocate what it should not have)."""
    import subprocess
    import sys

    prelude = (
        f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({limit_bytes}, {limit_bytes}))\n"
    )
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)  # fmt: skip


def test_a_huge_seq_len_range_is_refused_without_building_it():
    """``uniform 1..10^9`` on bert-base crashed ``validate`` with a MemoryError (it listed
    every length before checking the range): refused at once, in bounded memory."""
    code = f"""
import yaml
from sim.scenario.loading import parse_scenario
from sim.scenario.errors import ScenarioError
data = {BASE_SCENARIO!r}
data["workload"]["mix"][0]["seq_len"] = {{"kind": "uniform", "low": 1, "high": 10**9}}
try:
    parse_scenario(yaml.safe_dump(data), source="s.yaml")
except ScenarioError as exc:
    print(exc)
"""
    result = run_limited(code)
    assert result.returncode == 0, result.stderr
    assert "seq_len: bert-base takes sequence lengths 1..512, got 1..1000000000" in result.stdout


def test_a_synthetic_pool_takes_any_length_without_a_table(tmp_path):
    """A model served only by synthetic pools is a label: lengths up to 2^31 - 1 (what the
    trace's int32 column holds) run in bounded memory; no service table is built."""
    code = f"""
import yaml
from sim.scenario.loading import parse_scenario
from sim.engine.runner import simulate
data = {{"name": "wide", "seed": 1, "duration": "1s",
  "workload": {{"arrivals": {{"kind": "poisson", "rate": 1000}}, "mix": [{{"model": "ranker",
    "seq_len": {{"kind": "uniform", "low": 1, "high": 2**31 - 1}}}}]}},
  "fleet": [{{"name": "p", "instance": "inf2.xlarge", "count": 2, "model": "ranker",
    "batching": {{"max_batch": 64, "max_wait": "1ms"}},
    "service": {{"kind": "exponential", "mean": "1ms"}}}}],
  "slo": {{"target": "10ms"}}}}
print(simulate(parse_scenario(yaml.safe_dump(data)), {str(tmp_path / "t.parquet")!r}).requests)
"""
    result = run_limited(code)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 900


def test_a_length_the_trace_cannot_hold_is_refused():
    """Sequence lengths are int32 in the trace: 2^31 is refused, naming the field."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text_with(("workload", "mix", 0, "seq_len"), str(2**31)), source="s")
    assert "workload.mix[0].seq_len" in str(info.value)


# --- 5, 6. estimates: refuse what cannot fit, announce what takes long -------------------

BIG_FLEET = """name: big
seed: 1
duration: 10s
workload:
  arrivals: {kind: poisson, rate: 1000}
  mix: [{model: bert-base}]
fleet:
  - {name: a, instance: inf2.48xlarge, count: 1000000, model: bert-base}
slo: {target: 10ms}
"""


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_fleet_that_cannot_fit_in_memory_is_refused_with_the_estimate(tmp_path, command):
    """``count: 1000000`` of inf2.48xlarge validated, then died with a MemoryError: both
    commands refuse it (exit 2, the estimate and what drives it), and nothing is written."""
    path = tmp_path / "big.yaml"
    path.write_text(BIG_FLEET)
    extra = ["--out", tmp_path / "out"] if command == "run" else []
    result = invoke(command, path, "--max-memory", "4GB", *extra)
    assert result.exit_code == 2, result.output
    # The compiled kernel keeps ~13 KB of state per instance; the SimPy engine ~4x that.
    expected = "13" if kernel_built() else "52"
    engine = "compiled" if kernel_built() else "simpy"
    assert f"needs about {expected}" in result.output and "GB of memory" in result.output
    assert f"on the {engine} engine" in result.output
    assert "for the instances and replicas" in result.output and "--max-memory" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml"]


def test_validate_prints_the_estimate():
    """``fleetsim validate`` says what the run will take."""
    result = invoke("validate", ROOT / "scenarios" / "alexa.yaml")
    assert result.exit_code == 0
    assert "estimate: about 540,000 requests" in result.output
    assert "MB of trace on disk" in result.output


def test_estimates_match_what_runs_take(tmp_path):
    """Requests within 1% (the case studies are long enough), trace size within a factor
    of two of the real files (with a pipeline, its stages.parquet too)."""
    import os

    from sim.engine.api import prepare
    from sim.engine.estimate import estimate_run

    for name in ("alexa", "amazon_search", "snap", "alexa_pipeline"):
        scenario, _ = prepare(ROOT / "scenarios" / f"{name}.yaml")
        estimate = estimate_run(scenario)
        result = sim.run(scenario, tmp_path / name)
        rows = result.trace_rows
        assert abs(estimate.requests - rows) <= 0.01 * rows, (name, estimate.requests, rows)
        stages = result.trace_path.with_name("stages.parquet")  # a pipeline's stage rows
        size = os.path.getsize(result.trace_path) + (
            stages.stat().st_size if stages.exists() else 0
        )
        assert size / 2 <= estimate.trace_bytes <= 2 * size, (name, estimate.trace_bytes, size)


def test_a_trace_that_would_not_fit_the_disk_is_refused(tmp_path, monkeypatch):
    """The trace's estimated size (and the latencies spilled for the exact percentiles) is
    checked against the free space where it goes."""
    import sim.engine.estimate as estimate

    monkeypatch.setattr(estimate, "free_disk_bytes", lambda directory: 1e6)  # as the machine
    result = invoke("run", ROOT / "scenarios" / "alexa.yaml", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "the run needs about 20.5 MB of disk (its trace, and 8 bytes" in result.output
    assert "--trace" in result.output
    assert not (tmp_path / "out").exists()


def test_a_long_run_is_announced(tmp_path, monkeypatch):
    """A run estimated to take long says so before it starts (not with --quiet)."""
    import sim.cli.commands as commands

    monkeypatch.setattr(commands, "LONG_RUN_S", 0.0)
    args = ("run", ROOT / "scenarios" / "alexa.yaml", "--duration", "11s")
    result = invoke(*args, "--out", tmp_path / "a")
    assert "estimate: about 49,500 requests" in result.output
    assert "estimate:" not in invoke(*args, "--out", tmp_path / "b", "--quiet").output


# --- 6. --trace summary | sample | full ---------------------------------------------------

SEARCH = ROOT / "scenarios" / "amazon_search.yaml"


@pytest.mark.parametrize("engine", [pytest.param("compiled", marks=needs_kernel), "simpy"])
def test_trace_modes_keep_the_summary_exact(tmp_path, engine):
    """``--trace summary`` writes no per-request file and ``sample`` a seeded fraction of the
    rows; summary.json is the full trace's, number for number (exact percentiles included),
    and the sample's rows are the full trace's rows for those requests."""
    import json

    import pandas as pd

    runs = {}
    for mode in ("full", "summary", "sample"):
        result = invoke("run", SEARCH, "--out", tmp_path / mode, "--duration", "8s",
                        "--engine", engine, "--trace", mode, "--sample-fraction", "0.1",
                        "--quiet")  # fmt: skip
        assert result.exit_code == 0, result.output
        runs[mode] = json.loads((tmp_path / mode / "summary.json").read_text())
    assert not (tmp_path / "summary" / "requests.parquet").exists()
    assert sorted(p.name for p in (tmp_path / "summary").iterdir()) == [
        "instances.parquet",
        "summary.json",
    ]
    for mode in ("summary", "sample"):
        assert runs[mode].pop("trace") == {"mode": mode, "fraction": 0.1 if mode == "sample"
                                           else 0.0}  # fmt: skip
    assert runs["full"].pop("trace") == {"mode": "full", "fraction": 1.0}
    for run in runs.values():
        run.pop("wall_s")
    assert runs["summary"] == runs["full"] == runs["sample"]
    full = pd.read_parquet(tmp_path / "full" / "requests.parquet").set_index("request_id")
    sample = pd.read_parquet(tmp_path / "sample" / "requests.parquet").set_index("request_id")
    n, p = len(full), 0.1
    assert abs(len(sample) - n * p) < 5 * (n * p * (1 - p)) ** 0.5
    pd.testing.assert_frame_equal(full.loc[sample.index], sample, check_exact=True)


def test_a_sample_is_the_same_requests_on_every_rerun(tmp_path):
    """The sample is chosen by a seeded hash of the request id: reruns keep the same rows;
    another seed keeps others."""
    import pandas as pd

    ids = []
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        invoke("run", SEARCH, "--out", tmp_path / name, "--duration", "6s", "--seed", seed,
               "--trace", "sample", "--quiet")  # fmt: skip
        ids.append(pd.read_parquet(tmp_path / name / "requests.parquet").request_id.tolist())
    assert ids[0] == ids[1] and ids[0] != ids[2]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--trace", "some"), "--trace"),
        (("--trace", "sample", "--sample-fraction", "0"), "--sample-fraction"),
    ],  # fmt: skip
)
def test_bad_trace_options_are_refused(tmp_path, args, fragment):
    """An unknown mode or a fraction outside (0, 1] is exit 2, naming the option."""
    result = invoke("run", SEARCH, "--out", tmp_path / "out", *args)
    assert result.exit_code == 2 and fragment in result.output
    assert not (tmp_path / "out").exists()


# --- 8. no traceback on hostile input or a failing output ------------------------------


def fleetsim(*args, **popen):
    """Run the ``fleetsim`` command in a subprocess (as a user would)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], text=True,
                          timeout=120, **popen)  # fmt: skip


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("[" * 50_000, "nesting"), (None, "a scenario is a few kilobytes")],
    ids=["50000 nested brackets", "/dev/zero"],
)
def test_hostile_files_are_one_line_errors(tmp_path, content, fragment):
    """50,000 nested ``[`` (a RecursionError) and ``/dev/zero`` (a MemoryError) are exit 2
    with one line."""
    path = "/dev/zero" if content is None else tmp_path / "bad.yaml"
    if content is not None:
        path.write_text(content)
    result = fleetsim("validate", path, capture_output=True)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_full_disk_on_standard_output_is_exit_74_after_a_complete_run(tmp_path):
    """``fleetsim run ... > /dev/full``: exit 74 and one line; the run directory, published
    before the summary was printed, is complete."""
    import json

    with open("/dev/full", "w") as full:
        result = fleetsim("run", ROOT / "scenarios" / "alexa.yaml", "--out", tmp_path / "out",
                          "--duration", "11s", stdout=full, stderr=-1)  # fmt: skip
    assert result.returncode == 74, result.stderr
    assert "cannot write to standard output" in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["requests"] > 0


def test_a_pipe_closed_early_ends_quietly_with_141(tmp_path):
    """``fleetsim validate ... | head -c0``: exit 141 (128 + SIGPIPE: the process ends on the
    signal, as ``cat`` does), nothing on stderr."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "sim", "validate",
                             str(ROOT / "scenarios" / "alexa.yaml")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    proc.stdout.close()  # the reader is gone before anything is printed
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) in (141, -13), stderr  # 141 from a shell, -13 from Popen
    assert stderr == ""


# --- 9. data files: every bad value named with file, row, column, value as written -------


def scenario_with_trace(tmp_path, frame, suffix=".csv") -> str:
    """A scenario file replaying ``frame`` (written as csv or parquet); its path."""
    data_path = tmp_path / f"arrivals{suffix}"
    if suffix == ".csv":
        frame.to_csv(data_path, index=False)
    else:
        frame.to_parquet(data_path)
    data = copy.deepcopy(BASE_SCENARIO)
    data["workload"]["arrivals"] = {"kind": "trace", "path": data_path.name}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("columns", "suffix", "fragment"),
    [
        ({"arrival_s": [0.0, 1.0], "seq_len": [64, "long"]}, ".csv", "seq_len = 'long'"),
        ({"arrival_s": [0.0, 1.0], "seq_len": [64, 1e30]}, ".csv", "seq_len = 1e+30"),
        ({"arrival_s": [0.0, "soon"]}, ".csv", "arrival_s = 'soon'"),
        ({"arrival_s": [True, False]}, ".parquet", "data row 1: arrival_s = True"),
    ],
    ids=["text seq_len", "huge seq_len", "text arrival", "boolean arrival"],
)
def test_bad_trace_values_name_file_row_column_and_value(tmp_path, columns, suffix, fragment):
    """Text in ``seq_len`` named nothing, ``1e30`` showed as -9223372036854775808, text in
    ``arrival_s`` showed as nan, booleans were 0 s and 1 s: each is now refused with the
    file, the data row, the column and the value as written."""
    import pandas as pd

    path = scenario_with_trace(tmp_path, pd.DataFrame(columns), suffix)
    result = invoke("validate", path)
    assert result.exit_code == 2, result.output
    assert f"arrivals{suffix}" in result.output and fragment in result.output, result.output


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("service_s\n", "has no values"), ("service_s\n0.002\n-0.001\n", "service_s = -0.001")],
    ids=["header only", "negative"],
)
def test_bad_measured_service_files_are_named(tmp_path, content, fragment):
    """A header-only file said "must be numbers"; a negative value printed as
    np.float64(-0.001)."""
    (tmp_path / "measured.csv").write_text(content)
    data = copy.deepcopy(BASE_SCENARIO)
    data["fleet"][0]["service"] = {"kind": "empirical", "path": "measured.csv"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert "measured.csv" in result.output and fragment in result.output, result.output
    assert "np.float64" not in result.output


# --- 10. no silent empty runs ---------------------------------------------------------------


def test_a_trace_with_no_rows_is_refused(tmp_path):
    """A replayed trace with a header and no rows ran 0 requests with exit 0."""
    import pandas as pd

    path = scenario_with_trace(tmp_path, pd.DataFrame({"arrival_s": []}))
    result = invoke("validate", path)
    assert result.exit_code == 2 and "has no values" in result.output


def test_a_trace_entirely_after_the_run_is_refused(tmp_path):
    """Arrivals all after ``duration`` ran 0 requests with exit 0: refused, saying when the
    first arrival is and what to change."""
    import pandas as pd

    path = scenario_with_trace(tmp_path, pd.DataFrame({"arrival_s": [5.0, 6.0]}))
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert "every arrival is at or after the end of the run" in result.output
    assert "the first at 5 s" in result.output


def test_a_run_with_no_measured_request_warns(tmp_path):
    """A run whose window saw no request says so (its metrics are all empty)."""
    data = copy.deepcopy(BASE_SCENARIO)
    data["workload"]["arrivals"] = {"kind": "poisson", "rate": 0.001}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    result = invoke("run", path, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0
    assert "warning: no request arrived after the warm-up" in result.output


# --- 12. command-line conventions -------------------------------------------------------


def test_version_and_short_help():
    """``fleetsim --version`` and ``-h`` work like ``version`` and ``--help``."""
    assert "fleetsim 0." in invoke("--version").output
    for args in (("-h",), ("run", "-h"), ("hardware", "-h")):
        result = invoke(*args)
        assert result.exit_code == 0 and "Usage: fleetsim" in result.output


def test_shell_completion_is_offered():
    """typer's completion install is offered (and documented in the README)."""
    assert "--install-completion" in invoke("--help").output
    assert "--install-completion" in (ROOT / "README.md").read_text()


def test_the_run_reports_its_whole_wall_time_and_its_summary_progress(tmp_path, monkeypatch):
    """The progress covers the summary pass (a phase of its own, ending at 100%), and
    "wrote ... in N s" counts the whole command."""
    seen = []

    def progress(fraction, phase):
        seen.append((round(fraction, 6), phase))

    sim.run(ROOT / "scenarios" / "alexa.yaml", tmp_path / "out", duration="11s",
            progress=progress)  # fmt: skip
    phases = [phase for _, phase in seen]
    assert phases.index("summarising") > phases.index("simulating")
    assert seen[-1] == (1.0, "summarising")
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)


def test_summarize_names_the_columns_a_partial_frame_lacks(tmp_path):
    """``analysis.summarize`` on a trace loaded with only some columns names what is
    missing (it raised a KeyError)."""
    import analysis

    result = sim.run(ROOT / "scenarios" / "alexa.yaml", tmp_path / "out", duration="11s")
    df = analysis.load_trace(result.trace_path, columns=["latency_s", "status"])
    with pytest.raises(ValueError, match="arrival_s, start_s, service_s, batch_size, pool"):
        analysis.summarize(df)


# --- 11. large documents: parsed once, by libyaml where installed, capped ---------------


def test_a_large_document_is_parsed_once_and_capped(monkeypatch):
    """A 4 MB scenario (x- anchors) is parsed once, with the C parser when installed, and
    keeps its line numbers; one byte over the cap is refused with the reason."""
    import yaml as pyyaml

    import sim.scenario.yaml_text as loading

    data = copy.deepcopy(BASE_SCENARIO)
    data["x-notes"] = [{f"k{i}": "v" * 100} for i in range(30_000)]
    text = pyyaml.safe_dump(data)
    assert 3e6 < len(text) < loading.MAX_DOCUMENT_BYTES
    parses = []
    real = loading.ScenarioLoader.get_single_node
    monkeypatch.setattr(loading.ScenarioLoader, "get_single_node",
                        lambda self: parses.append(1) or real(self))  # fmt: skip
    parse_scenario(text)
    assert parses == [1]
    if pyyaml.__with_libyaml__:
        assert issubclass(loading.ScenarioLoader, pyyaml.CSafeLoader)
    bad = text.replace("duration: 2s", "duration: 2")
    with pytest.raises(ScenarioError, match=r"s\.yaml:\d+: duration"):
        parse_scenario(bad, source="s.yaml")
    padded = text + "#" * (loading.MAX_DOCUMENT_BYTES - len(text) + 1)
    with pytest.raises(ScenarioError, match="a scenario is a few kilobytes"):
        parse_scenario(padded, source="s.yaml")


# --- from a hostile-user review: each of these once broke the contract --------------------


def base_file(tmp_path, **changes) -> Path:
    """The base scenario, with top-level changes, written to ``tmp_path/s.yaml``."""
    data = copy.deepcopy(BASE_SCENARIO)
    data.update(changes)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_disk_that_fills_during_the_run_is_exit_74_with_nothing_left(tmp_path):
    """The run's own output cannot be written (here: a file-size limit): one line, exit 74,
    no traceback, no staging and no claim that anything was written."""
    import subprocess
    import sys

    code = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000)); "
        "sys.argv = ['fleetsim', 'run', sys.argv[1], '--out', sys.argv[2], '--quiet']; "
        "from sim.cli import main; main()"
    )
    result = subprocess.run([sys.executable, "-c", code, str(ROOT / "scenarios" / "alexa.yaml"),
                             str(tmp_path / "out")], capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 74, result.stderr
    assert "could not write the run's output" in result.stderr
    assert "nothing was written" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "workload",
    [
        {"arrivals": {"kind": "poisson", "rate": 500}, "mix": [{"model": "bert-base",
         "seq_len": {"kind": "choice", "values": [64, 128], "weights": [1e308, 1e308]}}]},
        {"arrivals": {"kind": "mmpp", "rates": [100, 0], "mean_sojourn": ["1e300s", "1e300s"]},
         "mix": [{"model": "bert-base"}]},
        {"arrivals": {"kind": "poisson", "rate": 500},
         "mix": [{"model": "bert-base", "weight": 1e308}, {"model": "bert-base", "weight": 1e308}]},
    ],
    ids=["huge choice weights", "huge sojourns", "huge mix weights"],
)  # fmt: skip
def test_what_validate_accepts_runs(tmp_path, workload):
    """Scenarios ``validate`` accepted used to crash ``run`` (weights summing to infinity,
    a Poisson mean numpy cannot draw): they run."""
    path = base_file(tmp_path, workload=workload)
    assert invoke("validate", path).exit_code == 0
    result = invoke("run", path, "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "make",
    ["unknown user", "symlink loop", "fifo", "directory"],
)
def test_data_file_paths_that_cannot_be_read_are_named(tmp_path, make):
    """A data file under an unknown ``~user``, a symlink loop, a named pipe (which blocked
    forever) or a directory: exit 2 naming it."""
    import os

    name = {"unknown user": "~nosuchuser_fleetsim/m.csv"}.get(make, "m.csv")
    if make == "symlink loop":
        os.symlink("m.csv", tmp_path / "m.csv")
    elif make == "fifo":
        os.mkfifo(tmp_path / "m.csv")
    elif make == "directory":
        (tmp_path / "m.csv").mkdir()
    data = copy.deepcopy(BASE_SCENARIO)
    data["fleet"][0]["service"] = {"kind": "empirical", "path": name}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    result = fleetsim("validate", path, capture_output=True)
    assert result.returncode == 2, result.stderr
    assert "m.csv" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("make", ["symlink loop", "name too long", "inside a file"])
def test_output_paths_that_cannot_be_used_are_refused(tmp_path, make):
    """``--out`` at a symlink loop, with a 256-character name, or under a file: exit 2."""
    import os

    out = tmp_path / "out"
    if make == "symlink loop":
        os.symlink("out", out)
    elif make == "name too long":
        out = tmp_path / ("x" * 256)
    else:
        (tmp_path / "file").write_text("")
        out = tmp_path / "file" / "out"
    result = fleetsim("run", ROOT / "scenarios" / "alexa.yaml", "--out", out, "--duration",
                      "11s", "--quiet", capture_output=True)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_a_named_pipe_as_the_scenario_does_not_block(tmp_path):
    """A FIFO nobody writes to reads as an empty document (exit 2), instead of hanging; a
    scenario piped on standard input is read once, for validate and run alike."""
    import os
    import subprocess
    import sys

    os.mkfifo(tmp_path / "fifo.yaml")
    result = fleetsim("validate", tmp_path / "fifo.yaml", capture_output=True)
    assert result.returncode == 2
    text = (ROOT / "scenarios" / "alexa.yaml").read_text()
    for args in (
        ["validate", "/dev/stdin"],
        ["run", "/dev/stdin", "--out", str(tmp_path / "o"), "--duration", "11s"],
    ):
        run = subprocess.run([sys.executable, "-m", "sim", *args], input=text,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        assert run.returncode == 0, run.stderr


@pytest.mark.parametrize(
    ("path", "raw", "expect"),
    [
        (("fleet", 0, "count"), "010", 10),  # YAML 1.1: octal 8
        (("fleet", 0, "count"), "0o10", 8),
        (("seed",), "1:30", "seed"),  # YAML 1.1: 90
        (("fleet", 0, "count"), "1_0", "fleet[0].count"),  # YAML 1.1: 10
        (("fleet", 0, "sparsity"), "2:4", "fleet[0].sparsity"),  # YAML 1.1: 124
    ],
)
def test_numbers_are_yaml_1_2(path, raw, expect):
    """``010`` is ten, ``0o10`` eight; ``1:30`` and ``1_0`` are text (refused where a number is
    expected); ``sparsity: 2:4`` is the text 2:4 (here refused: inf2 has no sparsity)."""
    text = text_with(path, raw)
    if isinstance(expect, int):
        assert parse_scenario(text).fleet[0].count == expect
        return
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="s.yaml")
    assert expect in str(info.value) and "124" not in str(info.value)


def test_a_data_file_is_read_once(tmp_path):
    """A measured-service file is read when the scenario is loaded, and not again: changing
    it afterwards does not fail the run."""
    (tmp_path / "m.csv").write_text("service_s\n0.001\n0.002\n")
    data = copy.deepcopy(BASE_SCENARIO)
    data["fleet"][0]["service"] = {"kind": "empirical", "path": "m.csv"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    from sim.engine.api import prepare

    scenario, _ = prepare(path, duration="1s")
    (tmp_path / "m.csv").write_text("service_s\n-1\n")
    assert sim.run(scenario, tmp_path / "out").summary["completed"] > 0


def test_an_abandoned_lock_is_removed_only_while_held(tmp_path):
    """The clean-up deletes a lock file only while holding it: a held lock stays."""
    from sim.engine.locks import FileLock, remove_if_abandoned

    path = tmp_path / ".x.fleetsim-lock"
    lock = FileLock(path, "test").acquire()
    assert not remove_if_abandoned(path) and path.exists()
    lock.release()
    path.write_text("")
    assert remove_if_abandoned(path) and not path.exists()


def test_runaway_runs_are_refused_by_validate_too(tmp_path):
    """A run estimated to take longer than a month is refused, by validate as by run."""
    path = base_file(tmp_path, duration="10d",
                     workload={"arrivals": {"kind": "poisson", "rate": 1e9},
                               "mix": [{"model": "bert-base"}]})  # fmt: skip
    for args in (["validate", path], ["run", path, "--out", tmp_path / "o", "--trace",
                                      "summary"]):  # fmt: skip
        result = invoke(*args)
        assert result.exit_code == 2 and "this run would take" in result.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--seed", "-1"), "--seed"),
        (("--seed", "9223372036854775808"), "--seed"),
        (("--engine", "fast"), "--engine"),
        (("--sample-fraction", "half"), "--sample-fraction"),
    ],
)
def test_usage_errors_are_one_line(args, fragment):
    """Option errors caught by the command-line parser are one line (typer drew a box)."""
    result = fleetsim("run", ROOT / "scenarios" / "alexa.yaml", *args, capture_output=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0]


def test_stopped_runs_leave_no_directories_they_created(tmp_path):
    """SIGTERM on ``--out a/b/c``: exit 143, and neither a/ nor a/b/ is left."""
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "sim", "run",
                             str(ROOT / "scenarios" / "amazon_search.yaml"), "--out",
                             str(tmp_path / "a" / "b" / "c"), "--duration", "10m", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 60
    while not list((tmp_path / "a" / "b").glob(".fleetsim-staging-*")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"engine": "fast"}, "engine"),
        ({"replication": -1}, "replication"),
        ({"replication": 1.5}, "replication"),
        ({"force": "no"}, "force"),
        ({"trace": "sample", "sample_fraction": "0.5"}, "sample_fraction"),
        ({"seed": "x"}, "seed"),
        ({"processes": [print]}, "processes"),
    ],
)
def test_the_api_names_a_bad_argument(tmp_path, kwargs, name):
    """``sim.run`` with a bad argument raises a ScenarioError naming it; nothing is written
    (``processes`` that are not generator functions: a TypeError saying so)."""
    with pytest.raises((ScenarioError, TypeError)) as info:
        sim.run(ROOT / "scenarios" / "alexa.yaml", tmp_path / "out", duration="11s", **kwargs)
    assert name in str(info.value) or "generator function" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_selfcheck_only_finds_the_policy_check_by_its_shown_name(monkeypatch):
    """``--only JSQ`` picks the policy-order check, as its displayed name says."""
    from sim import selfcheck as sc

    monkeypatch.setattr(sc, "run_checks", lambda checks, workers, on_result: None)
    monkeypatch.setattr(sc, "policy_waits", lambda: {"jsq": 1.0, "p2": 2.0})
    result = invoke("selfcheck", "--profile", "fast", "--only", "JSQ")
    assert result.exit_code == 0 and "policy order" in result.output


@pytest.mark.parametrize("value", ["1_0", "١"])
def test_csv_numbers_are_plain_ascii_numbers(tmp_path, value):
    """``1_0`` and non-ASCII digits in a data file are refused, quoted as written."""
    import pandas as pd

    path = scenario_with_trace(tmp_path, pd.DataFrame({"arrival_s": ["0.5", value]}))
    result = invoke("validate", path)
    assert result.exit_code == 2 and repr(value) in result.output


def test_a_time_scale_that_overflows_is_refused(tmp_path):
    """``time_scale`` times a huge arrival is not a finite time: refused at that row."""
    import pandas as pd

    path = scenario_with_trace(tmp_path, pd.DataFrame({"arrival_s": [0.0, 1e300]}))
    data = yaml.safe_load(path.read_text())
    data["workload"]["arrivals"]["time_scale"] = 1e10
    path.write_text(yaml.safe_dump(data))
    result = invoke("validate", path)
    assert result.exit_code == 2 and "data row 2" in result.output
