"""Carrying out fix plans with libcst, touching only the statements that hold a finding.

Parsing a whole module with libcst costs about ten times ``ast.parse`` (and its metadata much
more), so the renderer cuts out each top-level statement that holds a fix, parses just that
text, finds the target nodes by the positions the ``ast`` analysis recorded (libcst reports
the same line and character column), applies the rule's edits and splices the result back.
Everything outside those statements, and every byte of a file without fixes, is untouched.

Rules describe a rewrite as edits:
- ``NodeEdit``: replace one node (found by its libcst class name and start position);
- ``BlockEdit``: replace a statement and everything after it in its block (how a region is
  wrapped in ``try``/``finally`` or a statement becomes several).
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field
from typing import Callable, Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from tether import helpers
from tether.analysis import ModuleInfo
from tether.model import Finding, Fix
from tether.source import detect_newline, split_lines

class FixNotApplicable(Exception):
    """The fix cannot be rendered at this place; the finding is reported without a fix."""


@dataclass
class NodeEdit:
    kind: str  # libcst class name of the node, e.g. "Call"
    line: int
    col: int  # 1-based, characters
    apply: Callable[[cst.CSTNode], cst.CSTNode]


@dataclass
class BlockEdit:
    line: int  # start of the anchor statement
    col: int
    apply: Callable[[list[cst.BaseStatement]], list[cst.BaseStatement]]


Edit = NodeEdit | BlockEdit


def detect_indent(text: str) -> str:
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.INDENT:
                return token.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return "    "


@dataclass
class RenderContext:
    """What a rule's renderer may ask for while building its edits."""

    module: ModuleInfo
    settings: object
    newline: str
    indent: str
    needed_helpers: dict[str, str] = field(default_factory=dict)  # kind -> name
    taken_names: set[str] = field(default_factory=set)
    needs_asyncio_import: bool = False
    helper_sources: dict[str, str] = field(default_factory=dict)
    local_names: dict[int, set[str]] = field(default_factory=dict)  # id(function) -> names
    # kind -> local name, for helpers imported from the configured ``helpers-module``
    imported_helpers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.taken_names |= set(self.module.all_names)
        self.helpers_module: str | None = getattr(self.settings, "helpers_module", None)
        self._existing = helpers.existing_helpers(self.module.text)
        if self.helpers_module:
            self._existing = {**helpers.imported_helpers(self.module.tree, self.helpers_module), **self._existing}
        self._asyncio: str | None = self.module.asyncio_alias

    @property
    def config(self) -> cst.PartialParserConfig:
        return cst.PartialParserConfig(default_newline=self.newline, default_indent=self.indent)

    @property
    def asyncio(self) -> str:
        """The name generated code uses for the asyncio module, importing it if needed."""
        if self._asyncio is None:
            self._asyncio = helpers.unique_name("asyncio", self.taken_names) if "asyncio" in self.taken_names else "asyncio"
            self.taken_names.add(self._asyncio)
            self.needs_asyncio_import = True
        return self._asyncio

    def helper(self, kind: str) -> str:
        """The name to call for helper ``kind``, emitting it once per module if missing."""
        if kind in self._existing:
            return self._existing[kind]
        if self.helpers_module:
            if kind not in self.imported_helpers:
                self.imported_helpers[kind] = self.fresh_name(helpers.TEMPLATES[kind].names[0])
            return self.imported_helpers[kind]
        if kind not in self.needed_helpers:
            template = helpers.TEMPLATES[kind]
            required = {helpers.TEMPLATES[r].names[0]: self.helper(r) for r in template.requires}
            asyncio_name = self.asyncio if "{asyncio}" in template.source else "asyncio"
            source, name = helpers.render_helper(template, self.taken_names, asyncio_name, required, self.indent)
            self.needed_helpers[kind] = name
            self.helper_sources[kind] = source
        return self.needed_helpers[kind]

    def fresh_name(self, base: str) -> str:
        name = helpers.unique_name(base, self.taken_names)
        self.taken_names.add(name)
        return name

    def fresh_local_name(self, base: str, function: ast.AST) -> str:
        """A name for a new local variable of ``function`` (an ast node of ``module``).

        It only has to avoid the names the function itself uses (a global it reads would
        become an unbound local), the helpers and the asyncio alias, so every function can
        have its own ``tasks`` instead of ``tasks_1``, ``tasks_2``... across the module.
        """
        used = self.local_names.get(id(function))
        if used is None:
            used = self.local_names[id(function)] = _names_used_in(function)
        generated = (
            set(self.needed_helpers.values())
            | set(self.imported_helpers.values())
            | set(self._existing.values())
            | {self._asyncio or "asyncio"}
        )
        name = helpers.unique_name(base, used | generated)
        used.add(name)
        self.taken_names.add(name)
        return name

    def statement(self, code: str) -> cst.BaseStatement:
        return cst.parse_statement(code, config=self.config)

    def expression(self, code: str) -> cst.BaseExpression:
        return cst.parse_expression(code, config=self.config)

    def code_of(self, node: cst.CSTNode) -> str:
        return cst.Module(body=[], default_newline=self.newline, default_indent=self.indent).code_for_node(node)


