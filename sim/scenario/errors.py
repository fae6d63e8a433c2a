"""The one error type a user sees for a bad scenario, and its rendering."""

from __future__ import annotations


def format_path(loc: tuple[str | int, ...]) -> str:
    """Render a field path as ``fleet[0].batching.max_batch``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<scenario>"


class ScenarioError(Exception):
    """A scenario that cannot be run, explained by field path, offending value and line.

    Attributes:
        problems: One entry per problem: (field path, message, YAML line or None).
        source: The file the scenario came from, if any.

    """

    def __init__(
        self,
        problems: list[tuple[str, str, int | None]],
        source: str | None = None,
    ) -> None:
        self.problems = problems
        self.source = source
        super().__init__(self.render())

    @classmethod
    def single(
        cls,
        path: str,
        message: str,
        line: int | None = None,
        source: str | None = None,
    ) -> ScenarioError:
        """Build an error with one problem."""
        return cls([(path, message, line)], source)

    def render(self) -> str:
        """The message shown to the user: one line per problem."""
        lines = []
        for path, message, line in self.problems:
            where = self.source or "scenario"
            if line is not None:
                where += f":{line}"
            lines.append(f"{where}: {path}: {message}")
        return "\n".join(lines)
