"""docs/analysis.md is executed: its python blocks run in order and print what it shows.

Each ```python block runs (in one namespace, in a temporary directory where ``scenarios``
points at the repository's) and its printed output must equal the ```text block right
after it, exactly (no text block: no output). The doc's runs use short durations, so this
takes a few seconds with the compiled kernel and well under a minute with SimPy; both
engines give the same trace, hence the same output.

To regenerate the outputs after changing the doc or the model:
``FLEETSIM_UPDATE_DOCS=1 python -m pytest tests/docs/test_analysis_doc.py``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re

from helpers import ROOT

DOC = ROOT / "docs" / "analysis.md"
BLOCK = re.compile(r"```python\n(.*?)```\n(?:\n*```text\n(.*?)```\n)?", re.S)


def run_blocks(text: str) -> list[tuple[re.Match, str]]:
    """Run every python block; (its match, what it printed)."""
    namespace: dict = {"__name__": "analysis_doc"}
    out = []
    for number, match in enumerate(BLOCK.finditer(text)):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(match.group(1), f"{DOC.name} block {number + 1}", "exec"), namespace)
        out.append((match, printed.getvalue()))
    return out


def updated(text: str, results: list[tuple[re.Match, str]]) -> str:
    """The doc with each block's text block replaced by (or set to) its output."""
    pieces, last = [], 0
    for match, printed in results:
        pieces.append(text[last : match.start()])
        block = f"```python\n{match.group(1)}```\n"
        if printed:
            block += f"\n```text\n{printed}```\n"
        pieces.append(block)
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces)


def test_every_block_prints_what_the_doc_shows(tmp_path, monkeypatch):
    """Blocks run in order; each one's output equals the doc's text block after it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    text = DOC.read_text(encoding="utf-8")
    results = run_blocks(text)
    assert len(results) >= 4
    if os.environ.get("FLEETSIM_UPDATE_DOCS") == "1":
        new = updated(text, results)
        tmp = DOC.with_name(f".{DOC.name}.{os.getpid()}.tmp")
        tmp.write_text(new, encoding="utf-8")
        os.replace(tmp, DOC)
        return
    for number, (match, printed) in enumerate(results, 1):
        assert printed == (match.group(2) or ""), (
            f"{DOC.name} block {number} printed something else; if the change is intended, "
            "regenerate: FLEETSIM_UPDATE_DOCS=1 python -m pytest tests/docs/test_analysis_doc.py"
        )
