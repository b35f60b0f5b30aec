"""Converting between tether's positions and LSP positions.

tether counts 1-based lines and 1-based columns in characters (code points). LSP counts 0-based
lines and 0-based columns in the *code units* of the negotiated position encoding: UTF-16 by
default (a character outside the Basic Multilingual Plane, such as an emoji, is two units),
UTF-8 or UTF-32 when client and server agree on it. Getting this wrong puts every squiggle
after an emoji or a CJK-extension character in the wrong place, so it lives here, tested alone.
"""

from __future__ import annotations

from typing import Sequence

from tether.source import split_lines

UTF8 = "utf-8"
UTF16 = "utf-16"
UTF32 = "utf-32"


def _unit_length(char: str, encoding: str) -> int:
    code = ord(char)
    if encoding == UTF32:
        return 1
    if encoding == UTF8:
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    return 2 if code > 0xFFFF else 1


def line_content(line: str) -> str:
    """A line without its ending (``\\n``, ``\\r\\n`` or ``\\r``)."""
    return line.rstrip("\r\n")


def units(text: str, encoding: str = UTF16) -> int:
    """The length of ``text`` in code units of ``encoding``."""
    if encoding == UTF32:
        return len(text)
    return sum(_unit_length(c, encoding) for c in text)


def char_to_unit(line: str, char_index: int, encoding: str = UTF16) -> int:
    """0-based character offset in ``line`` -> 0-based code-unit offset (clamped to the line)."""
    content = line_content(line)
    return units(content[: max(0, char_index)], encoding)


def unit_to_char(line: str, unit_index: int, encoding: str = UTF16) -> int:
    """0-based code-unit offset -> 0-based character offset; a unit inside a character rounds down."""
    content = line_content(line)
    count = 0
    for index, char in enumerate(content):
        width = _unit_length(char, encoding)
        if count + width > unit_index:
            return index
        count += width
    return len(content)


def to_lsp(lines: Sequence[str], line: int, col: int, encoding: str = UTF16) -> tuple[int, int]:
    """tether (1-based line, 1-based character column) -> LSP (0-based line, code units)."""
    row = line - 1
    if row >= len(lines):
        return end_of_document(lines, encoding)
    return row, char_to_unit(lines[row], col - 1, encoding)


def from_lsp(lines: Sequence[str], row: int, unit: int, encoding: str = UTF16) -> tuple[int, int]:
    """LSP (0-based line, code units) -> tether (1-based line, 1-based character column)."""
    if row >= len(lines):
        return len(lines) + 1, 1
    return row + 1, unit_to_char(lines[row], unit, encoding) + 1


def end_of_document(lines: Sequence[str], encoding: str = UTF16) -> tuple[int, int]:
    """The LSP position just after the last character of the text."""
    if not lines:
        return 0, 0
    last = lines[-1]
    if last.endswith(("\n", "\r")):
        return len(lines), 0
    return len(lines) - 1, units(last, encoding)


def text_lines(text: str) -> list[str]:
    """Lines with endings, split where both Python and LSP split them (\\n, \\r\\n, \\r)."""
    return split_lines(text)
