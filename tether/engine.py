"""One file at a time: prefilter, analyse, and (for diff/fix) render and verify the fixes.

The order of the stages is the performance design of SPEC section 6: most files are rejected
by a byte search before they are even decoded; the rest are parsed with ``ast``; libcst is
imported only when a fix is rendered. Every rewritten text must compile and a fresh analysis
of it must find nothing more that the same options would fix, or the file is left untouched
and the run reports an error: a codemod must never write code it has not checked.
"""

from __future__ import annotations

import re
import sys
from functools import lru_cache
from typing import Iterable, Sequence

from tether.analysis import ModuleInfo, parse_module
from tether.config import Settings
from tether.model import FileResult, Finding
from tether.prefilter import Prefilter, contains_token, tokens_match, trigger_group
from tether.source import SourceError, SourceFile, decode_bytes, read_source, write_source

MAX_PASSES = 4
_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*))?", re.IGNORECASE)


def enabled_rules(settings: Settings):
    from tether.registry import all_rules

    return [rule for rule in all_rules() if settings.rule_enabled(rule.code)]


def trigger_tokens(settings: Settings, rules=None) -> tuple[bytes, ...]:
    """Every trigger name of the enabled rules plus the configured spawners' last components."""
    rules = enabled_rules(settings) if rules is None else rules
    tokens = {token for rule in rules for token in rule.triggers}
    tokens.update(name.rsplit(".", 1)[-1].encode() for name in settings.extra_spawners)
    return tuple(sorted(tokens))


def build_prefilter(settings: Settings, rules=None) -> "Prefilter":
    """The byte prefilter of a run: a file that it rejects cannot hold a finding."""
    rules = enabled_rules(settings) if rules is None else rules
    return Prefilter(rules, settings.extra_spawners)


def passes_prefilter(data: bytes, tokens) -> bool:
    """Whether ``data`` may hold a finding; ``tokens`` is a Prefilter or trigger names."""
    if isinstance(tokens, Prefilter):
        return tokens(data)
    return any(contains_token(data, token) for token in tokens)


def rule_may_fire(rule, text, settings: Settings) -> bool:
    """The per-rule prefilter on decoded text (used when another rule let the file through)."""
    if settings.extra_spawners or not rule.triggers:
        return True
    group = trigger_group(rule)
    if not tokens_match(group, text):
        return False
    pattern = group[2]
    return pattern is None or _compiled(pattern).search(text.encode("utf-8", "surrogatepass")) is not None


@lru_cache(maxsize=None)
def _compiled(pattern: bytes):
    return re.compile(pattern)


def is_suppressed(finding: Finding, lines: Sequence[str]) -> bool:
    if finding.line - 1 >= len(lines):
        return False
    match = _NOQA.search(lines[finding.line - 1])
    if match is None:
        return False
    codes = match.group("codes")
    if not codes:
        return True
    return finding.code in {c.strip().upper() for c in codes.split(",")}


def analyse(text: str, path: str, settings: Settings, rules=None) -> tuple[ModuleInfo, list[Finding]]:
    """Findings for ``text`` (raises SyntaxError when it does not parse)."""
    rules = enabled_rules(settings) if rules is None else rules
    tree = parse_module(text, path)
    module = ModuleInfo(text, tree, settings.extra_spawners)
    findings: list[Finding] = []
    for rule in rules:
        if not rule_may_fire(rule, text, settings):
            continue
        findings.extend(rule.check(module, settings))
    if findings and "noqa" in text.lower():
        findings = [f for f in findings if not is_suppressed(f, module.lines)]
    findings.sort(key=Finding.sort_key)
    return module, _dedupe(findings)


def _dedupe(findings: Iterable[Finding]) -> list[Finding]:
    seen = set()
    unique = []
    for finding in findings:
        key = (finding.code, finding.line, finding.col)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique


_NEWER_SYNTAX = re.compile(
    r"^\s*(?:type\s+[A-Za-z_]\w*\s*[\[=]"  # PEP 695 type alias (3.12)
    r"|(?:async\s+)?def\s+[A-Za-z_]\w*\s*\["  # PEP 695 generic function (3.12)
    r"|class\s+[A-Za-z_]\w*\s*\[)"  # PEP 695 generic class (3.12)
)


