"""The change between two versions of a document as LSP text edits.

Editors apply a fix best as a few small edits rather than one whole-document replacement: the
cursor, folds, marks and undo history outside the changed lines survive. The edits are whole
changed lines (the same grain as ``report.fix_edits`` and the unified diff), in the
coordinates of the *old* text, non-overlapping and in document order, as LSP requires.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from tether.lsp.positions import UTF16, end_of_document, text_lines


@dataclass(frozen=True)
class LineEdit:
    """Replace the text from (start_line, start_unit) to (end_line, end_unit) with ``new_text``."""

    start: tuple[int, int]
    end: tuple[int, int]
    new_text: str


def line_edits(old: str, new: str, encoding: str = UTF16) -> list[LineEdit]:
    old_lines = text_lines(old)
    new_lines = text_lines(new)
    end = end_of_document(old_lines, encoding)

    def position(row: int) -> tuple[int, int]:
        # a row past the last line is the end of the document (a last line may lack its newline)
        return (row, 0) if row < len(old_lines) else end

    edits = []
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        # Nothing is ever inserted after a last line that lacks its newline: that line would
        # differ between the versions (it gains a newline), so difflib replaces it instead.
        edits.append(LineEdit(position(i1), position(i2), "".join(new_lines[j1:j2])))
    return edits
