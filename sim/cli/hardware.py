"""``fleetsim hardware``: throughput, cost and energy tables from the hardware model.

Thin typer commands over :mod:`hardware.planning.cost_tables`. Bad input (unknown model or
instance, bad dtype, sequence length, cores or batch sizes) is an error naming the option and the
value, exit code 2, no traceback.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from hardware import STACKS, catalog, zoo
from hardware.catalog import InstanceType
from hardware.catalog.dtypes import DTYPES
from hardware.catalog.power import UNAVAILABLE, chip_power
from hardware.models.workload import ModelSpec
from hardware.planning import cost_tables
from hardware.planning.capacity import AUTO_DTYPE, resolve_dtype
from sim.cli import consoles
from sim.scenario.base import did_you_mean
from sim.scenario.units import DURATION_HELP, parse_duration_s

if TYPE_CHECKING:  # pandas is imported where it is used: runs never need it
    import pandas as pd

app = typer.Typer(
    name="hardware",
    help="Service time, throughput, $ per million inferences and inferences per joule.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ModelOption = Annotated[
    str, typer.Option("--model", help="Zoo model, e.g. bert-base, resnet-50.", show_default=False)
]
SeqLenOption = Annotated[
    int | None,
    typer.Option(
        "--seq-len",
        help="Tokens per sequence (image side in px for CNNs and ViTs; audio in ms for speech).",
    ),
]
DtypeOption = Annotated[
    str,
    typer.Option(
        "--dtype",
        help=f"{AUTO_DTYPE} (each instance's natural dtype: bf16 on NeuronCores, fp16 on GPUs) "
        f"or one of {', '.join(DTYPES)}.",
    ),
]
CsvOption = Annotated[bool, typer.Option("--csv", help="Print the full table as CSV.")]
StackOption = Annotated[
    str,
    typer.Option(
        "--stack",
        help="GPU serving stack: auto (the best published: tensorrt) or one of "
        f"{', '.join(STACKS)}.",
    ),
]


MAX_BATCH = 4096  # as a scenario's batching.max_batch


def _console() -> Console:
    return consoles.stdout(width=None if sys.stdout.isatty() else 200, highlight=False)


def _fail(option: str, message: str) -> typer.Exit:
    return consoles.fail(f"{option}: {message}")


def _model(name: str) -> ModelSpec:
    try:
        return zoo.model(name)
    except KeyError:
        names = zoo.model_names()
        raise _fail(
            "--model",
            f"unknown model {name!r}{did_you_mean(name, names)}; known: {', '.join(names)}",
        ) from None


def _instance(name: str) -> InstanceType:
    try:
        return catalog.instance_type(name)
    except KeyError:
        names = catalog.instance_type_names()
        raise _fail(
            "--instance",
            f"unknown instance type {name!r}{did_you_mean(name, names)}; known: {', '.join(names)}",
        ) from None


def _one_of(option: str, kind: str, value: str, choices: tuple[str, ...]) -> None:
    """Refuse ``value`` unless it is one of ``choices``, with a did-you-mean."""
    if value not in choices:
        raise _fail(
            option, f"unknown {kind} {value!r}{did_you_mean(value, choices)}; "
            f"expected one of {', '.join(choices)}",
        )  # fmt: skip


def _dtype(dtype: str, inst: InstanceType | None = None) -> str:
    """``dtype`` checked (resolved on ``inst`` when one is given)."""
    _one_of("--dtype", "dtype", dtype, (AUTO_DTYPE, *DTYPES))
    if inst is None:
        return dtype
    dtype = resolve_dtype(inst, dtype)
    if not inst.chip.supports(dtype):
        allowed = ", ".join(d for d in DTYPES if inst.chip.supports(d))
        raise _fail(
            "--dtype",
            f"{inst.name} ({inst.chip.name}) does not run {dtype!r}; supported: {allowed}",
        )
    return dtype


def _stack(stack: str, inst: InstanceType | None = None) -> str | None:
    """``stack`` checked: None for ``auto``; a named stack only for a GPU ``inst``."""
    _one_of("--stack", "stack", stack, (AUTO_DTYPE, *STACKS))
    if stack == AUTO_DTYPE:
        return None
    if inst is not None and not inst.chip.is_gpu:
        raise _fail(
            "--stack",
            f"{stack!r} is a GPU serving stack; {inst.name} ({inst.chip.name}) runs the Neuron "
            "compiler (use auto)",
        )
    return stack


def _seq_len(spec: ModelSpec, seq_len: int | None) -> int:
    if seq_len is None:
        return spec.default_seq_len
    if not spec.min_seq_len <= seq_len <= spec.max_seq_len:
        raise _fail(
            "--seq-len",
            f"{spec.name} accepts {spec.min_seq_len}..{spec.max_seq_len}, got {seq_len}",
        )
    return seq_len


def _batch_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1 or max(sizes) > MAX_BATCH:
        raise _fail(
            "--batch-sizes", f"expected whole numbers 1..{MAX_BATCH} such as 1,2,4,8; got {text!r}"
        )
    return sizes


def _number(value: float, digits: int) -> str:
    return "-" if not np.isfinite(value) else f"{value:,.{digits}f}"


def _note(row: pd.Series) -> str:
    notes = ["PROJECTED"] if row.projected else []
    if not row.fits:
        notes.append("does not fit")
    if row.power_basis in ("estimate", "projected"):
        notes.append(f"power {row.power_basis}")
    elif row.power_basis == UNAVAILABLE:
        notes.append("inf/J n/a: no power figure")
    return ", ".join(notes)


def _power_footer(instances: list[InstanceType]) -> str:
    seen: dict[str, str] = {}
    for inst in instances:
        try:
            p = chip_power(inst.chip.name)
        except KeyError:
            continue
        if p.watts is None:
            seen[inst.chip.name] = f"{inst.chip.name} not available ({p.summary})"
        else:
            seen[inst.chip.name] = f"{inst.chip.name} {p.watts:g} W ({p.basis})"
    return "power per chip, accelerators only: " + "; ".join(seen.values())


@app.command("table")
def table_command(
    instance: Annotated[str, typer.Option("--instance", help="Instance type, e.g. inf2.xlarge.")],
    model: ModelOption,
    seq_len: SeqLenOption = None,
    dtype: DtypeOption = AUTO_DTYPE,
    stack: StackOption = AUTO_DTYPE,
    cores: Annotated[int, typer.Option("--cores", help="Cores per replica (1 on GPUs).")] = 1,
    batch_sizes: Annotated[
        str, typer.Option("--batch-sizes", help="Comma-separated batch sizes.")
    ] = "1,2,4,8,16,32",
    csv: CsvOption = False,
) -> None:
    """Per batch size: service time, throughput, $ per million inferences, inferences/J."""
    inst = _instance(instance)
    spec = _model(model)
    dtype = _dtype(dtype, inst)
    run_stack = _stack(stack, inst)
    seq = _seq_len(spec, seq_len)
    if inst.cores == 1 and cores != 1:
        raise _fail("--cores", f"a replica owns the single GPU of {inst.name}: use 1, not {cores}")
    if not 1 <= cores <= inst.cores or inst.cores % cores:
        raise _fail("--cores", f"must divide the {inst.cores} cores of {inst.name}, got {cores}")
    rows = cost_tables.table(
        spec, inst, seq, dtype, cores, _batch_sizes(batch_sizes), stack=run_stack
    )
    out = _console()
    if csv:
        out.print(rows.to_csv(index=False), end="", soft_wrap=True)
        return
    title = (
        f"{spec.name}, {seq} {spec.seq_len_unit}, {dtype} on {inst.name} "
        f"({rows['stack'].iloc[0]}): "
        f"{rows.replicas.iloc[0]} replica(s) of {cores} core(s), full load"
    )
    grid = Table(title=title)
    for header in ("batch", "service ms", "inf/s replica", "inf/s instance", "$/M inf", "inf/J"):
        grid.add_column(header, justify="right")
    grid.add_column("note")
    for _, r in rows.iterrows():
        grid.add_row(
            str(r.batch_size),
            _number(1e3 * r.service_time_s, 3),
            _number(r.replica_throughput_per_s, 1),
            _number(r.instance_throughput_per_s, 1),
            _number(r.usd_per_million, 4),
            _number(r.inferences_per_j, 2),
            _note(r),
        )
    out.print(grid)
    out.print(f"${inst.usd_per_hour:g}/h On-Demand {inst.region}; {_power_footer([inst])}")
    if inst.projected:
        out.print("PROJECTED: inf3 performance and price are projections, not published.")
    if spec.kind in zoo.PREDICTION_ONLY_KINDS:
        out.print(
            f"ARCHITECTURE PREDICTION: no published {spec.kind} benchmark row in the calibration "
            f"data; {spec.name}'s service times are not validated."
        )


def _duration_s(option: str, text: str) -> float:
    try:
        return parse_duration_s(text)
    except ValueError as exc:
        raise _fail(option, str(exc)) from None


@app.command("compare")
def compare_command(
    model: ModelOption,
    seq_len: SeqLenOption = None,
    dtype: DtypeOption = AUTO_DTYPE,
    stack: StackOption = AUTO_DTYPE,
    max_batch: Annotated[
        int, typer.Option("--max-batch", min=1, max=MAX_BATCH, help="Largest batch size tried.")
    ] = 32,
    latency_budget: Annotated[
        str | None,
        typer.Option(
            "--latency-budget",
            help="Longest a request may take: max-wait + pipeline depth x service time of its "
            f"batch; {DURATION_HELP}.",
        ),
    ] = None,
    max_wait: Annotated[
        str,
        typer.Option(
            "--max-wait",
            help="Longest a request waits for its batch to fill (batching max_wait); "
            f"{DURATION_HELP}.",
        ),
    ] = "0ms",
    csv: CsvOption = False,
) -> None:
    """Every instance type at its cheapest layout and batch size, sorted by $ per million."""
    spec = _model(model)
    _dtype(dtype)
    run_stack = _stack(stack)
    seq = _seq_len(spec, seq_len)
    budget_s = None
    if latency_budget is not None:
        budget_s = _duration_s("--latency-budget", latency_budget)
        if budget_s <= 0:
            raise _fail("--latency-budget", f"must be > 0, got {latency_budget!r}")
    wait_s = _duration_s("--max-wait", max_wait)
    result = cost_tables.compare(
        spec, seq, dtype, max_batch, budget_s, max_wait_s=wait_s, stack=run_stack
    )
    out = _console()
    if csv:
        out.print(result.best.to_csv(index=False), end="", soft_wrap=True)
        return
    precision = "natural dtype per instance" if dtype == AUTO_DTYPE else dtype
    wait = f"max wait {1e3 * wait_s:g} ms"
    budget = "" if budget_s is None else f", request latency <= {1e3 * budget_s:g} ms"
    grid = Table(
        title=f"{spec.name}, {seq} {spec.seq_len_unit}, {precision}: "
        f"full load, cheapest cores per replica and batch <= {max_batch}, {wait}{budget}"
    )
    headers = (
        "instance", "dtype", "stack", "cores/replica", "batch", "service ms", "latency ms",
        "inf/s", "$/h", "$/M inf", "inf/J",
    )  # fmt: skip
    for header in headers:
        left = header in ("instance", "dtype", "stack")
        grid.add_column(header, justify="left" if left else "right")
    grid.add_column("note")
    for _, r in result.best.iterrows():
        grid.add_row(
            r.instance,
            r["dtype"],  # r.dtype is the Series dtype
            r["stack"],  # r.stack is DataFrame.stack
            str(r.cores),
            str(r.batch_size),
            _number(1e3 * r.service_time_s, 3),
            _number(1e3 * r.request_latency_s, 3),
            _number(r.instance_throughput_per_s, 1),
            _number(r.usd_per_hour, 4),
            _number(r.usd_per_million, 4),
            _number(r.inferences_per_j, 2),
            _note(r),
        )
    out.print(grid)
    out.print(
        "latency = max wait + pipeline depth (cores/replica) x service time, with no queueing. "
        "Fleet size at a load and an SLO: fleetsim plan SCENARIO --instances "
        f"{','.join(result.cheapest_by_family())}",
        soft_wrap=True,
    )
    for _, s in result.skipped.iterrows():
        out.print(f"skipped {s.instance}: {s.reason}", soft_wrap=True)
    insts = [catalog.instance_type(name) for name in result.best.instance]
    out.print(f"On-Demand us-east-1 prices; {_power_footer(insts)}", soft_wrap=True)
    if result.best.projected.any():
        out.print("PROJECTED rows (inf3): performance and price are projections.")
