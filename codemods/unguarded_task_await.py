"""TET102 unguarded-task-await: a task awaited later, with other awaits in between and no guard.

## What it finds
In an ``async def``, a task bound to a local name (``t = asyncio.create_task(...)``, any
spawner TET101 knows), then other awaits, then ``await t`` in the same block (or in a
statement of that block), with nothing that cancels ``t`` if those awaits fail: no enclosing
``try``/``finally`` or ``except`` that handles ``t``, no ``async with asyncio.TaskGroup()``.

## Why is this bad?
``await t`` is the only place that ties the task to this function. If one of the awaits
before it raises, or this function is cancelled while it waits, the exception leaves the
function and the task keeps running with nobody left to cancel it, await it or see its
failure. Tests and clients are full of this shape: start a server task, talk to it, await it.

## Example
```python
async def test_echo():
    task = asyncio.ensure_future(server.serve())
    await asyncio.sleep(0.1)
    assert await client.echo("hi") == "hi"   # if this raises, the server task leaks
    server.close()
    await task
```

Use instead (the safe fix):
```python
async def test_echo():
    task = asyncio.ensure_future(server.serve())
    try:
        await asyncio.sleep(0.1)
        assert await client.echo("hi") == "hi"
        server.close()
        await task
    except BaseException:
        await _cancel_and_wait(task)
        raise
```
where ``_cancel_and_wait`` (added once per module) cancels the task unless it already
finished and waits until it has.

## Not flagged
``ensure_future(x)`` of anything but a call (it returns ``x`` itself when ``x`` is a future
that other code may share); a task that is passed anywhere (``wait_for(t)``, ``gather(t, ...)``, ``tasks.append(t)``,
a closure) or stored; a task read in an ``except`` or ``finally`` block (the code already
handles it on failure); a task created inside ``async with asyncio.TaskGroup()``; no await
between creation and ``await t``. A region that yields (async generators) gets the finding
but no fix: awaiting in its cleanup is unsafe (SPEC 4).

## Fix safety
The fix is *safe*: the region runs unchanged, and when nothing fails nothing else runs. When
something raises, the handler only cancels ``t`` if it is still running, waits for it, and
re-raises the original exception object; a task that already finished is left untouched (its
result or "exception was never retrieved" report stays as it was) and the wait is skipped, so
even the failure's timing is unchanged. If the caller is cancelled again while the handler
waits, that cancel propagates: it is not swallowed.

There is deliberately no TaskGroup alternative: moving the region into
``async with asyncio.TaskGroup()`` would not only wrap errors in an ExceptionGroup, it would
cancel the intermediate awaits as soon as the task fails (the original finishes them and then
sees the failure at ``await t``), and turn ``try: await t / except ValueError`` handling of the
task's own failure into an ExceptionGroup that handler no longer catches.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterator

from tether.analysis import SPAWN_ASYNCIO_TRIGGERS, SPAWN_TRIGGERS, TASK_GROUP_TYPES, ModuleInfo
from tether.blocks import (
    block_of,
    cst_statement_count,
    end_position,
    in_cleanup,
    position,
    shares_line_with_previous,
    suspension_points,
    whole_lines,
    yields,
)
from tether.model import SAFE, Finding, Fix
from tether.rule import Rule, lazy_codemod_command

# Reads of the task inside the region that neither hand it on nor manage its failure.
INSPECTIONS = frozenset({"done", "cancelled", "result", "exception", "get_name", "set_name", "get_coro", "cancel"})


@dataclass
class Candidate:
    """An unguarded task: bound by ``assign`` at block[index], first awaited in block[last]."""

    name: str
    assign: ast.stmt
    block: list
    index: int
    last: int
    awaited: ast.Await

    @property
    def blocker(self) -> str | None:
        """Why the region cannot be wrapped automatically, or None."""
        region = self.block[self.index + 1 : self.last + 1]
        if yields(region):
            return "the region yields (no awaits in cleanup of an async generator region)"
        if not whole_lines(self.block, self.index + 1, self.last):
            return "the task is created on a `;` line with the statements after it"
        return None

    @property
    def fixable(self) -> bool:
        return self.blocker is None


class UnguardedTaskAwait(Rule):
    code = "TET102"
    name = "unguarded-task-await"
    summary = "Task awaited only after other awaits: if one of them fails, the task is orphaned"
    triggers = SPAWN_TRIGGERS
    asyncio_triggers = SPAWN_ASYNCIO_TRIGGERS

    TITLE = "Cancel and wait for `{name}` if anything before `await {name}` fails, then re-raise"

    def check(self, module: ModuleInfo, settings) -> Iterator[Finding]:
        if not module.spawn_lines:
            return
        for function in module.of_type(ast.AsyncFunctionDef):
            if module.spawns_within(function):
                yield from self.check_function(module, function)

    def check_function(self, module: ModuleInfo, function: ast.AsyncFunctionDef) -> Iterator[Finding]:
        candidates = []
        for node in module.own_scope(function):
            name = _bound_name(node)
            if name is not None and _owns_new_task(module, node.value):
                candidate = self.candidate(module, function, node, name)
                if candidate is not None:
                    candidates.append(candidate)
        fixable = [c for c in candidates if c.fixable]
        for candidate in candidates:
            last = _extended_end(candidate, fixable) if candidate in fixable else candidate.last
            widened = Candidate(candidate.name, candidate.assign, candidate.block, candidate.index, last, candidate.awaited)
            fixes = [self.fix(module, widened)] if candidate in fixable and widened.fixable else []
            if fixes:
                how = "fix: cancel and wait for it on any exception, then re-raise"
            else:
                how = f"no automatic fix: {candidate.blocker or widened.blocker}"
            message = (
                f"task `{candidate.name}` is first awaited at line {candidate.awaited.lineno}: if an await before "
                f"that raises or this function is cancelled, the task is orphaned ({how})"
            )
            yield self.finding(module, candidate.assign.value, message, fixes)

    # -- detection ---------------------------------------------------------------------

    def candidate(self, module: ModuleInfo, function: ast.AST, assign: ast.stmt, name: str) -> Candidate | None:
        if module.declared_nonlocal(function, name) or _store_count(module, function, name) != 1:
            return None
        if _inside_task_group(module, assign, function):
            return None
        located = block_of(module, assign)
        if located is None:
            return None
        block, index = located
        reads = module.name_reads(function, name)
        for read in reads:
            if module.scope_of(read) is not function or in_cleanup(module, read, function):
                return None  # a closure, or failure handling that already deals with the task
            if position(read) < end_position(assign):
                return None  # read before (or while) it is bound: a loop carrying the task over
        awaits = sorted((r for r in reads if _is_await_of(module, r)), key=position)
        if not awaits:
            return None
        awaited = module.parent(awaits[0])
        last = _index_in_block(module, awaited, block, index)
        if last is None:
            return None
        while last + 1 < len(block) and shares_line_with_previous(block, last + 1):
            last += 1  # `await t; print(t.result())`: the rest of that line goes with it
        region_end = end_position(block[last])
        for read in reads:
            if position(read) <= region_end and not (_is_await_of(module, read) or _is_inspection(module, read)):
                return None  # handed on (wait_for, gather, a container, a call): not ours to guard
        before = [
            point
            for point in suspension_points(block[index + 1 : last + 1])
            if position(point) < position(awaited) and not _awaits_name(point, name)
        ]
        if not before:
            return None
        return Candidate(name, assign, block, index, last, awaited)

    # -- fix ---------------------------------------------------------------------------

    def fix(self, module: ModuleInfo, candidate: Candidate) -> Fix:
        region = candidate.block[candidate.index + 1 : candidate.last + 1]
        line, col = module.start(region[0])  # libcst, like ast, starts a definition at `def`
        count = cst_statement_count(candidate.block, candidate.index + 1, candidate.last)
        first_line = module.statement_lines(region[0])[0]
        last_line = region[-1].end_lineno or region[-1].lineno
        return Fix(
            applicability=SAFE,
            title=self.TITLE.format(name=candidate.name),
            plan=("guard", line, col, count, candidate.name),
            lines=(first_line, last_line),
        )

    def render(self, fix: Fix, ctx):
        from tether.render import BlockEdit, FixNotApplicable

        _, line, col, count, name = fix.plan
        helper = ctx.helper("cancel_and_wait")
        nl, ind = ctx.newline, ctx.indent

        def wrap(statements):
            if len(statements) < count:
                raise FixNotApplicable("the region to guard could not be located")
            region, rest = list(statements[:count]), list(statements[count:])
            template = ctx.statement(f"try:{nl}{ind}pass{nl}except BaseException:{nl}{ind}await {helper}({name}){nl}{ind}raise{nl}")
            first = region[0]
            body = template.body.with_changes(body=[first.with_changes(leading_lines=[]), *region[1:]])
            return [template.with_changes(body=body, leading_lines=first.leading_lines), *rest]

        return [BlockEdit(line, col, wrap)]


def _bound_name(node: ast.AST) -> str | None:
    """``t = <value>`` or ``t: T = <value>`` with a single plain name target."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and node.value is not None and isinstance(node.target, ast.Name):
        return node.target.id
    return None


