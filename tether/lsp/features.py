"""What the language server offers, computed from the engine: diagnostics and code actions.

No pygls here (only lsprotocol's plain data types), so every feature can be unit-tested without
a client. Every finding comes from ``engine.analyse`` and every edit from ``engine.render_one_fix``
or ``engine.fix_text``: the editor shows exactly what ``tether check`` reports and applies
exactly what ``tether fix`` would write, verified the same way (it compiles, or no action).
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass
from typing import Sequence

from lsprotocol import types as lsp

from tether.config import Settings
from tether.engine import analyse, fix_text, render_one_fix
from tether.lsp.edits import LineEdit, line_edits
from tether.lsp.positions import UTF16, char_to_unit, line_content, text_lines, to_lsp
from tether.model import Finding, Fix

SOURCE = "tether"
FIX_ALL_KIND = "source.fixAll.tether"
APPLY_FIXES_COMMAND = "tether.applyFixes"
TASKGROUP_CHANGE = "unsafe: a failure is raised as an ExceptionGroup, so `except` clauses around it stop matching"
CANCEL_CHANGE = "unsafe: cancels tasks that the original code left running"


@dataclass(frozen=True)
class Analysis:
    """One version of a document: its findings, or ``findings is None`` when it does not parse."""

    text: str
    lines: list[str]
    findings: list[Finding] | None


def analyse_document(text: str, path: str, settings: Settings) -> Analysis:
    """Findings for an editor buffer; a half-typed buffer gives ``findings=None``, never an error."""
    lines = text_lines(text)
    try:
        _, findings = analyse(text, path, settings)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # ValueError: source with NUL bytes; RecursionError: absurdly nested expressions
        return Analysis(text, lines, None)
    return Analysis(text, lines, findings)


# -- diagnostics -----------------------------------------------------------------------


def finding_range(finding: Finding, lines: Sequence[str], encoding: str = UTF16) -> lsp.Range:
    start = to_lsp(lines, finding.line, finding.col, encoding)
    end = to_lsp(lines, finding.end_line, finding.end_col, encoding)
    return lsp.Range(lsp.Position(*start), lsp.Position(*end))


def diagnostic(finding: Finding, lines: Sequence[str], encoding: str = UTF16) -> lsp.Diagnostic:
    from tether.registry import rule_by_code

    rule = rule_by_code(finding.code)
    return lsp.Diagnostic(
        range=finding_range(finding, lines, encoding),
        message=finding.message,
        severity=lsp.DiagnosticSeverity.Warning,
        code=finding.code,
        code_description=lsp.CodeDescription(href=rule.url) if rule is not None else None,
        source=SOURCE,
    )


def diagnostics(analysis: Analysis, encoding: str = UTF16) -> list[lsp.Diagnostic]:
    """The buffer's diagnostics; none while it does not parse (stale positions would mislead)."""
    if analysis.findings is None:
        return []
    return [diagnostic(f, analysis.lines, encoding) for f in analysis.findings]


# -- choosing fixes ----------------------------------------------------------------------


def safe_fix(finding: Finding, settings: Settings) -> Fix | None:
    """The safe fix, preferring one meant for the configured style."""
    safe = [f for f in finding.fixes if f.is_safe]
    preferred = [f for f in safe if f.style in (None, settings.style)]
    return (preferred or safe or [None])[0]


def unsafe_fix(finding: Finding, settings: Settings) -> Fix | None:
    """The unsafe alternative (TaskGroup or cancelling guard), preferring the configured style."""
    unsafe = [f for f in finding.fixes if not f.is_safe]
    preferred = [f for f in unsafe if f.style in (None, settings.style)]
    return (preferred or unsafe or [None])[0]


def action_title(finding: Finding, fix: Fix) -> str:
    """The fix's own title; an unsafe one also says what it changes, unless it already does."""
    if fix.is_safe or "unsafe" in fix.title.lower():
        return f"{fix.title} ({finding.code})"
    change = TASKGROUP_CHANGE if fix.style == "taskgroup" else CANCEL_CHANGE
    return f"{fix.title} ({finding.code}; {change})"


# -- code actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where edits go: the document's URI and the version they were computed for."""

    uri: str
    version: int | None
    versioned: bool = True  # the client understands documentChanges


def workspace_edit(target: Target, edits: Sequence[LineEdit]) -> lsp.WorkspaceEdit:
    text_edits = [
        lsp.TextEdit(range=lsp.Range(lsp.Position(*e.start), lsp.Position(*e.end)), new_text=e.new_text)
        for e in edits
    ]
    if target.versioned:
        identifier = lsp.OptionalVersionedTextDocumentIdentifier(uri=target.uri, version=target.version)
        return lsp.WorkspaceEdit(document_changes=[lsp.TextDocumentEdit(text_document=identifier, edits=text_edits)])
    return lsp.WorkspaceEdit(changes={target.uri: text_edits})


def kind_wanted(kind: str, only: Sequence[str] | None) -> bool:
    """LSP's rule: ``only`` lists kinds or their parents (``source`` covers ``source.fixAll.x``)."""
    if not only:
        return True
    return any(kind == wanted or kind.startswith(wanted + ".") for wanted in only)


