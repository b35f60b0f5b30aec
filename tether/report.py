"""Turning findings into what people and tools read: full, concise, json and github output.

``json`` is shaped like ruff's JSON output (code, message, filename, location, end_location,
fix with applicability and edits, url) so tooling that already reads ruff reads tether.

This module imports nothing heavy at import time (no ``typing``, ``dataclasses`` or
``tether.model``: ~25 ms together) because the warm path of ``tether check``
(``tether.warm``) prints cached results with it; findings are duck-typed (``code``,
``message``, positions, ``fixes``, ``choose_fix``), so both paths share every format.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import Callable, Iterable, Sequence

    from tether.model import FileResult, Finding, Fix


def relative(path: str) -> str:
    if path == "-":
        return path
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def marker(finding: Finding, unsafe_fixes: bool, style: str) -> str:
    if finding.choose_fix(unsafe_fixes, style) is not None:
        return "[*] "
    if finding.choose_fix(True, style) is not None:
        return "[-] "  # an unsafe fix exists: shown with --unsafe-fixes
    return ""


def concise_line(path: str, finding: Finding, unsafe_fixes: bool, style: str) -> str:
    return f"{relative(path)}:{finding.line}:{finding.col}: {finding.code} {marker(finding, unsafe_fixes, style)}{finding.message}"


def full_block(path: str, finding: Finding, lines: Sequence[str], unsafe_fixes: bool, style: str) -> str:
    out = [concise_line(path, finding, unsafe_fixes, style)]
    if 0 < finding.line <= len(lines):
        source_line = lines[finding.line - 1].rstrip("\r\n").expandtabs(4)
        width = len(str(finding.line))
        pad = " " * width
        end_col = finding.end_col if finding.end_line == finding.line else len(source_line) + 1
        carets = "^" * max(1, end_col - finding.col)
        out.append(f"{pad} |")
        out.append(f"{finding.line} | {source_line}")
        out.append(f"{pad} | {' ' * (finding.col - 1)}{carets} {finding.code}")
        out.append(f"{pad} |")
    fix = finding.choose_fix(True, style)
    if fix is not None:
        note = "" if fix.is_safe else " (unsafe: needs --unsafe-fixes)"
        out.append(f"  = help: {fix.title}{note}")
    return "\n".join(out) + "\n"


def summary(results: Sequence[FileResult], unsafe_fixes: bool, style: str) -> str:
    findings = [f for r in results for f in r.findings]
    if not findings:
        errors = sum(1 for r in results if r.error)
        if errors:  # "All checks passed!" would be a lie about the files that were not checked
            return f"No findings, but {errors} {'file' if errors == 1 else 'files'} could not be checked (see the errors above)."
        return "All checks passed!"
    fixable = sum(1 for f in findings if f.choose_fix(unsafe_fixes, style))
    hidden = sum(1 for f in findings if not f.choose_fix(unsafe_fixes, style) and f.choose_fix(True, style))
    noun = "finding" if len(findings) == 1 else "findings"
    text = f"Found {len(findings)} {noun}."
    if fixable:
        text += f"\n[*] {fixable} fixable with `tether fix`."
    if hidden:
        text += f"\n[-] {hidden} more fixable with `tether fix --unsafe-fixes`."
    return text


def check_messages(
    results: Sequence[FileResult],
    fmt: str,
    unsafe_fixes: bool,
    style: str,
    lines_of: Callable[[FileResult], Sequence[str]],
) -> list[str]:
    """What ``check --output-format full|concise`` prints on stdout, one message per echo.

    ``lines_of(result)`` gives the source lines of a file with findings (``full`` only).
    """
    messages = []
    with_findings = [r for r in results if r.findings]
    for result in with_findings:
        lines = lines_of(result) if fmt == "full" else []
        for finding in result.findings:
            if fmt == "concise":
                messages.append(concise_line(result.path, finding, unsafe_fixes, style))
            else:
                messages.append(full_block(result.path, finding, lines, unsafe_fixes, style))
    if fmt == "full" or with_findings:
        messages.append(summary(results, unsafe_fixes, style))
    return messages


def source_lines(path: str, data: bytes | None = None) -> list[str]:
    """The lines of ``path`` (or of ``data`` read from it) for ``full`` output; [] if unreadable."""
    from tether.source import SourceError, decode_bytes, read_source, split_lines

    try:
        source = decode_bytes(data, path) if data is not None else read_source(path)
    except SourceError:
        return []
    return split_lines(source.text)


def fix_edits(old: str, new: str) -> list[dict]:
    """The change from ``old`` to ``new`` as ruff-style edits (1-based rows and columns)."""
    from tether.source import split_lines

    old_lines = split_lines(old)
    new_lines = split_lines(new)
    edits = []
    import difflib  # only for JSON edits

    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        end_row = i2 + 1
        edits.append(
            {
                "content": "".join(new_lines[j1:j2]),
                "location": {"row": i1 + 1, "column": 1},
                "end_location": {"row": end_row, "column": 1},
            }
        )
    return edits


def json_record(path: str, finding: Finding, fix: Fix | None, edits: list[dict] | None, url: str) -> dict:
    return {
        "code": finding.code,
        "message": finding.message,
        "filename": os.path.abspath(path) if path != "-" else "-",
        "location": {"row": finding.line, "column": finding.col},
        "end_location": {"row": finding.end_line, "column": finding.end_col},
        "fix": None
        if fix is None or edits is None
        else {"applicability": fix.applicability, "message": fix.title, "edits": edits},
        "noqa_row": finding.line,
        "url": url,
    }


def _escape_data(text: str) -> str:
    """Workflow-command message escaping (as @actions/core does)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """Workflow-command property escaping: ``:`` and ``,`` would end the property."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_line(path: str, finding: Finding) -> str:
    """A GitHub Actions ``::error`` annotation: shown on the line in the pull request's diff."""
    shown = relative(path)
    return (
        f"::error title={_escape_property(f'tether ({finding.code})')},file={_escape_property(shown)},"
        f"line={finding.line},col={finding.col},endLine={finding.end_line},endColumn={finding.end_col}::"
        + _escape_data(f"{shown}:{finding.line}:{finding.col}: {finding.code} {finding.message}")
    )


def dump_json(records: Iterable[dict]) -> str:
    import json

    return json.dumps(list(records), indent=2, ensure_ascii=False)