def _owns_new_task(module: ModuleInfo, value: ast.AST) -> bool:
    """A spawn that makes a new task. ``ensure_future(fut)`` returns ``fut`` itself, which may
    be someone else's future: cancelling it would cancel their work, so only calls count."""
    kind = module.spawn_kind(value)
    if kind is None:
        return False
    if kind == "asyncio.ensure_future":
        return bool(value.args) and isinstance(value.args[0], ast.Call)
    return True


def _store_count(module: ModuleInfo, function: ast.AST, name: str) -> int:
    args = function.args
    parameters = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    count = sum(1 for arg in parameters if arg is not None and arg.arg == name)
    return count + len(module.stores_in(function, name))


def _inside_task_group(module: ModuleInfo, node: ast.AST, function: ast.AST) -> bool:
    for ancestor in module.ancestors(node):
        if ancestor is function:
            return False
        if isinstance(ancestor, ast.AsyncWith):
            for item in ancestor.items:
                if isinstance(item.context_expr, ast.Call) and module.qualname(item.context_expr.func) in TASK_GROUP_TYPES:
                    return True
    return False


def _is_await_of(module: ModuleInfo, read: ast.Name) -> bool:
    parent = module.parent(read)
    return isinstance(parent, ast.Await) and parent.value is read


def _awaits_name(point: ast.AST, name: str) -> bool:
    return isinstance(point, ast.Await) and isinstance(point.value, ast.Name) and point.value.id == name