def syntax_error_message(path: str, exc: SyntaxError, text: str | None = None) -> str:
    line = exc.lineno or 1
    col = exc.offset or 1
    message = (exc.msg or str(exc)).splitlines()[0] if (exc.msg or str(exc)) else "invalid syntax"
    if text is not None and _looks_like_newer_syntax(exc, text):
        running = f"{sys.version_info[0]}.{sys.version_info[1]}"
        message += f" (this looks like syntax newer than Python {running}, which runs tether: run tether with a newer Python)"
    return f"{path}:{line}:{col}: cannot parse: {message}"


def _looks_like_newer_syntax(exc: SyntaxError, text: str) -> bool:
    """Whether the failing line uses a construct that a newer Python accepts.

    A cheap look at the one line (PEP 695 generics and type aliases; PEP 701 f-strings,
    whose errors 3.11 reports as "f-string: ..."): parsing the file with a newer grammar
    would be exact but cost more than the whole analysis of a large tree.
    """
    if sys.version_info >= (3, 12):
        return False
    if (exc.msg or "").startswith("f-string"):
        return True
    lines = text.splitlines()
    if not exc.lineno or exc.lineno > len(lines):
        return False
    return bool(_NEWER_SYNTAX.match(lines[exc.lineno - 1]))


def check_text(text: str, path: str, settings: Settings) -> FileResult:
    try:
        _, findings = analyse(text, path, settings)
    except SyntaxError as exc:
        return FileResult(path, error=syntax_error_message(path, exc, text))
    except (RecursionError, MemoryError):  # the parser's own stack limits, e.g. 50,000 nested "-"
        return FileResult(path, error=f"{path}:1:1: cannot parse: too deeply nested")
    return FileResult(path, findings=tuple(findings))


