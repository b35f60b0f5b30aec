"""Unified diffs of fixes: plain text that ``patch -p1`` and ``git apply`` accept, or colour.

The diff is built with difflib on the file's own lines (line endings kept, so a CRLF file's
diff carries CRLF and applies to it) and encoded in the file's own encoding, so a latin-1
file's diff patches the latin-1 bytes. A last line without a newline gets git's
``\\ No newline at end of file`` marker, which difflib does not write by itself.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass

from tether.source import split_lines

NO_NEWLINE = "\\ No newline at end of file\n"


def display_path(path: str) -> str:
    """The path as the diff names it: relative to the current directory when inside it."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute)
    except ValueError:
        return absolute.replace(os.sep, "/")
    if relative.startswith(".."):
        return absolute.replace(os.sep, "/").lstrip("/")
    return relative.replace(os.sep, "/")


def unified_diff(old: str, new: str, path: str, context: int = 3) -> str:
    """The diff of one file as text (lines keep their own endings)."""
    shown = display_path(path) if path != "-" else "-"
    old_lines = split_lines(old)
    new_lines = split_lines(new)
    out: list[str] = []
    for line in difflib.unified_diff(old_lines, new_lines, f"a/{shown}", f"b/{shown}", n=context):
        if line.startswith(("---", "+++")):
            out.append(line.rstrip("\r\n") + "\n")
            continue
        if line.startswith("@@"):
            out.append(line)
            continue
        if not line.endswith(("\n", "\r")):
            out.append(line + "\n")
            out.append(NO_NEWLINE)
        else:
            out.append(line)
    return "".join(out)


@dataclass(frozen=True)
class Hunk:
    header: str  # the @@ line
    lines: tuple[str, ...]
    old_start: int
    old_count: int


def split_hunks(old: str, new: str, context: int = 3) -> list[tuple[int, int, list[str]]]:
    """The changed line ranges as (old_start, old_end, new_lines) groups, for interactive review."""
    old_lines = split_lines(old)
    new_lines = split_lines(new)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    groups = []
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        groups.append((first[1], last[2], new_lines[first[3] : last[4]]))
    return groups


def render_diff(diff_text: str, console) -> None:
    """Print a diff with rich colours: additions green, removals red, hunk headers cyan."""
    from rich.text import Text

    for line in diff_text.splitlines():
        line = line.rstrip("\r")
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        console.print(Text(line, style=style), soft_wrap=True, highlight=False)