def overlaps(a: lsp.Range, b: lsp.Range) -> bool:
    def key(p: lsp.Position) -> tuple[int, int]:
        return (p.line, p.character)

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def findings_for(
    analysis: Analysis,
    request: lsp.Range,
    context_diagnostics: Sequence[lsp.Diagnostic],
    encoding: str = UTF16,
) -> list[Finding]:
    """Findings under the requested range, or named by the client's context diagnostics."""
    if not analysis.findings:
        return []
    named = {
        (d.code, d.range.start.line, d.range.start.character)
        for d in context_diagnostics
        if d.source == SOURCE
    }
    chosen = []
    for finding in analysis.findings:
        where = finding_range(finding, analysis.lines, encoding)
        if overlaps(where, request) or (finding.code, where.start.line, where.start.character) in named:
            chosen.append(finding)
    return chosen


def code_actions(
    analysis: Analysis,
    path: str,
    settings: Settings,
    target: Target,
    request: lsp.Range,
    context: lsp.CodeActionContext,
    encoding: str = UTF16,
) -> list[lsp.CodeAction]:
    only = [getattr(k, "value", k) for k in context.only] if context.only else None
    actions: list[lsp.CodeAction] = []
    if analysis.findings is None:
        return actions
    if kind_wanted(lsp.CodeActionKind.QuickFix.value, only):
        for finding in findings_for(analysis, request, context.diagnostics or (), encoding):
            actions.extend(quick_fixes(analysis, path, settings, target, finding, encoding))
    if kind_wanted(FIX_ALL_KIND, only) and analysis.findings:
        edits = fix_all_edits(analysis.text, path, settings, encoding)
        if edits:
            actions.append(
                lsp.CodeAction(
                    title="Fix all auto-fixable tether findings",
                    kind=FIX_ALL_KIND,
                    edit=workspace_edit(target, edits),
                )
            )
    return actions


def quick_fixes(
    analysis: Analysis,
    path: str,
    settings: Settings,
    target: Target,
    finding: Finding,
    encoding: str = UTF16,
) -> list[lsp.CodeAction]:
    """The safe fix, the unsafe alternative, and "disable for this line", in that order."""
    diagnostic_ = diagnostic(finding, analysis.lines, encoding)
    preferred = finding.choose_fix(settings.unsafe_fixes, settings.style)
    actions = []
    for fix in (safe_fix(finding, settings), unsafe_fix(finding, settings)):
        if fix is None:
            continue
        new_text = render_one_fix(analysis.text, path, settings, finding, fix)
        if new_text is None or new_text == analysis.text:
            continue  # the renderer could not apply it here, or it would not compile
        actions.append(
            lsp.CodeAction(
                title=action_title(finding, fix),
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[diagnostic_],
                is_preferred=fix == preferred,
                edit=workspace_edit(target, line_edits(analysis.text, new_text, encoding)),
            )
        )
    noqa = noqa_edit(analysis.text, analysis.lines, finding, encoding)
    if noqa is not None:
        actions.append(
            lsp.CodeAction(
                title=f"Disable {finding.code} for this line",
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[diagnostic_],
                edit=workspace_edit(target, [noqa]),
            )
        )
    return actions


def fix_all_edits(text: str, path: str, settings: Settings, encoding: str = UTF16) -> list[LineEdit]:
    """What ``tether fix`` would do to this buffer (same options, same verification)."""
    result = fix_text(text, path, settings)
    if result.error or result.new_text is None or result.new_text == text:
        return []
    return line_edits(text, result.new_text, encoding)


# -- noqa ----------------------------------------------------------------------------------

_NOQA_CODES = re.compile(r"#\s*noqa:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)", re.IGNORECASE)


def noqa_edit(text: str, lines: Sequence[str], finding: Finding, encoding: str = UTF16) -> LineEdit | None:
    """Add ``# noqa: CODE`` to the flagged line (or the code to its existing noqa list).

    None when the end of that line is inside a string (a comment there would change the
    string) or after a backslash continuation, or when the result would not suppress it.
    """
    row = finding.line - 1
    if row >= len(lines) or not _line_end_is_code(text, finding.line):
        return None
    content = line_content(lines[row])
    if content.rstrip().endswith("\\"):
        return None
    existing = _NOQA_CODES.search(content)
    if existing is not None:
        at = char_to_unit(content, existing.end("codes"), encoding)
        return LineEdit((row, at), (row, at), f", {finding.code}")
    at = char_to_unit(content, len(content.rstrip()), encoding)
    end = char_to_unit(content, len(content), encoding)
    return LineEdit((row, at), (row, end), f"  # noqa: {finding.code}")


def _line_end_is_code(text: str, line: int) -> bool:
    """No token (a string, an f-string part) runs from ``line`` onto the next line."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.start[0] > line:
                return True
            if token.start[0] <= line < token.end[0] and token.type not in (tokenize.NL, tokenize.NEWLINE):
                return False
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return False
    return True
