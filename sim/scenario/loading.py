"""Load a scenario file: YAML -> frozen ``Scenario``, with errors that name field, value, line.

Validation happens in two stages. Pydantic checks shapes, types and ranges; then
``check_references`` checks what pydantic cannot see: instance types and models that must
exist in the hardware catalog, memory fit, dtype support, and run-length consistency.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.scenario.checks import check_references
from sim.scenario.errors import ScenarioError, format_path
from sim.scenario.problems import validation_problems
from sim.scenario.schema import Scenario
from sim.scenario.yaml_text import MAX_DOCUMENT_BYTES, LineMap, line_map, line_of, parse_yaml


def parse_scenario(
    text: str, source: str | None = None, base_dir: str | Path | None = None
) -> Scenario:
    """Validate scenario YAML text into a ``Scenario``.

    Args:
        text: The YAML document.
        source: A file name used in error messages.
        base_dir: Directory that relative data-file paths in the scenario start from
            (default: the current directory).

    Raises:
        ScenarioError: the document is not valid YAML or not a valid, runnable scenario.

    """
    data, lines = scenario_data(text, source)
    return validate_scenario(data, lines, source, base_dir)


def scenario_data(text: str, source: str | None = None) -> tuple[dict[str, Any], LineMap]:
    """A scenario document as plain data (``x-`` keys left out), and the line of each key.

    Raises:
        ScenarioError: too large, not valid YAML, not a mapping, or a key written twice.

    """
    if len(text) > MAX_DOCUMENT_BYTES:
        raise ScenarioError.single(
            "<file>",
            f"the document has {len(text):,} characters; a scenario is a few kilobytes (at most "
            f"{MAX_DOCUMENT_BYTES:,}): put request data in a trace file (arrivals: "
            "{kind: trace, path: ...})",
            source=source,
        )
    root, data = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ScenarioError.single(
            "<scenario>",
            f"expected a mapping of keys (name, seed, workload, fleet, ...), got {data!r}",
            1,
            source,
        )
    # top-level keys starting with "x-" hold YAML anchors for reuse (as in compose files)
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    lines, duplicates = line_map(root)
    if duplicates:
        raise ScenarioError(
            [(format_path(p), "key appears twice in one mapping", line) for p, line in duplicates],
            source,
        )
    return data, lines


def validate_scenario(
    data: dict[str, Any],
    lines: LineMap | None = None,
    source: str | None = None,
    base_dir: str | Path | None = None,
) -> Scenario:
    """Validate scenario data (as ``scenario_data`` gives it) into a ``Scenario``.

    Args:
        data: The scenario as plain data.
        lines: The line of each key, for messages (none: messages carry no line).
        source: A file name used in messages.
        base_dir: Directory that relative data-file paths start from.

    Raises:
        ScenarioError: not a valid, runnable scenario.

    """
    lines = lines or {}
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, data, lines), source) from None
    problems = check_references(scenario)
    if problems:
        raise ScenarioError(
            [(format_path(path), message, line_of(lines, path)) for path, message in problems],
            source,
        )
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file.

    Raises:
        ScenarioError: the file cannot be read, or is not a valid scenario.

    """
    return parse_scenario(read_scenario_text(path), source=str(path), base_dir=Path(path).parent)


def read_scenario_text(path: str | Path) -> str:
    """A scenario file's text, read once (``/dev/stdin`` and pipes work), capped in size.

    A named pipe nobody writes to reads as empty instead of blocking forever.

    Raises:
        ScenarioError: the file cannot be read, or is not UTF-8 text.

    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO with no writer: no block
        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)  # then read as usual
            with os.fdopen(fd, "rb", closefd=False) as file:
                raw = file.read(MAX_DOCUMENT_BYTES + 1)  # at most one byte over the cap
        finally:
            os.close(fd)
        return raw.decode("utf-8")
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, UnicodeDecodeError):
            reason = f"not UTF-8 text (byte {exc.start + 1})"
        raise ScenarioError.single(
            "<file>", f"cannot read the file: {reason}", source=str(path)
        ) from None


def with_overrides(
    scenario: Scenario,
    duration_s: float | None = None,
    seed: int | None = None,
    source: str = "run",
) -> Scenario:
    """A copy of ``scenario`` with a new duration (s) and/or seed, validated again.

    The parts that do not change are reused as they are (a replayed trace is not read
    again), and problems are reported under ``source``, by field (``duration``, ``seed``).

    Raises:
        ScenarioError: the overridden scenario is not valid (e.g. warmup >= duration).

    """
    data: dict[str, Any] = scenario.model_dump(mode="json")
    data["workload"] = scenario.workload  # validated objects: their data files are not read
    data["fleet"] = list(scenario.fleet)  # again (and cannot have changed meanwhile)
    if duration_s is not None:
        data["duration"] = f"{duration_s!r}s"
    if seed is not None:
        data["seed"] = seed
    try:
        result = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, data, {}), source) from None
    problems = check_references(result)
    if problems:
        raise ScenarioError(
            [(format_path(path), message, None) for path, message in problems], source
        )
    return result