def _is_inspection(module: ModuleInfo, read: ast.Name) -> bool:
    """``t.done()``, ``t.cancel()`` and the like: looks at the task without handing it on."""
    attribute = module.parent(read)
    if not (isinstance(attribute, ast.Attribute) and attribute.value is read and attribute.attr in INSPECTIONS):
        return False
    call = module.parent(attribute)
    return isinstance(call, ast.Call) and call.func is attribute


def _index_in_block(module: ModuleInfo, node: ast.AST, block: list, after: int) -> int | None:
    """The index of the statement of ``block`` (after ``after``) that holds ``node``."""
    for candidate in (node, *module.ancestors(node)):
        if isinstance(candidate, ast.stmt):
            for index in range(after + 1, len(block)):
                if block[index] is candidate:
                    return index
    return None


def _extended_end(candidate: Candidate, fixable: list[Candidate]) -> int:
    """Widen the region over other guarded tasks started inside it whose region ends later.

    Two regions that cross (t1 created, t2 created, await t1, await t2) cannot both become
    ``try`` blocks of the same block; widening t1's region to the end of t2's nests them
    instead. Guarding t1 a little longer is harmless: by then it has been awaited.
    """
    last = candidate.last
    changed = True
    while changed:
        changed = False
        for other in fixable:
            if other.block is candidate.block and candidate.index < other.index <= last < other.last:
                last = other.last
                changed = True
    return last


RULE = UnguardedTaskAwait()

__getattr__ = lazy_codemod_command(RULE, "UnguardedTaskAwaitCommand")  # python -m libcst.tool codemod support
