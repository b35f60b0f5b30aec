"""``tether fix --interactive``: review every hunk of the fixes and apply only the accepted ones.

Works like ``git add -p``: each hunk is shown (coloured on a terminal) and answered with
y (apply), n (skip), a (apply this and the rest of the file), q (stop; hunks accepted so far
are still written) or ? (help).

A fix can span hunks that only make sense together, so two things keep a partial selection
correct. Hunks that touch the same fix's lines are shown as one. And a hunk that only *adds
a definition* (a helper such as ``_keep_task``, its registry set, ``import asyncio``) is not
asked about: it is applied exactly when an accepted hunk uses a name it defines, and left out
otherwise. The partial result is compiled before anything is written, and written atomically.
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
from dataclasses import dataclass, field
from typing import Callable, Sequence

import click

from tether.config import Settings
from tether.diffs import Hunk, apply_hunks, display_path, split_hunks
from tether.model import FileResult

HELP = """y - apply this hunk
n - do not apply this hunk
a - apply this hunk and all later hunks in the file
q - quit; do not apply this hunk or any later one (accepted hunks are still written)
? - print help"""

_NAME = re.compile(r"[A-Za-z_]\w*")


@dataclass
class Review:
    """What an interactive run did, for the summary and the exit code."""

    shown: int = 0
    accepted: int = 0
    files_written: int = 0
    remaining: list = field(default_factory=list)  # (path, finding) still there after the run
    errors: list = field(default_factory=list)
    quit: bool = False


# -- grouping -------------------------------------------------------------------------------


def merge_by_fix(hunks: Sequence[Hunk], fix_ranges: Sequence[tuple[int, int]]) -> list[list[Hunk]]:
    """Hunks grouped so that every fix's old lines (1-based, inclusive) fall in one group."""
    groups = [[h] for h in hunks]
    for first, last in fix_ranges:
        touching = [g for g in groups if any(h.old_start < last and first - 1 < max(h.old_end, h.old_start + 1) for h in g)]
        if len(touching) > 1:
            merged = [h for g in touching for h in g]
            groups = [g for g in groups if g not in touching] + [merged]
    return sorted((sorted(g, key=lambda h: h.old_start) for g in groups), key=lambda g: g[0].old_start)


def _module_bindings(tree: ast.Module) -> dict[str, tuple[int, int]]:
    """Names bound by top-level statements -> the (first, last) 1-based lines that bind them."""
    bound: dict[str, tuple[int, int]] = {}
    for node in tree.body:
        names: list[str] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        for name in names:
            bound.setdefault(name, (first, node.end_lineno or node.lineno))
    return bound


def _names_in(lines: Sequence[str]) -> set[str]:
    names: set[str] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO("".join(lines)).readline):
            if token.type == tokenize.NAME:
                names.add(token.string)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        for line in lines:
            names.update(_NAME.findall(line.split("#", 1)[0]))
    return names


@dataclass
class Group:
    """One question: the smallest changes (hunks without context) that belong together."""

    hunks: list[Hunk]
    defines: set[str]  # module-level names these changes add
    uses: set[str] = field(default_factory=set)  # names added elsewhere that they use
    support_only: bool = False  # only adds definitions: applied when needed, never asked

    def display(self, old: str) -> str:
        """The change on its own, as a unified diff hunk with three lines of context."""
        alone = apply_hunks(old, self.hunks)
        return "".join(h.text for h in split_hunks(old, alone))


def plan_groups(old: str, new: str, fix_ranges: Sequence[tuple[int, int]]) -> list[Group]:
    """The questions to ask, in file order; changes are atomic (no context), so that a helper
    added near a call site is never tied to that call site's fix."""
    atomic = split_hunks(old, new, context=0)
    try:
        old_bound = set(_module_bindings(ast.parse(old)))
        new_bindings = _module_bindings(ast.parse(new))
    except SyntaxError:
        old_bound, new_bindings = set(), {}
    added = {name: lines for name, lines in new_bindings.items() if name not in old_bound}

    def defined_by(hunks: Sequence[Hunk]) -> set[str]:
        return {
            name
            for name, (first, last) in added.items()
            if any(h.new_start < last and first - 1 < h.new_end for h in hunks)
        }

    support, regular = [], []
    for hunk in atomic:
        defines = defined_by([hunk])
        lines = set()
        for name in defines:
            first, last = added[name]
            lines.update(range(first, last + 1))
        only_definitions = bool(defines) and not hunk.removed and all(
            _is_definition_line(numbered, lines) for numbered in _added_line_numbers(hunk)
        )
        (support if only_definitions else regular).append(hunk)
    groups = [Group(hs, defined_by(hs)) for hs in merge_by_fix(regular, fix_ranges)]
    groups += [Group([h], defined_by([h]), support_only=True) for h in support]
    groups.sort(key=lambda g: g.hunks[0].old_start)
    for group in groups:
        own_added = [line for h in group.hunks for line in h.added]
        group.uses = (_names_in(own_added) & set(added)) - group.defines
    return groups