def fix_text(text: str, path: str, settings: Settings) -> FileResult:
    """Apply every fix the options allow; ``new_text`` is the verified result."""
    from tether.registry import rule_by_code
    from tether.render import Planned, render_fixes

    rules = enabled_rules(settings)
    try:
        module, findings = analyse(text, path, settings, rules)
    except SyntaxError as exc:
        return FileResult(path, error=syntax_error_message(path, exc, text))
    except (RecursionError, MemoryError):  # the parser's own stack limits, e.g. 50,000 nested "-"
        return FileResult(path, error=f"{path}:1:1: cannot parse: too deeply nested")
    original_findings = tuple(findings)
    current = text
    applied: list[Finding] = []
    helper_imports: list[str] = []
    failed: list = []  # (finding, reason) from the last rendering pass, positions in ``current``
    for _ in range(MAX_PASSES):
        planned = []
        for finding in findings:
            fix = finding.choose_fix(settings.unsafe_fixes, settings.style)
            if fix is not None:
                planned.append(Planned(rule_by_code(finding.code), finding, fix))
        if not planned:
            break
        result = render_fixes(module, planned, settings)
        failed = result.failed
        if not result.applied:
            break
        try:
            compile(result.text, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return FileResult(
                path,
                findings=original_findings,
                error=f"{path}: internal error: the fix produced code that does not compile "
                f"(line {exc.lineno}: {exc.msg}); file left untouched, please report it",
            )
        applied.extend(result.applied)
        helper_imports.extend(k for k in result.imported_kinds if k not in helper_imports)
        current = result.text
        module, findings = analyse(current, path, settings, rules)
    else:
        leftover = [f for f in findings if f.choose_fix(settings.unsafe_fixes, settings.style)]
        if leftover:
            return FileResult(
                path,
                findings=original_findings,
                error=f"{path}: internal error: fixes did not converge after {MAX_PASSES} passes "
                "(a rewrite was flagged again); file left untouched, please report it",
            )
    return FileResult(
        path,
        findings=original_findings,
        old_text=text,
        new_text=current,
        applied=tuple(applied),
        remaining=tuple(findings),
        helper_imports=tuple(helper_imports),
        not_fixed=_not_fixed(findings, failed),
    )


def _not_fixed(remaining, failed) -> tuple:
    """Reasons for the remaining findings whose fix the renderer declined (so that a "[*]
    fixable" finding left after ``tether fix`` comes with its explanation)."""
    keys = {(f.code, f.line, f.col) for f in remaining}
    reasons = {}
    for finding, reason in failed:
        key = (finding.code, finding.line, finding.col)
        if key in keys:
            reasons.setdefault(key, reason)
    return tuple(reasons.items())


def render_one_fix(text: str, path: str, settings: Settings, finding: Finding, fix) -> str | None:
    """``text`` with just this one fix applied (for JSON edits and editor code actions)."""
    from tether.registry import rule_by_code
    from tether.render import Planned, render_fixes

    try:
        module = ModuleInfo(text, parse_module(text, path), settings.extra_spawners)
    except SyntaxError:
        return None
    result = render_fixes(module, [Planned(rule_by_code(finding.code), finding, fix)], settings)
    if not result.applied:
        return None
    try:
        compile(result.text, path, "exec", dont_inherit=True)
    except SyntaxError:
        return None
    return result.text


def internal_error(path: str, exc: BaseException) -> FileResult:
    """A one-line report for a bug in tether itself, naming where it happened.

    One file hitting a bug must not end the run (the other files are still checked and fixed)
    nor print a traceback; the file is left untouched and the message asks for a report.
    """
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "tether" in frame.filename or "codemods" in frame.filename:
            where = f" at {frame.filename.rsplit('/', 2)[-2]}/{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
            break
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return FileResult(
        path,
        error=f"{path}: internal error: {exc.__class__.__name__}: {detail}{where}; file left untouched, please report it",
    )


def process_data(data: bytes, path: str, settings: Settings, mode: str, tokens=None) -> tuple[FileResult, SourceFile | None]:
    """Run ``mode`` ("check", "diff" or "fix") on raw bytes; never raises for bad input.

    ``tokens`` is the run's prefilter (``build_prefilter``), built once per run by callers
    that process many files; trigger names as bytes are accepted too. An unexpected exception
    (a bug in a rule or the renderer) becomes an "internal error" result for this file alone.
    """
    try:
        return _process_data(data, path, settings, mode, tokens)
    except RecursionError:  # ast coped, a later recursive stage (libcst rendering) did not
        return FileResult(path, error=f"{path}: too deeply nested to rewrite; file left untouched"), None
    except Exception as exc:  # noqa: BLE001 - see the docstring
        return internal_error(path, exc), None


def _process_data(data: bytes, path: str, settings: Settings, mode: str, tokens=None) -> tuple[FileResult, SourceFile | None]:
    tokens = build_prefilter(settings) if tokens is None else tokens
    if not passes_prefilter(data, tokens):
        return FileResult(path), None
    try:
        source = decode_bytes(data, path)
    except SourceError as exc:
        return FileResult(path, error=str(exc)), None
    if mode == "check":
        return check_text(source.text, path, settings), source
    result = fix_text(source.text, path, settings)
    if result.new_text is not None:
        result = _with_encoding(result, source)
    return result, source


def _with_encoding(result: FileResult, source: SourceFile) -> FileResult:
    from dataclasses import replace

    if result.new_text != result.old_text:
        try:
            source.encode(result.new_text)
        except UnicodeEncodeError as exc:
            return replace(
                result,
                new_text=None,
                error=f"{source.path}: the fix cannot be encoded as {source.encoding}: {exc.reason}; file left untouched",
            )
    return replace(result, encoding=source.encoding)


def read_path(path: str) -> tuple[bytes | None, FileResult | None]:
    """The file's bytes, or a FileResult carrying the one-line error."""
    try:
        with open(path, "rb") as handle:
            return handle.read(), None
    except IsADirectoryError:
        return None, FileResult(path, error=f"{path}: is a directory, expected a Python file")
    except OSError as exc:
        return None, FileResult(path, error=f"{path}: cannot read: {exc.strerror or exc}")


def process_path(path: str, settings: Settings, mode: str, tokens=None, write: bool = False) -> FileResult:
    """Read, process and (for ``fix`` with ``write``) atomically rewrite one file."""
    data, failure = read_path(path)
    if data is None:
        return failure  # type: ignore[return-value]
    return process_loaded(path, data, settings, mode, tokens, write)


def process_loaded(path: str, data: bytes, settings: Settings, mode: str, tokens=None, write: bool = False) -> FileResult:
    """``process_path`` for bytes already read from ``path``."""
    result, source = process_data(data, path, settings, mode, tokens)
    if write and source is not None and result.new_text is not None and result.new_text != result.old_text:
        try:
            write_source(source, result.new_text)
        except SourceError as exc:
            from dataclasses import replace

            return replace(result, error=str(exc), applied=(), remaining=result.findings)
    return result


__all__ = [
    "analyse",
    "build_prefilter",
    "check_text",
    "enabled_rules",
    "fix_text",
    "is_suppressed",
    "process_data",
    "passes_prefilter",
    "process_loaded",
    "process_path",
    "read_path",
    "read_source",
    "trigger_tokens",
]
