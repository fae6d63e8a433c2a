"""docs/fleet-dynamics.md is executed: its python block prints exactly the text block after it."""

from __future__ import annotations

import contextlib
import io
import re

from helpers import ROOT

DOC = ROOT / "docs" / "fleet-dynamics.md"
BLOCK = re.compile(r"```python\n(.*?)```\n\n```text\n(.*?)```\n", re.S)


def test_examples_print_what_the_doc_shows():
    """Each python block's output equals the text block that follows it."""
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert blocks, "no python block with its output in docs/fleet-dynamics.md"
    for number, (code, shown) in enumerate(blocks):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"{DOC.name} block {number + 1}", "exec"), {})
        assert printed.getvalue() == shown, f"block {number + 1}"
