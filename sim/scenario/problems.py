"""Pydantic's validation errors, turned into problems a user reads: field, sentence, line."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import ValidationError

from sim.scenario.base import FORM_TAGS
from sim.scenario.errors import format_path
from sim.scenario.yaml_text import LineMap, line_of


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[str | int, ...]:
    """Map pydantic's error ``loc`` onto the user's data, dropping union-tag elements.

    For a discriminated union pydantic inserts the tag (``'poisson'``) into the location; it
    is recognised as the ``kind`` value of the mapping it stands in, or as one of
    ``FORM_TAGS`` (the tags of unions told apart by their form, not a ``kind``). Where the
    user wrote a plain value (``seq_len: 0``, shorthand for a mapping) the path stops at that value.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        if (
            isinstance(node, dict)
            and part not in node
            and (part == node.get("kind") or part in FORM_TAGS)
        ):
            continue  # union tag (a kind, or a form such as 'scaled'), not a key
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
    by_path: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for error in exc.errors():
        path: tuple[Any, ...] = _data_path(tuple(error["loc"]), data)
        ctx = error.get("ctx") or {}
        if error["type"] == "unknown_key":
            path = (*path, ctx["key"])  # as loaded: 123, None, True are keys too
        elif error["type"] == "union_tag_invalid":
            path = (*path, "kind")  # the key the user wrote wrong
        by_path.setdefault(path, []).append(error)
    problems: list[tuple[str, str, int | None]] = []
    for path, errors in by_path.items():
        shown = path
        if any(e["type"] == "unknown_key" for e in errors):  # a key, even written as 123
            shown = (*path[:-1], str(path[-1]))
        literals = [e for e in errors if e["type"] == "literal_error"]
        others = [e for e in errors if e["type"] != "literal_error"]
        messages = [_describe(e, shown) for e in (others or literals)]
        if literals and others:
            expected = " or ".join(str((e.get("ctx") or {}).get("expected")) for e in literals)
            messages = [_or_also(m, expected) for m in messages]
        for message in dict.fromkeys(messages):
            problems.append((format_path(shown), message, line_of(lines, path)))
    return problems


def _or_also(message: str, expected: str) -> str:
    """``must be >= 1, got 0`` -> ``must be >= 1 or 'auto', got 0``."""
    head, sep, tail = message.partition(", got ")  # the first: the value may hold ", got "
    return f"{head} or {expected}{sep}{tail}" if sep else f"{message} (or {expected})"
