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


def unified_diff(old: str | None, new: str, path: str, context: int = 3) -> str:
    """The diff of one file as text (lines keep their own endings); ``old`` None: the file
    is created (``--- /dev/null``, as git and ``patch`` expect)."""
    shown = display_path(path) if path != "-" else "-"
    old_lines = split_lines(old or "")
    new_lines = split_lines(new)
    out: list[str] = []
    source = "/dev/null" if old is None else f"a/{shown}"
    for line in difflib.unified_diff(old_lines, new_lines, source, f"b/{shown}", n=context):
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
    """One group of changes with its context, as ``git add -p`` shows it.

    ``old_start:old_end`` (0-based, end exclusive) is the slice of the old lines that
    ``new_lines`` replaces; hunks of one diff never overlap, so any subset of them can be
    applied on its own with ``apply_hunks``.
    """

    old_start: int
    old_end: int
    new_start: int
    new_end: int
    new_lines: tuple[str, ...]
    text: str  # the @@ header and the prefixed lines, ready to print

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(line[1:] for line in self.text.splitlines(keepends=True)[1:] if line.startswith("+"))

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(line[1:] for line in self.text.splitlines(keepends=True)[1:] if line.startswith("-"))


def split_hunks(old: str, new: str, context: int = 3) -> list[Hunk]:
    """The diff from ``old`` to ``new`` as independent hunks, in file order."""
    old_lines = split_lines(old)
    new_lines = split_lines(new)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    hunks = []
    for group in matcher.get_grouped_opcodes(context):
        i1, i2 = group[0][1], group[-1][2]
        j1, j2 = group[0][3], group[-1][4]
        out = [f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@\n"]
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out.extend(_prefixed(" ", old_lines[a1:a2]))
                continue
            out.extend(_prefixed("-", old_lines[a1:a2]))
            out.extend(_prefixed("+", new_lines[b1:b2]))
        hunks.append(Hunk(i1, i2, j1, j2, tuple(new_lines[j1:j2]), "".join(out)))
    return hunks


def _range(start: int, end: int) -> str:
    """A unified-diff line range: 1-based start and length (an empty range names the line before)."""
    length = end - start
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"


def _prefixed(prefix: str, lines) -> list[str]:
    out = []
    for line in lines:
        if line.endswith(("\n", "\r")):
            out.append(prefix + line)
        else:
            out.append(prefix + line + "\n" + NO_NEWLINE)
    return out


def apply_hunks(old: str, hunks) -> str:
    """``old`` with just these hunks (from ``split_hunks(old, ...)``) applied."""
    old_lines = split_lines(old)
    out: list[str] = []
    position = 0
    for hunk in sorted(hunks, key=lambda h: h.old_start):
        out.extend(old_lines[position : hunk.old_start])
        out.extend(hunk.new_lines)
        position = hunk.old_end
    out.extend(old_lines[position:])
    return "".join(out)


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