def _added_line_numbers(hunk: Hunk) -> list[tuple[int, str]]:
    """(1-based line in the new text, content) of each added line."""
    out = []
    number = hunk.new_start
    for line in hunk.text.splitlines(keepends=True)[1:]:
        if line.startswith("+"):
            number += 1
            out.append((number, line[1:]))
        elif line.startswith(" "):
            number += 1
    return out


def _is_definition_line(numbered: tuple[int, str], defining_lines: set[int]) -> bool:
    number, content = numbered
    stripped = content.strip()
    return number in defining_lines or not stripped or stripped.startswith("#")


def needed(groups: Sequence[Group], chosen: set[int]) -> set[int]:
    """``chosen`` plus every group that defines a name a chosen group uses (transitively)."""
    definers = {name: i for i, g in enumerate(groups) for name in g.defines}
    result = set(chosen)
    stack = list(chosen)
    while stack:
        for name in groups[stack.pop()].uses:
            index = definers.get(name)
            if index is not None and index not in result:
                result.add(index)
                stack.append(index)
    return result


# -- the conversation ---------------------------------------------------------------------------


def ask(prompt: str) -> str:
    """One answer; end of input counts as q."""
    while True:
        try:
            answer = click.prompt(prompt, default="", show_default=False, prompt_suffix=" ").strip().lower()
        except (click.Abort, EOFError):
            click.echo("")
            return "q"
        if answer in ("y", "n", "a", "q"):
            return answer
        click.echo(HELP)


def show(text: str, colour: bool) -> None:
    if colour:
        from rich.console import Console

        from tether.diffs import render_diff

        render_diff(text, Console())
    else:
        click.echo(text, nl=False)


def review_file(
    result: FileResult,
    settings: Settings,
    review: Review,
    colour: bool,
    answer: Callable[[str], str] = ask,
) -> str | None:
    """Ask about each hunk of one file's fixes; the text to write, or None for no change."""
    old, new = result.old_text, result.new_text
    fix_ranges = [f.lines for f in (x.choose_fix(settings.unsafe_fixes, settings.style) for x in result.findings) if f]
    groups = plan_groups(old, new, fix_ranges)
    asked = [i for i, g in enumerate(groups) if not g.support_only]
    shown_path = display_path(result.path)
    show(f"--- a/{shown_path}\n+++ b/{shown_path}\n", colour)
    chosen: set[int] = set()
    apply_rest = False
    for position, index in enumerate(asked, start=1):
        show(groups[index].display(old), colour)
        review.shown += 1
        if apply_rest:
            reply = "y"
            click.echo(f"({position}/{len(asked)}) applying (a)")
        else:
            reply = answer(f"({position}/{len(asked)}) Apply this hunk to {shown_path} [y,n,a,q,?]?")
        if reply == "q":
            review.quit = True
            break
        if reply in ("y", "a"):
            chosen.add(index)
            apply_rest = apply_rest or reply == "a"
    applied = needed(groups, chosen)
    for index in sorted(applied - chosen):
        names = ", ".join(f"`{n}`" for n in sorted(groups[index].defines))
        if groups[index].support_only:
            click.echo(f"{shown_path}: also adding {names}, which the accepted changes use:")
            show(groups[index].display(old), colour)
        else:
            click.echo(f"{shown_path}: also applying a declined hunk: it defines {names}, which an accepted hunk uses")
    review.accepted += len(chosen)
    if not applied:
        return None
    return apply_hunks(old, [h for i in sorted(applied) for h in groups[i].hunks])


def run_interactive(paths_results: Sequence[FileResult], settings: Settings, colour: bool | None = None) -> Review:
    """Review and write each file's accepted hunks; ``paths_results`` come from a diff run."""
    from tether.engine import analyse
    from tether.source import SourceError, read_source, write_source

    colour = sys.stdout.isatty() if colour is None else colour
    review = Review()
    for result in paths_results:
        if result.error:
            review.errors.append(result.error)
            continue
        if review.quit or result.new_text is None or result.old_text is None or result.new_text == result.old_text:
            review.remaining.extend((result.path, f) for f in result.findings)  # nothing written
            continue
        try:
            source = read_source(result.path)
        except SourceError as exc:
            review.errors.append(str(exc))
            continue
        if source.text != result.old_text:
            review.errors.append(f"{result.path}: changed on disk while tether was working; skipped, run again")
            continue
        text = review_file(result, settings, review, colour)
        final = result.old_text if text is None else text
        if text is not None and text != result.old_text:
            try:
                compile(text, result.path, "exec", dont_inherit=True)
            except SyntaxError as exc:
                review.errors.append(
                    f"{result.path}: the accepted hunks do not compile on their own (line {exc.lineno}: {exc.msg}); "
                    "file left untouched"
                )
                review.remaining.extend((result.path, f) for f in result.findings)
                continue
            try:
                write_source(source, text)
            except SourceError as exc:
                review.errors.append(str(exc))
                review.remaining.extend((result.path, f) for f in result.findings)
                continue
            review.files_written += 1
        try:
            _, left = analyse(final, result.path, settings)
        except SyntaxError:
            left = list(result.findings)
        review.remaining.extend((result.path, f) for f in left)
    return review
