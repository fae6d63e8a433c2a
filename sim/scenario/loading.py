"""Load a scenario file: YAML -> frozen ``Scenario``, with errors that name field, value, line.

Validation happens in two stages. Pydantic checks shapes, types and ranges; then
``check_references`` checks what pydantic cannot see: instance types and models that must
exist in the hardware catalog, memory fit, dtype support, and run-length consistency.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.scenario.checks import check_references
from sim.scenario.errors import ScenarioError, format_path
from sim.scenario.schema import Scenario

LineMap = dict[tuple[str | int, ...], int]


MAX_EXPANDED_NODES = 200_000  # a scenario is a few hundred nodes; aliases must not explode it
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # a scenario is a few kilobytes


class ScenarioLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML (plain data only) with libyaml's C parser where it is installed.

    Numbers written YAML 1.2-style with an exponent and no dot (``1e5``, ``2.5e3``,
    ``-1E-3``) are numbers, as YAML 1.2 reads them; PyYAML's YAML 1.1 rules would make them
    strings.
    """


ScenarioLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


def _parse(text: str, source: str | None) -> tuple[yaml.Node | None, Any]:
    """Parse ``text`` once: its node graph (for line numbers) and its data.

    Raises:
        ScenarioError: malformed YAML, a tag that is not plain data, or aliases that refer
            to themselves or expand into a huge document.

    """
    loader = ScenarioLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            problem = _alias_problem(root)
            if problem is not None:
                raise ScenarioError.single("<yaml>", problem[0], problem[1], source)
        return root, (loader.construct_document(root) if root is not None else None)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError.single("<yaml>", f"malformed YAML: {problem}", line, source) from None
    except RecursionError:
        raise ScenarioError.single("<yaml>", "the YAML document is nested too deeply", None,
                                   source) from None  # fmt: skip
    finally:
        loader.dispose()


def _alias_problem(root: yaml.Node) -> tuple[str, int] | None:
    """Detect anchors that contain themselves, or aliases that expand into a huge document.

    Returns:
        (message, line) of the first problem, or None.

    """
    sizes: dict[int, int] = {}
    on_stack: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in on_stack:
            raise _Cycle(node.start_mark.line + 1)
        on_stack.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        total = 1 + sum(size(child) for child in children)
        on_stack.discard(key)
        sizes[key] = min(total, MAX_EXPANDED_NODES + 1)
        return sizes[key]

    try:
        total = size(root)
    except _Cycle as cycle:
        return "a YAML anchor refers to itself (&name ... *name inside it)", cycle.line
    except RecursionError:
        return "the YAML document is nested too deeply", None
    if total > MAX_EXPANDED_NODES:
        return (
            f"this document holds more than {MAX_EXPANDED_NODES:,} values, counting what YAML "
            "aliases repeat; a scenario holds a few hundred",
            None,
        )
    return None


