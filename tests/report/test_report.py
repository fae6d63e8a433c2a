"""fleetsim report: a well-formed, self-contained page; labelled plots; streamed aggregates
equal to the trace; clear errors. Budget: about 10 s with the compiled kernel, 25 s without.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import shutil
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from helpers import BASE_SCENARIO, ROOT
from typer.testing import CliRunner

import analysis
from analysis.estimates import DEFAULT_BATCHES
from analysis.report import build_report, figures
from analysis.report.aggregates import EDGES_S, TraceAggregates
from analysis.report.formatting import number
from analysis.report.html import render_block
from analysis.report.inputs import resolve
from analysis.report.pages import run_intervals, summary_table
from analysis.report.paired import paired_tables
from analysis.report.sweep_page import plotted_fields, point_summary
from sim.cli.commands import app

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
UNIT = re.compile(r"\([^()]*\S[^()]*\)")


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def write_scenario(path, instance, name):
    data = copy.deepcopy(BASE_SCENARIO)
    data["name"] = name
    data["fleet"][0]["instance"] = instance
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """alexa (11 s: 1 s measured), a projected inf3 run, an inf1 run on the same arrivals, an
    inf2 run without a trace, and a
    sweep of 2 counts x 2 replications without traces."""
    root = tmp_path_factory.mktemp("report")
    runs = {k: root / k for k in ("alexa", "inf3", "inf1", "inf2")}
    result = invoke("run", ROOT / "scenarios" / "alexa.yaml", "--out", runs["alexa"],
                    "--duration", "11s", "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    scenario = write_scenario(root / "inf3.yaml", "inf3.xlarge", "inf3")
    assert invoke("run", scenario, "--out", runs["inf3"], "--quiet").exit_code == 0
    scenario = write_scenario(root / "inf1.yaml", "inf1.xlarge", "inf1")
    assert invoke("run", scenario, "--out", runs["inf1"], "--quiet").exit_code == 0
    scenario = write_scenario(root / "inf2.yaml", "inf2.xlarge", "inf2")
    result = invoke("run", scenario, "--out", runs["inf2"], "--quiet", "--trace", "summary")
    assert result.exit_code == 0, result.output
    (root / "base.yaml").write_text(yaml.safe_dump(BASE_SCENARIO, sort_keys=False))
    sweep = {"name": "tiny", "base": "base.yaml", "replications": 2, "trace": "summary",
             "axes": [{"grid": {"fleet.0.count": [1, 2]}}]}  # fmt: skip
    (root / "sweep.yaml").write_text(yaml.safe_dump(sweep, sort_keys=False))
    result = invoke("sweep", root / "sweep.yaml", "--out", root / "sweep", "--serial", "--quiet")
    assert result.exit_code == 0, result.output
    return {**runs, "sweep": root / "sweep", "root": root}


class Checker(HTMLParser):
    """Records problems: unclosed or misnested tags, and what a self-contained page lacks."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.problems, self.images, self.tags = [], [], [], []
        self.html_lang = None
        self.metas = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.html_lang = attrs.get("lang")
        if tag == "meta":
            self.metas.append(attrs)
        if tag == "img":
            self.images.append(attrs)
        for name in ("src", "href"):
            if re.match(r"\s*(https?:)?//", attrs.get(name) or ""):
                self.problems.append(f"network {name} {attrs[name][:60]}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "style" and re.search(r"@import|url\(", data):
            self.problems.append("style refers to another resource")


def check_page(text):
    """The page's problems (empty if none) and its images."""
    checker = Checker()
    checker.feed(text)
    checker.close()
    problems = checker.problems + [f"unclosed <{t}>" for t in checker.stack]
    for tag in ("html", "head", "body", "title"):
        if checker.tags.count(tag) != 1:
            problems.append(f"{checker.tags.count(tag)} <{tag}> elements")
    if not text.startswith("<!DOCTYPE html>") or not checker.html_lang:
        problems.append("no doctype or no lang attribute")
    if not any(m.get("charset", "").lower() == "utf-8" for m in checker.metas):
        problems.append("no meta charset")
    if not any(m.get("name") == "viewport" for m in checker.metas):
        problems.append("no meta viewport")
    if re.search(r"<script|@import|url\(|https?://", text):
        problems.append("a script or a network reference")
    return problems, checker.images


def decode_png(src):
    assert src.startswith("data:image/png;base64,"), src[:40]
    data = base64.b64decode(src.split(",", 1)[1], validate=True)
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    return data


def test_the_page_is_well_formed_self_contained_and_matches_the_pngs(outputs, tmp_path):
    """Runs and a sweep in one page: valid HTML, no network references, every image a PNG
    data URI with alt text, --png writes the same plots as files."""
    out, png = tmp_path / "r.html", tmp_path / "plots"
    paths = [outputs[k] for k in ("alexa", "inf3", "inf1", "inf2", "sweep")]
    result = invoke("report", *paths, "-o", out, "--png", png)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    text = out.read_text(encoding="utf-8")
    problems, images = check_page(text)
    assert problems == []
    embedded = [decode_png(img["src"]) for img in images]
    assert all(img.get("alt", "").strip() for img in images)
    files = sorted(png.glob("*.png"))
    assert len(files) == len(images) == 9  # runs: 5 + latency over time x 3; sweep: 1
    assert sorted(f.read_bytes() for f in files) == sorted(embedded)
    assert [f for f in tmp_path.rglob("*") if f.name.startswith(".")] == []  # no temp files
    for expected in ("PROJECTED", "ran with trace: summary", "Sweep: tiny", "fleet.0.count"):
        assert expected in text


def test_runs_are_compared_in_one_table_with_intervals(outputs):
    """One column per run; the projected run is flagged; traced runs show intervals."""
    runs = resolve([outputs["alexa"], outputs["inf3"], outputs["inf2"]])
    table = summary_table(runs, {r.label: run_intervals(r) for r in runs})
    page = render_block(table)
    header = re.search(r"<thead>(.*?)</thead>", page).group(1)
    assert re.findall(r"<th[^>]*>([^<]*)</th>", header)[1:] == ["alexa", "inf3 (PROJECTED)",
                                                                 "inf2"]  # fmt: skip
    p99_ms = [number(json.loads((outputs[k] / "summary.json").read_text())["latency_p99_s"] * 1e3)
              for k in ("alexa", "inf3", "inf2")]  # fmt: skip
    p99 = re.search(r"latency p99</th><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>",
                    page)  # fmt: skip
    assert p99 is not None
    assert p99.group(1) == p99_ms[0] + " ms †"  # 1 s measured: too few requests for an interval
    assert p99.group(2) == p99_ms[1] + " ms †"
    assert p99.group(3) == p99_ms[2] + " ms"  # no trace: the point estimate alone
    p50 = re.search(r"latency p50</th><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>",
                    page)  # fmt: skip
    assert " [" in p50.group(1) and " [" in p50.group(2) and " [" not in p50.group(3)
    assert f"by batch means over {DEFAULT_BATCHES} windows of arrival time" in table.caption


def test_a_trace_path_is_accepted_and_summarised(outputs, tmp_path):
    """A requests.parquet without its summary.json: the summary is computed from it."""
    lone = tmp_path / "copy.parquet"
    shutil.copy(outputs["alexa"] / "requests.parquet", lone)
    report = build_report([lone])
    summary = json.loads((outputs["alexa"] / "summary.json").read_text())
    assert f"{summary['completed']:,}" in report.html
    assert len(report.plots) == 6


def test_streamed_aggregates_equal_the_trace(outputs, tmp_path):
    """Read in many row groups, the CDF at every bin edge, the zero waits and the batch shares
    equal what pandas computes from the whole trace."""
    path = tmp_path / "requests.parquet"
    pq.write_table(pq.read_table(outputs["alexa"] / "requests.parquet"), path,
                   row_group_size=1000)  # fmt: skip
    assert pq.ParquetFile(path).num_row_groups > 10
    agg = TraceAggregates.from_trace(path)
    df = analysis.load_trace(path)
    measured = df[~df["warmup"]]
    done = measured[measured["status"] == "ok"]
    edges, cdf = agg.latency_cdf()
    expected = [(done["latency_s"] <= e).mean() for e in edges]
    np.testing.assert_allclose(cdf, expected, atol=1e-12)
    assert set(edges) <= set(EDGES_S) and cdf[-1] == 1.0
    edges, cdf, zero = agg.queue_wait_cdf()
    started = measured["queue_s"].dropna()
    assert zero == (started == 0).mean()
    np.testing.assert_allclose(cdf, [(started <= e).mean() for e in edges], atol=1e-12)
    sizes, shares = agg.batch_shares()
    batches = done.groupby("batch_size").size() / done.groupby("batch_size").size().index
    np.testing.assert_allclose(shares, (batches / batches.sum()).loc[sizes].to_numpy())


def test_runs_on_the_same_arrivals_are_compared_in_pairs(outputs):
    """inf1 shares inf3's seed and workload: a table of its differences from inf3, equal
    to analysis.paired_comparison; alexa shares arrivals with neither: no table for it."""
    runs = resolve([outputs["alexa"], outputs["inf3"], outputs["inf1"], outputs["inf2"]])
    (table,) = paired_tables(runs)
    assert table.columns == ["", "inf1"] and "from inf3" in table.caption
    expected = analysis.paired_comparison(outputs["inf3"], outputs["inf1"]).set_index("metric")
    p99 = expected.loc["latency_p99_s"]
    assert table.rows[0][0] == "p99 latency (ms)"
    assert table.rows[0][1].startswith(number(p99["difference"] * 1e3))
    assert f"(x{p99['ratio']:.4g})" in table.rows[0][1]


def test_the_sweep_section_summarises_each_point(outputs):
    """One table row per point, with the replications' mean and interval; one plot per
    varied field that has more than one value."""
    rows = analysis.load_sweep(outputs["sweep"])
    points = point_summary(rows, ["fleet.0.count"])
    assert list(points["fleet.0.count"]) == [1, 2] and list(points["replications"]) == [2, 2]
    for count, point in points.set_index("fleet.0.count").iterrows():
        p99 = rows.loc[rows["fleet.0.count"] == count, "latency_p99_s"]
        assert point["latency_p99_s_mean"] == pytest.approx(p99.mean(), rel=1e-12)
        assert point["latency_p99_s_low"] <= p99.mean() <= point["latency_p99_s_high"]
    report = build_report([outputs["sweep"]])
    assert len(report.plots) == 1 and report.html.count("<tr>") == 1 + 2


def test_a_field_determined_by_another_gets_no_plot():
    """A plan varies dtype with the instance type: only instance and count are plotted."""
    points = pd.DataFrame({"fleet.0.instance": ["a", "a", "b", "b"],
                           "fleet.0.dtype": ["bf16", "bf16", "fp16", "fp16"],
                           "fleet.0.cores_per_replica": ["auto"] * 4,
                           "fleet.0.count": [1, 2, 1, 3]})  # fmt: skip
    assert plotted_fields(points, list(points.columns)) == ["fleet.0.instance", "fleet.0.count"]


def axes_problems(fig):
    """Axes without a title, an x or y label with a unit in parentheses, or a legend (their
    own or the figure's) when they show several series."""
    problems = []
    for ax in fig.axes:
        for name, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel())):
            if not UNIT.search(label):
                problems.append(f"{ax.get_title()!r}: {name} label {label!r} has no unit")
        if ax.xaxis.get_visible() and not ax.get_title().strip():
            problems.append(f"axes with labels {ax.get_xlabel()!r} has no title")
        series = [h for h in ax.get_legend_handles_labels()[1] if not h.startswith("_")]
        if len(series) > 1 and ax.get_legend() is None and not fig.legends:
            problems.append(f"{ax.get_title()!r}: {len(series)} series, no legend")
    return problems


