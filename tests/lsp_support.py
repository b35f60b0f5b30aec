"""Helpers for the language-server tests: documents, and applying LSP edits independently.

``apply_edits`` deliberately does not use ``tether.lsp.positions``: it converts code units by
encoding each line, so a mistake in tether's conversion cannot cancel itself out in the tests.
"""

from __future__ import annotations

import re
from pathlib import Path

from lsprotocol import types as lsp

# The acceptance document: one snippet per finding it must produce, inside `async def main()`.
# Each entry is (rule code, line). A rule whose code is not registered on this branch is left
# out, so adding a case (e.g. TET201's gather) is one line here.
ACCEPTANCE_SNIPPETS = (
    ("TET101", "    asyncio.create_task(work())"),
    ("TET101", "    _ = asyncio.ensure_future(work())"),
    ("TET201", "    await asyncio.gather(work(), work())"),
)


def acceptance_document() -> tuple[str, list[tuple[str, int]]]:
    """(source, [(code, 0-based line)]) for the snippets whose rules exist on this branch."""
    from tether.registry import rule_by_code

    lines = ["import asyncio", "", "", "async def work():", "    await asyncio.sleep(0)", "", "", "async def main():"]
    expected = []
    for code, snippet in ACCEPTANCE_SNIPPETS:
        if rule_by_code(code) is None:
            continue
        expected.append((code, len(lines)))
        lines.append(snippet)
    lines.append("    return 1")
    return "\n".join(lines) + "\n", expected


def units_to_chars(line: str, units: int, encoding: str) -> int:
    """Code-unit offset -> character offset, by encoding (independent of tether's code)."""
    codec = {"utf-8": "utf-8", "utf-16": "utf-16-le", "utf-32": "utf-32-le"}[encoding]
    width = {"utf-8": 1, "utf-16": 2, "utf-32": 4}[encoding]
    data = line.encode(codec, "surrogatepass")[: units * width]
    return len(data.decode(codec, "surrogatepass"))


def _offset(text: str, position: lsp.Position, encoding: str) -> int:
    lines = re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)
    if position.line >= len(lines):
        return len(text)
    start = sum(len(l) for l in lines[: position.line])
    content = lines[position.line].rstrip("\r\n")
    return start + units_to_chars(content, position.character, encoding)


def apply_edits(text: str, edits, encoding: str = "utf-16") -> str:
    """Apply LSP TextEdits (all relative to ``text``) the way an editor does."""
    spans = []
    for edit in edits:
        start = _offset(text, edit.range.start, encoding)
        end = _offset(text, edit.range.end, encoding)
        spans.append((start, end, edit.new_text))
    spans.sort(key=lambda s: (s[0], s[1]))
    for (s1, e1, _), (s2, _, _) in zip(spans, spans[1:]):
        assert e1 <= s2, "LSP edits must not overlap"
    for start, end, new_text in reversed(spans):
        text = text[:start] + new_text + text[end:]
    return text


def edits_of(edit: lsp.WorkspaceEdit, uri: str) -> list:
    if edit.document_changes:
        return [e for change in edit.document_changes if change.text_document.uri == uri for e in change.edits]
    return list((edit.changes or {}).get(uri, []))


def write_project(root: Path, tether_table: str = "") -> None:
    (root / "pyproject.toml").write_text(f"[tool.tether]\n{tether_table}", encoding="utf-8")
