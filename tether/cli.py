"""``tether`` command line: check, diff, fix, rules (and lsp).

Exit codes follow SPEC section 1: check 0/1/2 (clean, findings, error), diff 0/1/2 (no change,
changes, error), fix 0/1/2 (all fixed, findings remain, error). An error is always one line on
stderr naming the file; the rest of the run goes on. Heavy modules (libcst, rich) are imported
only by the code paths that need them, so ``--version`` and clean trees start fast.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Sequence

import click

from tether import __version__
from tether.config import STYLES, ConfigError, Settings, codes_option, parse_target_version, resolve_settings
from tether.model import FileResult

OUTPUT_FORMATS = ("full", "concise", "json", "sarif", "github")


@dataclass
class Run:
    settings: Settings
    paths: tuple[str, ...]
    stdin_filename: str | None
    jobs: int | None
    no_cache: bool
    shard: tuple[int, int] | None = None


def _common_options(func):
    options = [
        click.argument("paths", nargs=-1, type=click.Path()),
        click.option("--select", help="Rule codes or prefixes to enable, comma-separated (e.g. TET1,TET201)."),
        click.option("--ignore", help="Rule codes or prefixes to disable, comma-separated."),
        click.option("--target-version", help="Python version the code targets: py38..py314 (default: from requires-python, else py311)."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False), help="Read settings from this pyproject.toml or tether.toml."),
        click.option("--unsafe-fixes/--no-unsafe-fixes", default=None, help="Also apply fixes that can change behaviour beyond the orphaned tasks."),
        click.option("--style", type=click.Choice(STYLES), help="Preferred fix form: guard (default) or taskgroup (needs --unsafe-fixes and py311+)."),
        click.option("--stdin-filename", help="Name of the file read from '-' (for settings and messages)."),
        click.option("--no-cache", is_flag=True, help="Do not read or write the .tether_cache/ result cache."),
        click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: number of cores)."),
        click.option("--shard", callback=_shard_option, metavar="K/N", help="Only the K-th of N deterministic parts of the file list (for CI matrices)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _shard_option(ctx, param, value):
    if value is None:
        return None
    from tether.runner import parse_shard

    try:
        return parse_shard(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[-1]) from None


def _make_run(paths, select, ignore, target_version, config_file, unsafe_fixes, style, stdin_filename, no_cache, jobs, shard=None) -> Run:
    paths = tuple(paths) or (".",)
    try:
        overrides = {
            "select": codes_option(select, "--select"),
            "ignore": codes_option(ignore, "--ignore"),
            "target_version": parse_target_version(target_version) if target_version else None,
            "unsafe_fixes": unsafe_fixes,
            "style": style,
        }
        anchor = [stdin_filename] if paths == ("-",) and stdin_filename else [p for p in paths if p != "-"] or ["."]
        settings = resolve_settings(anchor, config_file, overrides)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    return Run(settings, paths, stdin_filename, jobs, no_cache, shard)


def _stdin_result(run: Run, mode: str) -> tuple[FileResult, bytes]:
    from tether.engine import process_data

    data = sys.stdin.buffer.read()
    name = run.stdin_filename or "-"
    result, _ = process_data(data, name, run.settings, mode)
    return result, data


def _run_paths(run: Run, mode: str, write: bool = False, output_format: str | None = None, recorder=None) -> list[FileResult]:
    """Discover and process the files of ``run``; ``recorder`` (``tether.warm.Recorder``, for
    a plain ``check`` only) collects what the answer depends on and writes the snapshot that
    lets the next identical run skip the command line (``tether.warm``)."""
    from tether.discovery import discover
    from tether.progress import wanted
    from tether.runner import run_files, select_shard, tune_collector

    if recorder is not None:
        recorder.prepare(run.settings)
    files, problems = discover(run.paths, run.settings.exclude, run.settings.project_root, recorder)
    files = select_shard(files, run.shard, run.settings.project_root)
    tune_collector()
    results = [FileResult(p.path, error=f"{p.path}: {p.message}") for p in problems]
    caches: list = []
    results.extend(
        run_files(
            files,
            run.settings,
            mode,
            write=write,
            jobs=run.jobs,
            use_cache=not run.no_cache,
            progress=wanted(output_format),
            caches=caches,
        )
    )
    if recorder is not None and caches:
        recorder.save(run.settings, files, problems, caches[0])
    return results


def _print_errors(results: Sequence[FileResult]) -> bool:
    errors = [r.error for r in results if r.error]
    for error in errors:
        click.echo(f"error: {error}", err=True)
    return bool(errors)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="tether", message="%(prog)s %(version)s")
def main() -> None:
    """Find asyncio tasks that can be orphaned, and rewrite them into structured forms."""


@main.command()
@_common_options
@click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), default="full", show_default=True)
def check(paths, select, ignore, target_version, config_file, unsafe_fixes, style, stdin_filename, no_cache, jobs, shard, output_format):
    """Report findings. Exit 0: none, 1: findings, 2: an error happened."""
    recorder = None
    # only options that change no setting: the warm path replays a snapshot keyed on the paths
    plain = (select, ignore, target_version, config_file, unsafe_fixes, style, stdin_filename, shard) == (None,) * 8
    if plain and not no_cache and "-" not in paths:
        from tether.warm import Recorder

        recorder = Recorder(paths)  # before the settings are read: see Recorder
    run = _make_run(paths, select, ignore, target_version, config_file, unsafe_fixes, style, stdin_filename, no_cache, jobs, shard)
    if run.paths == ("-",):
        result, data = _stdin_result(run, "check")
        results = [result]
        texts = {result.path: data}
    else:
        results = _run_paths(run, "check", output_format=output_format, recorder=recorder)
        texts = {}
    had_error = _print_errors(results)
    from tether import output

    output.emit_check(results, run.settings, output_format, texts)
    if had_error:
        sys.exit(2)
    sys.exit(1 if any(r.findings for r in results) else 0)


@main.command()
@_common_options
def diff(paths, select, ignore, target_version, config_file, unsafe_fixes, style, stdin_filename, no_cache, jobs, shard):
    """Show the fixes as a unified diff without changing any file. Exit 0: no change, 1: changes, 2: error."""
    run = _make_run(paths, select, ignore, target_version, config_file, unsafe_fixes, style, stdin_filename, no_cache, jobs, shard)
    if run.paths == ("-",):
        results = [_stdin_result(run, "diff")[0]]
    else:
        results = _run_paths(run, "diff")
    had_error = _print_errors(results)
    from tether import output

    changed = output.emit_diffs(results, _planned_helpers_module(run.settings, results))
    output.emit_fix_summary(results, run.settings, dry_run=True)
    if had_error:
        sys.exit(2)
    sys.exit(1 if changed else 0)


@main.command()
@_common_options
@click.option("--interactive", "-i", is_flag=True, help="Show each hunk and ask y/n/a/q before applying it, like `git add -p`.")
def fix(paths, select, ignore, target_version, config_file, unsafe_fixes, style, stdin_filename, no_cache, jobs, shard, interactive):
    """Apply the fixes in place. Exit 0: all fixed, 1: findings remain, 2: an error happened.

    `tether fix -` reads a file on stdin and prints the fixed source on stdout.
    """
    run = _make_run(paths, select, ignore, target_version, config_file, unsafe_fixes, style, stdin_filename, no_cache, jobs, shard)
    from tether import output

    if interactive:
        _fix_interactively(run)

    if run.paths == ("-",):
        result, data = _stdin_result(run, "fix")
        if result.new_text is not None and result.encoding and result.new_text != result.old_text:
            from tether.source import encode_text

            sys.stdout.buffer.write(encode_text(result.new_text, result.encoding))
        else:
            sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        results = [result]
    else:
        results = _run_paths(run, "fix", write=True)
    had_error = _print_errors(results)
    had_error = not _provide_helpers_module(run.settings, results) or had_error
    output.emit_fix_summary(results, run.settings, dry_run=False)
    if had_error:
        sys.exit(2)
    sys.exit(1 if any(r.remaining or (r.findings and r.new_text is None) for r in results) else 0)


def _helper_kinds(settings: Settings, results: Sequence[FileResult]) -> set[str]:
    """The helpers that the rewritten files import from ``helpers-module`` (if it is set)."""
    if not settings.helpers_module:
        return set()
    return {kind for r in results if r.new_text is not None for kind in r.helper_imports}


def _planned_helpers_module(settings: Settings, results: Sequence[FileResult]) -> list:
    """For ``diff``: the helpers module ``fix`` would create or complete, as (path, old, new)."""
    kinds = _helper_kinds(settings, results)
    if not kinds:
        return []
    import os

    from tether.helpers import planned_helpers_module

    try:
        planned = planned_helpers_module(settings.project_root or os.getcwd(), settings.helpers_module, kinds)
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"error: cannot read helpers module {settings.helpers_module}: {exc}", err=True)
        return []
    return [planned] if planned else []


def _provide_helpers_module(settings: Settings, results: Sequence[FileResult]) -> bool:
    """With ``helpers-module`` set, make sure the module the fixed files import from exists."""
    kinds = _helper_kinds(settings, results)
    if not kinds:
        return True
    import os

    from tether.helpers import provide_helpers_module

    root = settings.project_root or os.getcwd()
    try:
        written = provide_helpers_module(root, settings.helpers_module, kinds)
    except OSError as exc:
        click.echo(f"error: cannot write helpers module {settings.helpers_module}: {exc.strerror or exc}", err=True)
        return False
    if written:
        click.echo(f"Wrote helpers module {settings.helpers_module} ({os.path.relpath(written)}).", err=True)
    return True


def _fix_interactively(run: Run) -> None:
    if "-" in run.paths:
        click.echo("error: --interactive reads the answers from stdin, so it cannot fix '-'", err=True)
        sys.exit(2)
    from tether.interactive import run_interactive
    from tether.report import concise_line

    results = _run_paths(run, "diff")
    review = run_interactive(results, run.settings)
    if review.files_written and not _provide_helpers_module(run.settings, results):
        review.errors.append("the helpers module could not be written")
    for error in review.errors:
        click.echo(f"error: {error}", err=True)
    for path, finding in review.remaining:
        click.echo(concise_line(path, finding, run.settings.unsafe_fixes, run.settings.style))
    noun = "hunk" if review.shown == 1 else "hunks"
    files = review.files_written
    click.echo(
        f"Applied {review.accepted} of {review.shown} {noun} in {files} file{'s' if files != 1 else ''}"
        f" ({len(review.remaining)} finding{'s' if len(review.remaining) != 1 else ''} remaining).",
        err=True,
    )
    if review.errors:
        sys.exit(2)
    sys.exit(1 if review.remaining else 0)


@main.command()
def lsp():
    """Run the language server on stdio (for editors)."""
    try:
        from tether.lsp.server import main as serve
    except ImportError as exc:  # pygls is an optional dependency: tether[lsp]
        click.echo(f"error: `tether lsp` needs pygls and lsprotocol: pip install 'tether[lsp]' ({exc})", err=True)
        sys.exit(2)
    serve()


@main.command()
@click.argument("code", required=False)
@click.option("--output-format", type=click.Choice(("text", "json")), default="text", show_default=True)
def rules(code, output_format):
    """List the rules, or explain one (e.g. `tether rules TET101`)."""
    from tether import output

    sys.exit(output.emit_rules(code, output_format))


if __name__ == "__main__":  # pragma: no cover
    main()
