"""The report as one self-contained HTML page: inline CSS, plots as ``data:`` PNG URIs.

Nothing on the page refers to the network: no scripts, fonts, style sheets or images from
elsewhere, so the file opens the same offline, attached to an e-mail or years later.
Everything shown is escaped; the layout is a centred column at most 70 rem wide whose
tables scroll sideways when they are wider than the screen.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #1d1d1f; background: #fafafa; line-height: 1.45; font-size: 16px; }
main { max-width: 70rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.3rem; border-bottom: 2px solid #ddd; padding-bottom: 0.2rem;
  margin-top: 2.5rem; }
h3 { font-size: 1.05rem; margin-top: 1.8rem; }
nav ul { padding-left: 1.2rem; }
.meta { color: #555; font-size: 0.9rem; }
.note { background: #f1f5fb; border-left: 4px solid #5b8bd0; padding: 0.5rem 0.8rem;
  margin: 0.8rem 0; }
.projected { background: #fff6e0; border-left-color: #d08b00; }
.scroll { overflow-x: auto; margin: 0.8rem 0; }
table { border-collapse: collapse; font-size: 0.88rem; font-variant-numeric: tabular-nums; }
.caption { font-weight: 600; margin: 1.2rem 0 0.3rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.55rem; text-align: right;
  white-space: nowrap; vertical-align: top; }
td.text { white-space: normal; min-width: 22rem; text-align: left; }
th { background: #f3f3f3; }
th:first-child, td:first-child { text-align: left; position: sticky; left: 0;
  background: #fbfbfb; }
figure { margin: 1rem 0 1.8rem; }
figure img { max-width: 100%; height: auto; display: block; border: 1px solid #eee; }
figcaption { font-size: 0.88rem; color: #444; margin-top: 0.3rem; }
code { font-size: 0.9em; }
"""

LONG_CELL = 40
"""Cells longer than this (characters) wrap, left-aligned; others stay on one line."""


@dataclass
class Plot:
    """A figure on the page: ``name`` is also the stem of its PNG file (``--png``)."""

    name: str
    caption: str
    alt: str
    png: bytes


@dataclass
class Table:
    """A table of text cells; the first column is the row header."""

    caption: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class Note:
    """A paragraph set apart; ``projected`` notes are coloured as warnings."""

    text: str
    projected: bool = False


@dataclass
class Heading:
    """A sub-heading inside a section."""

    text: str


Block = Plot | Table | Note | Heading


@dataclass
class Section:
    """A part of the page with its own heading and entry in the contents."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """The section's id, for the contents' links."""
        return slug(self.title)

    def plots(self) -> list[Plot]:
        """The section's plots, in page order."""
        return [b for b in self.blocks if isinstance(b, Plot)]


def slug(text: str) -> str:
    """Lower-case letters, digits and dashes: a safe file name or HTML id."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_block(block: Block) -> str:
    """One block as HTML."""
    if isinstance(block, Heading):
        return f"<h3>{_e(block.text)}</h3>"
    if isinstance(block, Note):
        kind = "note projected" if block.projected else "note"
        return f'<p class="{kind}">{_e(block.text)}</p>'
    if isinstance(block, Plot):
        data = base64.b64encode(block.png).decode("ascii")
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{_e(block.alt)}">'
            f"<figcaption>{_e(block.caption)}</figcaption></figure>"
        )
    head = "".join(f'<th scope="col">{_e(c)}</th>' for c in block.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<th scope="row">{_e(cell)}</th>'
            if i == 0
            else f'<td class="text">{_e(cell)}</td>'
            if len(cell) > LONG_CELL
            else f"<td>{_e(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in block.rows
    )
    return (
        f'<p class="caption">{_e(block.caption)}</p>'
        f'<div class="scroll"><table aria-label="{_e(block.caption)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def render_page(title: str, facts: list[str], sections: list[Section]) -> str:
    """The whole page: title, facts, contents, then each section."""
    contents = "".join(f'<li><a href="#{s.anchor}">{_e(s.title)}</a></li>' for s in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_e(title)}</h1>",
        *[f'<p class="meta">{_e(fact)}</p>' for fact in facts],
        f"<nav><ul>{contents}</ul></nav>" if len(sections) > 1 else "",
    ]
    for section in sections:
        parts.append(f'<section id="{section.anchor}"><h2>{_e(section.title)}</h2>')
        parts += [render_block(block) for block in section.blocks]
        parts.append("</section>")
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(p for p in parts if p)