def test_every_figure_has_titles_labels_with_units_and_legends():
    """Each figure function, on two series, labels every axes with units."""
    cdf = (EDGES_S[1000:1010], np.linspace(0.1, 1, 10))
    two = {"a": cdf, "b (PROJECTED)": cdf}
    series = pd.DataFrame({"window_start_s": [0.0, 1.0], "window_end_s": [1.0, 2.0],
                           "latency_p50_s": [0.01, 0.011], "latency_p99_s": [0.02, 0.03],
                           "arrival_rate_per_s": [100.0, 120.0]})  # fmt: skip
    pools = pd.DataFrame({"run": ["a", "b"], "pool": ["p", "q"], "instance_type": ["x", "y"],
                          "count": [1, 2], "projected": [False, True], "utilisation": [0.5, 0.7],
                          "host_utilisation": [0.1, 0.2], "cost_usd": [0.1, 0.4]})  # fmt: skip
    points = pd.DataFrame({"count": [1, 2, 1, 2], "kind": ["u", "u", "v", "v"],
                           "m_mean": [1.0, 2, 3, 4], "m_low": [0.5, 1, 2, 3],
                           "m_high": [1.5, 3, 4, 5]})  # fmt: skip
    made = [
        figures.latency_cdf(two, {"a": (0.01, 99.0)}),
        figures.latency_over_time(series, 0.5, "a"),
        figures.batch_sizes(
            {"a": (np.array([1, 2]), np.array([0.4, 0.6])), "b": (np.array([4]), np.array([1.0]))}
        ),  # fmt: skip
        figures.queue_waits({k: (*v, 0.1) for k, v in two.items()}),
        figures.utilisation(pools),
        figures.cost(pools, {"a": 0.5, "b": 1.5}),
        figures.sweep_metric(
            points, "count", "count (instances)", "kind", [("m", "metric (ms)", 1.0)], 0.002
        ),  # fmt: skip
        figures.sweep_metric(points, "kind", "kind (name)", None, [("m", "metric (USD)", 1.0)]),
    ]
    for fig in made:
        assert axes_problems(fig) == []
        assert figures.png_bytes(fig).startswith(PNG_SIGNATURE)


def test_bad_arguments_exit_2_naming_the_argument_and_writing_nothing(outputs, tmp_path):
    """Missing path, not a run, unreadable parquet, missing output directory: exit 2, one
    line naming the argument and the value, no traceback, no file."""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "requests.parquet").write_bytes(b"not parquet at all")
    empty = tmp_path / "empty"
    empty.mkdir()
    good = outputs["alexa"]
    out = tmp_path / "r.html"
    cases = [
        ([tmp_path / "nowhere", "-o", out], "RUN_DIR", "nowhere"),
        ([empty, "-o", out], "RUN_DIR", "not a run directory"),
        ([good, broken, "-o", out], "RUN_DIR", "unreadable parquet"),
        ([good, "-o", tmp_path / "no" / "r.html"], "-o", "does not exist"),
        ([good, "-o", out, "--png", tmp_path / "no" / "pngs"], "--png", "neither"),
    ]
    for args, argument, words in cases:
        result = invoke("report", *args)
        assert result.exit_code == 2, (args, result.output)
        assert argument in result.output and words in result.output, result.output
        assert "Traceback" not in result.output
        assert not out.exists() and not (tmp_path / "no").exists()
