"""The points of a sweep: the base scenario with each point's settings, validated, named.

A point's identity is a hash of its full resolved scenario (every field after defaults and
units, data files by their content), the fleetsim and hardware-model versions: never its
position in the sweep or the worker that runs it. Editing the sweep file therefore re-uses
every point whose scenario did not change, and results never depend on execution order.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import hardware
from sim import __version__
from sim.scenario.errors import ScenarioError
from sim.scenario.loading import read_scenario_text, scenario_data, validate_scenario
from sim.scenario.schema import Scenario
from sim.sweep.spec import SweepSpec

ID_CHARS = 16  # base32 characters of the hash: 80 bits, and never all digits in practice


@dataclass(frozen=True, slots=True)
class Point:
    """One point of a sweep.

    Attributes:
        point_id: The hash naming it (``points/point_id=<id>``).
        index: Its position in the sweep file's order (for messages only).
        settings: The varied fields: dotted path -> value, as the sweep file wrote it.
        scenario: The validated scenario.
        text: Its resolved scenario as YAML (``scenario.yaml``; data-file paths absolute).

    """

    point_id: str
    index: int
    settings: dict[str, Any]
    scenario: Scenario
    text: str


def build_points(spec: SweepSpec, sweep_path: str | Path) -> list[Point]:
    """Every point of the sweep, built and validated (nothing is run or written).

    Points whose resolved scenarios are identical (two axis values meaning the same thing,
    ``1s`` and ``1000ms``) are one point: the first is kept.

    Raises:
        ScenarioError: the base scenario is not valid (at its file and line), or a point is
            not (naming the axis, the point and the field).

    """
    sweep_path = Path(sweep_path)
    base_path = sweep_path.parent / spec.base
    base_data = load_base(base_path)
    fixed = {key: value for key, value in (("duration", spec.duration),) if value is not None}
    fixed |= {"warmup": spec.warmup} if spec.warmup is not None else {}
    fixed |= spec.set
    try:
        all_settings = spec.settings()
    except ValueError as exc:
        raise ScenarioError.single("axes", str(exc), source=str(sweep_path)) from None
    points: dict[str, Point] = {}
    for index, settings in enumerate(all_settings):
        data = copy.deepcopy(base_data)
        where = _describe(spec, index, len(all_settings), settings)
        for path, value in fixed.items():
            apply_setting(data, path, value, str(sweep_path), f"set {path}")
        for path, value in settings.items():
            apply_setting(data, path, value, str(sweep_path), where)
        try:
            point = make_point(data, base_path.parent, index, settings)
        except ScenarioError as exc:
            raise ScenarioError(
                [(f"{where}: {field}", message, None) for field, message, _ in exc.problems],
                str(sweep_path),
            ) from None
        points.setdefault(point.point_id, point)
    return list(points.values())


def make_point(
    data: dict[str, Any], base_dir: Path, index: int = 0, settings: dict[str, Any] | None = None
) -> Point:
    """A point from resolved scenario data (relative data files start at ``base_dir``).

    Raises:
        ScenarioError: the data is not a valid scenario (messages without a source).

    """
    scenario = validate_scenario(data, None, None, base_dir)
    return Point(
        scenario_id(scenario), index, settings or {}, scenario, _resolved_yaml(data, scenario)
    )


def load_base(path: Path) -> dict[str, Any]:
    """A base scenario's data, checked valid as it is (errors at its file and line).

    Raises:
        ScenarioError: unreadable or not a valid scenario.

    """
    data, lines = scenario_data(read_scenario_text(path), str(path))
    validate_scenario(data, lines, str(path), path.parent)
    return data


def scenario_id(scenario: Scenario) -> str:
    """The hash naming a resolved scenario: 16 lowercase base32 characters.

    Data files (arrival traces, service samples) count by their content, not their path,
    so moving the project does not invalidate results while editing a file does.
    """
    dumped = _content_addressed(scenario.model_dump(mode="json"))
    identity = {
        "scenario": dumped,
        "fleetsim": __version__,
        "hardware_model": hardware.HARDWARE_MODEL_VERSION,
    }
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(blob).digest()
    return base64.b32encode(digest).decode().lower()[:ID_CHARS]


def _content_addressed(node: Any) -> Any:
    """The dumped scenario with each data-file path replaced by its file's SHA-256."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "path" and isinstance(value, str) and Path(value).is_file():
                out[key] = {"sha256": hashlib.sha256(Path(value).read_bytes()).hexdigest()}
            else:
                out[key] = _content_addressed(value)
        return out
    if isinstance(node, list):
        return [_content_addressed(item) for item in node]
    return node


def apply_setting(data: dict[str, Any], path: str, value: Any, source: str, where: str) -> None:
    """Set the field at dotted ``path`` (list indexes as numbers) to ``value``, in place.

    Mappings missing on the way are created (``fleet.0.batching.max_batch`` where the base
    has no ``batching``); a list index must exist.

    Raises:
        ScenarioError: the path cannot be followed (naming where it was set, and why).

    """
    parts = path.split(".")

    def refuse(message: str) -> ScenarioError:
        return ScenarioError.single(f"{where}: {path}", message, source=source)

    if any(part == "" for part in parts):
        raise refuse("expected a dotted path like fleet.0.count (no empty parts)")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        followed = ".".join(parts[:depth]) or "the scenario"
        if isinstance(node, list):
            if not part.isdigit():
                raise refuse(f"{followed} is a list: expected an index (0, 1, ...), got {part!r}")
            index = int(part)
            if index >= len(node):
                raise refuse(
                    f"{followed} has {len(node)} entr{'y' if len(node) == 1 else 'ies'}, "
                    f"so no index {index} (indexes count from 0)"
                )
            if last:
                node[index] = copy.deepcopy(value)
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = copy.deepcopy(value)
            else:
                node = node.setdefault(part, {})
        else:
            raise refuse(
                f"{followed} is {node!r}, not a mapping or a list; set {followed} itself, "
                "or write it out in full in the base scenario"
            )


def _describe(spec: SweepSpec, index: int, total: int, settings: dict[str, Any]) -> str:
    """``point 4 of 18 (axis 1 grid: fleet.0.count=0; axis 2 zip: ...)`` for messages."""
    parts = []
    for number, axis in enumerate(spec.axes, start=1):
        shown = ", ".join(f"{p}={settings[p]!r}" for p in axis.paths() if p in settings)
        parts.append(f"axis {number} {axis.kind}: {shown}")
    detail = f" ({'; '.join(parts)})" if parts else ""
    return f"point {index + 1} of {total}{detail}"


def _resolved_yaml(data: dict[str, Any], scenario: Scenario) -> str:
    """The point's scenario as YAML that ``fleetsim run`` accepts from any directory."""
    data = copy.deepcopy(data)
    _absolute_paths(data, scenario.model_dump(mode="json"))
    header = "# A point of a fleetsim sweep: the base scenario with the point's settings.\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _absolute_paths(data: Any, resolved: Any) -> None:
    """Replace data-file paths in ``data`` by the resolved (absolute) ones, in place."""
    if isinstance(data, dict) and isinstance(resolved, dict):
        for key, value in data.items():
            if key == "path" and isinstance(resolved.get(key), str):
                data[key] = resolved[key]
            elif key in resolved:
                _absolute_paths(value, resolved[key])
    elif isinstance(data, list) and isinstance(resolved, list):
        for item, resolved_item in zip(data, resolved, strict=False):
            _absolute_paths(item, resolved_item)