class _Cycle(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _line_map(root: yaml.Node | None) -> tuple[LineMap, list[tuple[tuple[str | int, ...], int]]]:
    """Map every key path of a YAML document to its 1-based line number.

    Each node is visited once (content reached through an alias keeps the lines of its
    anchor).

    Returns:
        The map, and every (path, line) of a key that repeats an earlier key of the same
        mapping (``yaml.safe_load`` would silently keep the last one).

    """
    lines: LineMap = {}
    duplicates: list[tuple[tuple[str | int, ...], int]] = []
    visited: set[int] = set()

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        lines[path] = node.start_mark.line + 1
        if id(node) in visited:
            return
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, value_node in node.value:
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in seen and key != "<<":
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
    is recognised as the ``kind`` value of the mapping it stands in. Where the user wrote a
    plain value (``seq_len: 0``, shorthand for a mapping) the path stops at that value.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part not in node and part == node.get("kind"):
            continue  # union tag, not a key
        if path and not isinstance(node, dict | list):
            break  # a scalar the user wrote; pydantic's deeper parts are internal
        path.append(part)
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(path)


def _kind_unions() -> dict[str, str]:
    """Field name -> the kinds its discriminated union accepts, read off the schema."""
    from sim.policies.service import ServiceConfig
    from sim.scenario.schema import SeqLenConfig
    from sim.workload.arrivals import ArrivalsConfig

    def kinds(union: Any) -> str:
        members = typing.get_args(typing.get_args(union)[0])
        return ", ".join(typing.get_args(m.model_fields["kind"].annotation)[0] for m in members)

    return {
        "arrivals": kinds(ArrivalsConfig),
        "seq_len": kinds(SeqLenConfig),
        "service": kinds(ServiceConfig),
    }


def _show(value: Any) -> str:
    """Repr of an offending value, cut short if long."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(error: dict[str, Any], path: tuple[str | int, ...]) -> str:
    """Turn one pydantic error into a plain sentence that includes the offending value."""
    kind = error["type"]
    value = _show(error.get("input"))
    ctx = error.get("ctx") or {}
    field = next((p for p in reversed(path) if isinstance(p, str)), "")
    if kind == "missing":
        return "required key is missing"
    if kind in ("unknown_key", "duration"):
        return error["msg"]
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "union_tag_invalid":
        return f"unknown kind {ctx.get('tag')!r}; allowed kinds: {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        allowed = _kind_unions().get(field, "see the README")
        return f"'kind' is required here; allowed kinds: {allowed}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        if field in _kind_unions():
            return f"expected a mapping with a 'kind' ({_kind_unions()[field]}), got {value}"
        return f"expected a mapping of keys, got {value}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {
            "greater_than": "> {gt}",
            "greater_than_equal": ">= {ge}",
            "less_than": "< {lt}",
            "less_than_equal": "<= {le}",
        }[kind].format(**ctx)
        return f"must be {op}, got {value}"
    if kind == "literal_error":
        return f"got {value}; allowed: {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return (
            f"got {value}; use letters, digits, '_', '-' and '.', starting with a letter or digit"
        )
    if kind == "too_short":
        return f"must not be empty, got {value}"
    if kind == "string_too_long":
        return f"must have at most {ctx.get('max_length')} characters, got {value}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {value}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {value}"
    if kind in ("string_type",):
        return f"expected text, got {value}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list (- item lines or [a, b]), got {value}"
    if kind == "finite_number":
        return f"must be a finite number, got {value}"
    return f"{error['msg'].rstrip('.')}, got {value}"


def validation_problems(
    exc: ValidationError, data: Any, lines: LineMap
) -> list[tuple[str, str, int | None]]:
    """Turn a pydantic ValidationError into (path, message, line) problems, deduplicated.

    Errors of the branches of one union at one field (``cores_per_replica``: a number >= 1
    or ``'auto'``) become one message that names every alternative.
    """
    by_path: dict[tuple[str | int, ...], list[dict[str, Any]]] = {}
    for error in exc.errors():
        path = _data_path(tuple(error["loc"]), data)
        ctx = error.get("ctx") or {}
        if error["type"] == "unknown_key":
            path = (*path, str(ctx["key"]))  # a key written as a number is still a key
        elif error["type"] == "union_tag_invalid":
            path = (*path, "kind")  # the key the user wrote wrong
        by_path.setdefault(path, []).append(error)
    problems: list[tuple[str, str, int | None]] = []
    for path, errors in by_path.items():
        literals = [e for e in errors if e["type"] == "literal_error"]
        others = [e for e in errors if e["type"] != "literal_error"]
        messages = [_describe(e, path) for e in (others or literals)]
        if literals and others:
            expected = " or ".join(str((e.get("ctx") or {}).get("expected")) for e in literals)
            messages = [_or_also(m, expected) for m in messages]
        for message in dict.fromkeys(messages):
            problems.append((format_path(path), message, line_of(lines, path)))
    return problems


def _or_also(message: str, expected: str) -> str:
    """``must be >= 1, got 0`` -> ``must be >= 1 or 'auto', got 0``."""
    head, sep, tail = message.rpartition(", got ")
    return f"{head} or {expected}{sep}{tail}" if sep else f"{message} (or {expected})"


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
    if len(text) > MAX_DOCUMENT_BYTES:
        raise ScenarioError.single(
            "<file>",
            f"the document has {len(text):,} characters; a scenario is a few kilobytes (at most "
            f"{MAX_DOCUMENT_BYTES:,}): put request data in a trace file (arrivals: "
            "{kind: trace, path: ...})",
            source=source,
        )
    root, data = _parse(text, source)
    if not isinstance(data, dict):
        raise ScenarioError.single(
            "<scenario>",
            f"expected a mapping of keys (name, seed, workload, fleet, ...), got {data!r}",
            1,
            source,
        )
    # top-level keys starting with "x-" hold YAML anchors for reuse (as in compose files)
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    lines, duplicates = _line_map(root)
    if duplicates:
        raise ScenarioError(
            [(format_path(p), "key appears twice in one mapping", line) for p, line in duplicates],
            source,
        )
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
    path = Path(path)
    try:
        with path.open("rb") as file:  # at most one byte more than a scenario may have
            raw = file.read(MAX_DOCUMENT_BYTES + 1)
        text = raw.decode("utf-8")
    except OSError as exc:
        raise ScenarioError.single(
            "<file>", f"cannot read the file: {exc.strerror}", source=str(path)
        ) from None
    except UnicodeDecodeError:
        raise ScenarioError.single("<file>", "not UTF-8 text", source=str(path)) from None
    return parse_scenario(text, source=str(path), base_dir=path.parent)


def with_overrides(
    scenario: Scenario, duration_s: float | None = None, seed: int | None = None
) -> Scenario:
    """A copy of ``scenario`` with a new duration (s) and/or seed, validated again.

    Raises:
        ScenarioError: the overridden scenario is not valid (e.g. warmup >= duration).

    """
    data = scenario.model_dump(mode="json")
    if duration_s is not None:
        data["duration"] = f"{duration_s!r}s"
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
