"""Writing command results to the terminal or a pipe.

Kept apart from the CLI so that the LSP and tests can reuse the formatting, and so rich is
imported only when the output really is a terminal.
"""

from __future__ import annotations

import sys
from typing import Mapping, Sequence

import click

from tether.config import Settings
from tether.model import FileResult
from tether import report


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def emit_check(results: Sequence[FileResult], settings: Settings, fmt: str, texts: Mapping[str, bytes]) -> None:
    with_findings = [r for r in results if r.findings]
    if fmt == "json":
        click.echo(report.dump_json(_json_records(with_findings, settings, texts)))
        return
    if fmt == "sarif":
        from tether.sarif import sarif_document
        import json

        click.echo(json.dumps(sarif_document(results, settings), indent=2, ensure_ascii=False))
        return
    if fmt == "github":
        for result in with_findings:
            for finding in result.findings:
                click.echo(report.github_line(result.path, finding))
        return
    lines_of = lambda result: report.source_lines(result.path, texts.get(result.path))  # noqa: E731
    for message in report.check_messages(results, fmt, settings.unsafe_fixes, settings.style, lines_of):
        click.echo(message)


def _json_records(results: Sequence[FileResult], settings: Settings, texts: Mapping[str, bytes]) -> list[dict]:
    """Ruff-shaped records; each fix is rendered on its own to give its exact edits."""
    from tether.engine import render_one_fix
    from tether.registry import rule_by_code
    from tether.source import SourceError, decode_bytes, read_source

    records = []
    for result in results:
        try:
            source = decode_bytes(texts[result.path], result.path) if result.path in texts else read_source(result.path)
        except SourceError:
            source = None
        for finding in result.findings:
            fix = finding.choose_fix(True, settings.style)
            edits = None
            if fix is not None and source is not None:
                new_text = render_one_fix(source.text, result.path, settings, finding, fix)
                if new_text is not None:
                    edits = report.fix_edits(source.text, new_text)
            rule = rule_by_code(finding.code)
            records.append(report.json_record(result.path, finding, fix, edits, rule.url if rule else ""))
    return records


def emit_diffs(results: Sequence[FileResult], created: Sequence[tuple[str, str | None, str]] = ()) -> bool:
    """Print the diff of each changed file, then of each ``created`` (path, old text or None,
    new text): files a ``fix`` would write besides the checked ones (the helpers module)."""
    from tether.diffs import render_diff, unified_diff

    changed = False
    terminal = _stdout_is_terminal()
    console = None
    diffs = []
    for result in results:
        if result.new_text is None or result.old_text is None or result.new_text == result.old_text:
            continue
        bom = "\ufeff" if result.encoding == "utf-8-sig" else ""  # so the patch matches the file's bytes
        diffs.append((unified_diff(bom + result.old_text, bom + result.new_text, result.path), result.encoding))
    diffs.extend((unified_diff(old, new, path), "utf-8") for path, old, new in created)
    for text, encoding in diffs:
        changed = True
        if terminal:
            if console is None:
                from rich.console import Console

                console = Console()
            render_diff(text, console)
        else:
            encoding = encoding or "utf-8"
            encoding = "utf-8" if encoding == "utf-8-sig" else encoding
            sys.stdout.flush()
            sys.stdout.buffer.write(text.encode(encoding, errors="surrogateescape"))
            sys.stdout.buffer.flush()
    return changed


def emit_fix_summary(results: Sequence[FileResult], settings: Settings, dry_run: bool) -> None:
    applied = sum(len(r.applied) for r in results if r.new_text is not None)
    files = sum(1 for r in results if r.applied and r.new_text is not None)
    remaining = [(r, f) for r in results for f in r.remaining]
    if not dry_run:
        for result, finding in remaining:
            click.echo(report.concise_line(result.path, finding, settings.unsafe_fixes, settings.style))
            reason = dict(result.not_fixed).get((finding.code, finding.line, finding.col))
            if reason:
                click.echo(f"  = not fixed: {reason}")
    verb = "Would fix" if dry_run else "Fixed"
    noun = "finding" if applied == 1 else "findings"
    message = f"{verb} {applied} {noun} in {files} file{'s' if files != 1 else ''}"
    if remaining:
        message += f" ({len(remaining)} remaining"
        unsafe = sum(1 for _, f in remaining if f.choose_fix(True, settings.style) and not f.choose_fix(settings.unsafe_fixes, settings.style))
        if unsafe and not settings.unsafe_fixes:
            message += f"; {unsafe} fixable with --unsafe-fixes"
        message += ")"
    click.echo(message + ".", err=True)


def emit_rules(code: str | None, fmt: str) -> int:
    from tether.registry import all_rules, rule_by_code

    if code:
        rule = rule_by_code(code)
        if rule is None:
            click.echo(f"error: unknown rule {code!r}; `tether rules` lists them", err=True)
            return 2
        if fmt == "json":
            import json

            click.echo(json.dumps(_rule_record(rule), indent=2))
        else:
            click.echo(f"{rule.code} {rule.name}\n")
            click.echo(rule.documentation)
        return 0
    if fmt == "json":
        import json

        click.echo(json.dumps([_rule_record(r) for r in all_rules()], indent=2))
        return 0
    width = max(len(r.name) for r in all_rules())
    for rule in all_rules():
        click.echo(f"{rule.code}  {rule.name.ljust(width)}  {rule.summary}")
    return 0


def _rule_record(rule) -> dict:
    return {"code": rule.code, "name": rule.name, "summary": rule.summary, "url": rule.url, "explanation": rule.documentation}