def _names_used_in(function: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
    return names


@dataclass
class Planned:
    rule: object
    finding: Finding
    fix: Fix


@dataclass
class RenderResult:
    text: str
    applied: list[Finding]
    failed: list[tuple[Finding, str]]
    imported_kinds: tuple[str, ...] = ()  # helpers the text now imports from ``helpers-module``


def _top_level_ranges(module: ModuleInfo) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for node in module.tree.body:
        first, last = module.statement_lines(node)
        if ranges and first <= ranges[-1][1]:  # `a = 1; b = 2` share a line
            ranges[-1] = (ranges[-1][0], max(last, ranges[-1][1]))
        else:
            ranges.append((first, last))
    return ranges


def _region_of(ranges: Sequence[tuple[int, int]], lines: tuple[int, int]) -> tuple[int, int] | None:
    covering = [r for r in ranges if r[0] <= lines[1] and lines[0] <= r[1]]
    if not covering:
        return None
    return covering[0][0], covering[-1][1]


class _Locator(cst.CSTVisitor):
    """Maps the edits' (kind, line, col) keys to the snippet's nodes."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, node_keys: set[tuple[str, int, int]], block_keys: set[tuple[int, int]]):
        self.node_keys = node_keys
        self.block_keys = block_keys
        self.nodes: dict[tuple[str, int, int], cst.CSTNode] = {}
        self.anchors: dict[tuple[int, int], cst.CSTNode] = {}

    def on_visit(self, node: cst.CSTNode) -> bool:
        position = self.get_metadata(PositionProvider, node, None)
        if position is not None:
            start = (position.start.line, position.start.column + 1)
            key = (type(node).__name__, *start)
            if key in self.node_keys and key not in self.nodes:
                self.nodes[key] = node
            if start in self.block_keys and isinstance(node, cst.BaseStatement) and start not in self.anchors:
                self.anchors[start] = node
        return True


class _Applier(cst.CSTTransformer):
    def __init__(self, node_edits: dict[int, list[NodeEdit]], block_edits: dict[int, list[BlockEdit]]):
        self.node_edits = node_edits
        self.block_edits = block_edits

    def on_leave(self, original_node, updated_node):
        updated = updated_node
        if isinstance(original_node, (cst.IndentedBlock, cst.Module)) and self.block_edits:
            original_body = list(original_node.body)
            body = list(updated.body)
            if len(body) == len(original_body):
                for index in range(len(original_body) - 1, -1, -1):
                    for edit in self.block_edits.get(id(original_body[index]), ()):
                        body = body[:index] + list(edit.apply(body[index:]))
                updated = updated.with_changes(body=body)
        for edit in self.node_edits.get(id(original_node), ()):
            updated = edit.apply(updated)
        return updated


def render_fixes(module: ModuleInfo, planned: Sequence[Planned], settings) -> RenderResult:
    """Apply as many of ``planned`` as do not overlap; the rest wait for the next pass."""
    text = module.text
    lines = split_lines(text)
    newline = detect_newline(text)
    ctx = RenderContext(module=module, settings=settings, newline=newline, indent=detect_indent(text))
    ranges = _top_level_ranges(module)

    chosen: list[tuple[Planned, list[Edit], tuple[int, int]]] = []
    failed: list[tuple[Finding, str]] = []
    used: list[tuple[int, int]] = []
    # Findings may share one fix (e.g. one statement that cancels all of a class's tasks):
    # it is rendered once and counts as applied for each of them.
    sharers: dict[int, list[Finding]] = {}
    for item in sorted(planned, key=lambda p: p.finding.sort_key()):
        leader = next((c[0] for c in chosen if c[0].rule is item.rule and c[0].fix == item.fix), None)
        if leader is not None:
            sharers.setdefault(id(leader.finding), []).append(item.finding)
            continue
        span = item.fix.lines
        if any(span[0] <= u[1] and u[0] <= span[1] for u in used):
            continue  # overlapping rewrites go in a later pass, on the rewritten text
        region = _region_of(ranges, span)
        if region is None:
            failed.append((item.finding, "fix lies outside any statement"))
            continue
        try:
            edits = item.rule.render(item.fix, ctx)
        except FixNotApplicable as exc:
            failed.append((item.finding, str(exc)))
            continue
        used.append(span)
        chosen.append((item, edits, region))

    # Regions may grow when two fixes touch neighbouring top-level statements: merge them.
    regions: list[tuple[int, int]] = []
    for _, _, region in sorted(chosen, key=lambda c: c[2]):
        if regions and region[0] <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(regions[-1][1], region[1]))
        else:
            regions.append(region)

    applied: list[Finding] = []
    replacements: list[tuple[int, int, str]] = []  # (first line, last line, new text)
    for first, last in regions:
        members = [c for c in chosen if first <= c[2][0] and c[2][1] <= last]
        snippet = "".join(lines[first - 1 : last])
        new_snippet, done, errors = _render_region(snippet, first, members, ctx)
        failed.extend(errors)
        if done:
            applied.extend(done)
            applied.extend(f for leader in done for f in sharers.get(id(leader), ()))
            replacements.append((first, last, new_snippet))

    if not applied:
        return RenderResult(text, [], failed)
    for first, last, new_snippet in sorted(replacements, reverse=True):
        lines[first - 1 : last] = [new_snippet]
    new_text = "".join(lines)
    new_text = _insert_header(new_text, module, ctx, min(r[0] for r in replacements))
    return RenderResult(new_text, applied, failed, tuple(ctx.imported_helpers))


def _render_region(snippet: str, first: int, members, ctx: RenderContext):
    offset = first - 1
    try:
        tree = cst.parse_module(snippet, config=ctx.config)
    except cst.ParserSyntaxError as exc:
        return snippet, [], [(m[0].finding, f"libcst cannot parse this statement: {exc.message}") for m in members]
    if tree.code != snippet:
        # libcst drops some bytes it considers whitespace (a form feed opening a statement's
        # line); rewriting would silently change lines the fix never meant to touch.
        return snippet, [], [(m[0].finding, "libcst would not reproduce this statement byte for byte (a form feed opening a line?); fix it by hand") for m in members]
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
    node_keys = {(e.kind, e.line - offset, e.col) for _, edits, _ in members for e in edits if isinstance(e, NodeEdit)}
    block_keys = {(e.line - offset, e.col) for _, edits, _ in members for e in edits if isinstance(e, BlockEdit)}
    locator = _Locator(node_keys, block_keys)
    wrapper.visit(locator)

    node_edits: dict[int, list[NodeEdit]] = {}
    block_edits: dict[int, list[BlockEdit]] = {}
    done: list[Finding] = []
    errors = []
    for item, edits, _ in members:
        targets = []
        for edit in edits:
            if isinstance(edit, NodeEdit):
                target = locator.nodes.get((edit.kind, edit.line - offset, edit.col))
            else:
                target = locator.anchors.get((edit.line - offset, edit.col))
            if target is None:
                break
            targets.append((edit, target))
        else:
            for edit, target in targets:
                bucket = node_edits if isinstance(edit, NodeEdit) else block_edits
                bucket.setdefault(id(target), []).append(edit)
            done.append(item.finding)
            continue
        errors.append((item.finding, "the code to rewrite could not be located (unusual layout)"))
    if not done:
        return snippet, [], errors
    try:
        new_tree = wrapper.module.visit(_Applier(node_edits, block_edits))
    except FixNotApplicable as exc:
        return snippet, [], errors + [(f, str(exc)) for f in done]
    return new_tree.code, done, errors


def _insert_header(text: str, module: ModuleInfo, ctx: RenderContext, first_region: int) -> str:
    """Add ``import asyncio``, the helper imports and the helpers after the leading imports."""
    if not ctx.needs_asyncio_import and not ctx.helper_sources and not ctx.imported_helpers:
        return text
    nl = ctx.newline
    lines = split_lines(text)
    after = helpers.insertion_line(module.tree)
    if after == 0:
        # keep a shebang, coding cookie or licence header at the very top
        while after < len(lines) and lines[after].lstrip().startswith("#"):
            after += 1
    after = min(after, first_region - 1)
    if after > 0 and not lines[after - 1].endswith(("\n", "\r")):
        lines[after - 1] += nl
    block: list[str] = []
    if ctx.needs_asyncio_import:
        alias = ctx.asyncio
        block.append(f"import asyncio{'' if alias == 'asyncio' else ' as ' + alias}{nl}")
    if ctx.imported_helpers:
        block.append(helpers.import_line(ctx.helpers_module, ctx.imported_helpers) + nl)
    if ctx.helper_sources:
        sources = [ctx.helper_sources[k] for k in helpers.TEMPLATES if k in ctx.helper_sources]
        body = (nl * 3).join(s.rstrip("\n").replace("\n", nl) for s in sources)
        block.append(f"{nl}{nl}" if after > 0 or block else "")
        block.append(body + nl)
        following = lines[after] if after < len(lines) else ""
        if following.strip():
            block.append(nl * 2)
        elif after + 1 < len(lines) and lines[after + 1].strip():
            block.append(nl)
    elif after < len(lines) and lines[after].strip() and after == 0:
        block.append(nl)
    elif after < len(lines) and lines[after].lstrip().startswith(("def ", "async def ", "class ", "@")):
        block.append(nl * 2)  # only imports were added, right above a definition: PEP 8 spacing
    lines[after:after] = block
    return "".join(lines)


def parse_python(code: str) -> None:
    """Raise SyntaxError if ``code`` is not valid Python (what every rewrite must pass)."""
    compile(code, "<tether>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
