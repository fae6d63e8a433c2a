"""Scenario YAML text: parsed once, by the YAML 1.2 core schema, with every key's line.

libyaml's C parser is used where it is installed. Aliases are checked before the document
is built (no billion laughs, no anchor inside itself), and every key path is mapped to its
line so that a problem found later can be reported where the user wrote it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from sim.scenario.errors import ScenarioError

LineMap = dict[tuple[Any, ...], int]
"""Key path (keys as loaded, list indexes as ints) -> 1-based line number."""

MAX_EXPANDED_NODES = 200_000  # a scenario is a few hundred nodes; aliases must not explode it
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # a scenario is a few kilobytes


class ScenarioLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML (plain data only), with libyaml's C parser where it is installed.

    Scalars resolve by the YAML 1.2 core schema, not PyYAML's YAML 1.1 rules: ``1e5`` is a
    number, ``010`` is ten (not octal eight), ``0o10`` and ``0x10`` are octal and hex,
    ``1:30``, ``1_000``, ``yes``/``no``/``on``/``off`` and dates stay text, as in YAML 1.2,
    JSON and most other tools.
    """


_YAML11_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float", "timestamp")}
ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag not in _YAML11_TAGS]
    for first, resolvers in ScenarioLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
]:
    ScenarioLoader.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first)
    )


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """An integer by the YAML 1.2 core schema (decimal, ``0o`` octal, ``0x`` hex)."""
    text = str(loader.construct_scalar(node))
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


def _construct_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    """A float by the YAML 1.2 core schema (``.inf``, ``.nan`` included)."""
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith((".inf", ".nan")):
        return float(text.replace(".", ""))
    return float(text)


ScenarioLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
ScenarioLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def parse_yaml(text: str, source: str | None) -> tuple[yaml.Node | None, Any]:
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
        problem = getattr(exc, "problem", None)
        if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
            line = text.count("\n", 0, exc.position) + 1
            character = exc.character
            if isinstance(character, int):
                character = chr(character)
            problem = f"the character {character!r} is not allowed in YAML text"
        problem = " ".join(str(problem or exc).split())  # one line
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


def line_map(root: yaml.Node | None) -> tuple[LineMap, list[tuple[tuple[str | int, ...], int]]]:
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
                key = _key_as_loaded(key_node)
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


def _key_as_loaded(node: yaml.Node) -> object:
    """A mapping key as the loader constructs it (``~`` is None, ``3`` is 3), for scalars."""
    if not isinstance(node, yaml.ScalarNode):
        return node.value
    if node.tag.endswith(":null"):
        return None
    if node.tag.endswith((":int", ":bool", ":float")):
        return yaml.load(node.value, Loader=ScenarioLoader)
    return node.value


def line_of(lines: LineMap, path: tuple[str | int, ...]) -> int | None:
    """The line of the deepest prefix of ``path`` present in the document."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
