"""Load a scenario file: YAML -> frozen ``Scenario``, with errors that name field, value, line.

Validation happens in two stages. Pydantic checks shapes, types and ranges; then
``check_references`` checks what pydantic cannot see: instance types and models that must
exist in the hardware catalog, memory fit, dtype support, and run-length consistency.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.errors import ScenarioError, format_path
from sim.scenario import Scenario
from sim.semantics import check_references

LineMap = dict[tuple[str | int, ...], int]


def _line_map(text: str) -> tuple[LineMap, list[tuple[tuple[str | int, ...], int]]]:
    """Map every key path of a YAML document to its 1-based line number.

    Returns:
        The map, and every (path, line) of a key that repeats an earlier key of the same
        mapping (``yaml.safe_load`` would silently keep the last one).

    """
    lines: LineMap = {}
    duplicates: list[tuple[tuple[str | int, ...], int]] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines, duplicates

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, value_node in node.value:
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in seen:
                    duplicates.append(((*path, key), line))
                seen.add(key)
                walk(value_node, (*path, key))
                lines[(*path, key)] = line
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    if root is not None:
        walk(root, ())
    return lines, duplicates


def line_of(lines: LineMap, path: tuple[str | int, ...]) -> int | None:
    """The line of the deepest prefix of ``path`` present in the document."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[str | int, ...]:
    """Map pydantic's error ``loc`` onto the user's data, dropping union-tag elements.

    For a discriminated union pydantic inserts the tag (``'poisson'``) into the location; it
    is recognised as the ``kind`` value of the mapping it stands in.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and part == node.get("kind"):
            continue  # union tag, not a key
        path.append(part)
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(path)


def _describe(error: dict[str, Any]) -> str:
    """Turn one pydantic error into a plain sentence that includes the offending value."""
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required key is missing"
    if kind in ("unknown_key", "duration"):
        return error["msg"]
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "union_tag_invalid":
        return f"unknown kind {ctx.get('tag')!r}; allowed kinds: {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"'kind' is required here; allowed kinds: {_kinds_hint(error)}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {
            "greater_than": "> {gt}",
            "greater_than_equal": ">= {ge}",
            "less_than": "< {lt}",
            "less_than_equal": "<= {le}",
        }[kind].format(**ctx)
        return f"must be {op}, got {value!r}"
    if kind == "literal_error":
        return f"got {value!r}; allowed: {ctx.get('expected')}"
    if kind == "enum":
        return f"got {value!r}; allowed: {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return (
            f"got {value!r}; use letters, digits, '_', '-' and '.', starting with a letter or digit"
        )
    if kind == "too_short":
        return f"must not be empty, got {value!r}"
    return f"{error['msg'].rstrip('.')}, got {value!r}"


def _kinds_hint(error: dict[str, Any]) -> str:
    return str((error.get("ctx") or {}).get("expected_tags", "see the README"))


def validation_problems(
    exc: ValidationError, data: Any, lines: LineMap
) -> list[tuple[str, str, int | None]]:
    """Turn a pydantic ValidationError into (path, message, line) problems, deduplicated."""
    problems: list[tuple[str, str, int | None]] = []
    seen = set()
    for error in exc.errors():
        path = _data_path(tuple(error["loc"]), data)
        ctx = error.get("ctx") or {}
        if error["type"] == "unknown_key":
            path = (*path, ctx["key"])
        item = (format_path(path), _describe(error), line_of(lines, path))
        if item not in seen:
            seen.add(item)
            problems.append(item)
    return problems


def parse_scenario(text: str, source: str | None = None) -> Scenario:
    """Validate scenario YAML text into a ``Scenario``.

    Args:
        text: The YAML document.
        source: A file name used in error messages.

    Raises:
        ScenarioError: the document is not valid YAML or not a valid, runnable scenario.

    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError.single("<yaml>", f"malformed YAML: {problem}", line, source) from None
    if not isinstance(data, dict):
        raise ScenarioError.single(
            "<scenario>",
            f"expected a mapping of keys (name, seed, workload, fleet, ...), got {data!r}",
            1,
            source,
        )
    lines, duplicates = _line_map(text)
    if duplicates:
        raise ScenarioError(
            [(format_path(p), "key appears twice in one mapping", line) for p, line in duplicates],
            source,
        )
    try:
        scenario = Scenario.model_validate(data)
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
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError.single(
            "<file>", f"cannot read the file: {exc.strerror}", source=str(path)
        ) from None
    except UnicodeDecodeError:
        raise ScenarioError.single("<file>", "not UTF-8 text", source=str(path)) from None
    return parse_scenario(text, source=str(path))


def with_overrides(
    scenario: Scenario, duration_s: float | None = None, seed: int | None = None
) -> Scenario:
    """A copy of ``scenario`` with a new duration (s) and/or seed, validated again.

    Raises:
        ScenarioError: the overridden scenario is not valid (e.g. warmup >= duration).

    """
    data = scenario.model_dump(mode="json")
    if duration_s is not None:
        data["duration"] = duration_s
    if seed is not None:
        data["seed"] = seed
    try:
        result = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, data, {}), "command line") from None
    problems = check_references(result)
    if problems:
        raise ScenarioError(
            [(format_path(path), message, None) for path, message in problems], "command line"
        )
    return result
