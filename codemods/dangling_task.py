"""TET101 dangling-task: a task whose only reference is dropped.

## What it finds
A task created with ``asyncio.create_task``, ``asyncio.ensure_future``, ``asyncio.Task(...)``,
``loop.create_task`` (on a known event loop: one from ``asyncio.get_running_loop()`` and
friends, a parameter annotated as a loop, an attribute named ``loop``/``_loop`` such as
``self.hass.loop``, or ``x.get_loop()``) or a configured ``extra-spawners`` function,
whose result nobody keeps: an expression statement, ``_ = ...``, a local name that is never
read again, or a local list that the task is appended to and that is never read.

## Why is this bad?
The event loop keeps only a *weak* reference to running tasks. A task that nobody else
references can be garbage-collected mid-flight ("Task was destroyed but it is pending!"), so
its work silently never finishes; and since nobody holds it, nobody can cancel it or see its
failure when the code that started it goes away.

## Example
```python
async def handle(request):
    asyncio.create_task(audit_log(request))
    return await respond(request)
```

Use instead (the safe fix):
```python
async def handle(request):
    _keep_task(asyncio.create_task(audit_log(request)))
    return await respond(request)
```
where ``_keep_task`` is the asyncio documentation's recipe, added once per module: a
module-level set holds the task until it is done and a done-callback discards it.

## Companion tasks
A dropped task that looks like a *companion* of the function that starts it (its coroutine,
defined in this module, loops forever, or its name says heartbeat, keepalive, monitor, watch,
pump or poll) and that is followed by more awaited work in the same block outlives that work:
when the main loop crashes or returns, the heartbeat keeps beating forever. With
``--unsafe-fixes`` the task is tied to the rest of the block instead (except in functions
whose name says they start things, like ``connect``, ``start`` or ``__aenter__``: what they
start is meant to outlive them):
```python
async def run(conn):
    heartbeat_task = asyncio.create_task(heartbeat(conn))
    try:
        await serve(conn)
    finally:
        await _cancel_and_wait(heartbeat_task)
```
or, with ``--style taskgroup`` on Python 3.11+, the rest of the block runs inside
``async with asyncio.TaskGroup() as tg:`` with the companion created by ``tg.create_task`` and
cancelled in a ``finally`` at the end of the block.

## Not flagged
Tasks created by a ``TaskGroup``; tasks returned, passed to a call, stored on an object, in a
container or a global, awaited or cancelled later; ``lambda: create_task(...)``.

## Fix safety
The keep-reference fix is *safe*: nothing changes except that the task can no longer be
collected before it finishes. Exceptions are still logged by asyncio when the task fails.

The companion fixes are *unsafe*: they cancel the task when the block ends, also on the
success path (that is their point, but it changes what runs). The scope guard otherwise keeps
exceptions as they were: the block's own exception propagates unchanged, a companion that
already failed keeps its "exception was never retrieved" report, and a cancel aimed at the
caller while the guard waits is not swallowed. The TaskGroup form further wraps failures in
an ``ExceptionGroup`` (``except ValueError`` around the block stops matching) and cancels the
block when the companion crashes; on Python 3.11 and 3.12 TaskGroup also has known bugs
(a stale ``cancelling()`` count, an outside cancel lost when a child fails at the same moment),
so the guard is preferred there.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterator

from tether.analysis import SPAWN_ASYNCIO_TRIGGERS, SPAWN_FUNCTIONS, SPAWN_TRIGGERS, ModuleInfo
from tether.blocks import block_of, shares_line_with_previous, suspension_points, yields
from tether.companions import (
    callee_name,
    loops_forever,
    name_says_companion,
    resolve_coroutine_function,
    starts_things,
)
from tether.model import SAFE, UNSAFE, Finding, Fix
from tether.rule import Rule, lazy_codemod_command

# Keyword arguments TaskGroup.create_task accepts as well (3.11+).
TASK_GROUP_KEYWORDS = frozenset({"name", "context"})


class DanglingTask(Rule):
    code = "TET101"
    name = "dangling-task"
    summary = "Task created and its reference dropped: it can be garbage-collected or orphaned"
    triggers = SPAWN_TRIGGERS
    asyncio_triggers = SPAWN_ASYNCIO_TRIGGERS

    KEEP_TITLE = "Keep a strong reference with `_keep_task(...)`"

    def check(self, module: ModuleInfo, settings) -> Iterator[Finding]:
        for node, kind in module.spawn_calls:  # ast.walk order, computed once per module
            how = self.dropped(module, node)
            if how is None:
                continue
            message = (
                f"`{module.segment(node.func)}(...)` {how}: the task can be garbage-collected before it "
                "finishes and nothing owns its failure"
            )
            companion = self.companion(module, node, kind)
            if companion is None:
                yield self.finding(module, node, message, self.fixes(module, node))
                continue
            remedy = (
                "`--unsafe-fixes` cancels it when the rest of the block exits"
                if companion.fixable
                else "no automatic lifetime fix: the block yields or shares a line"
            )
            message += f"; it is a companion task ({companion.why}) that outlives the work after it ({remedy})"
            fixes = [*self.companion_fixes(module, companion, settings), *self.fixes(module, node)]
            yield self.finding(module, node, message, fixes)

    # -- detection ---------------------------------------------------------------------

    def dropped(self, module: ModuleInfo, call: ast.Call) -> str | None:
        """How the reference to the task created by ``call`` is dropped, or None if it is kept."""
        parent = module.parent(call)
        if isinstance(parent, ast.Expr):
            return "result is discarded"
        if isinstance(parent, ast.Assign) and parent.value is call:
            return self._dropped_binding(module, call, parent.targets)
        if isinstance(parent, ast.AnnAssign) and parent.value is call:
            return self._dropped_binding(module, call, [parent.target])
        if isinstance(parent, ast.Tuple) and isinstance(module.parent(parent), ast.Assign):
            assign = module.parent(parent)
            if assign.value is parent and len(assign.targets) == 1 and isinstance(assign.targets[0], ast.Tuple):
                target = assign.targets[0]
                if len(target.elts) == len(parent.elts) and not any(isinstance(e, ast.Starred) for e in target.elts):
                    element = target.elts[parent.elts.index(call)]
                    return self._dropped_binding(module, call, [element])
        if isinstance(parent, ast.Call) and call in parent.args and len(parent.args) == 1 and not parent.keywords:
            return self._dropped_into_local_list(module, call, parent)
        return None

    def _dropped_binding(self, module: ModuleInfo, call: ast.Call, targets) -> str | None:
        if not all(isinstance(t, ast.Name) for t in targets):
            return None  # attributes, subscripts, unpacking: stored somewhere
        names = [t.id for t in targets]
        if names == ["_"]:
            return "is assigned to `_`"
        function = module.enclosing_function(call)
        if function is None:
            return None  # module or class level: a global keeps the reference
        if _reads_every_local(module, function):
            return None
        for name in names:
            if module.declared_nonlocal(function, name) or module.name_reads(function, name):
                return None
        shown = ", ".join(f"`{n}`" for n in names)
        return f"is bound to {shown}, which is never used"

    def _dropped_into_local_list(self, module: ModuleInfo, call: ast.Call, outer: ast.Call) -> str | None:
        func = outer.func
        if not (isinstance(func, ast.Attribute) and func.attr in ("append", "add") and isinstance(func.value, ast.Name)):
            return None
        name = func.value.id
        function = module.enclosing_function(call)
        if function is None or module.declared_nonlocal(function, name) or _reads_every_local(module, function):
            return None
        if not _is_local_empty_container(module, function, name):
            return None
        for read in module.name_reads(function, name):
            parent = module.parent(read)
            if not (isinstance(parent, ast.Attribute) and parent.attr in ("append", "add")):
                return None
            if not isinstance(module.parent(parent), ast.Call) or not isinstance(module.parent(module.parent(parent)), ast.Expr):
                return None
        return f"is added to the local `{name}`, which is never read"

    def companion(self, module: ModuleInfo, call: ast.Call, kind: str) -> "Companion | None":
        """The companion shape: a dropped heartbeat-like task with awaited work after it."""
        if kind not in SPAWN_FUNCTIONS.values() and kind != "loop.create_task":
            return None  # a project spawner may not return a task we can cancel and wait for
        function = module.enclosing_function(call)
        if not isinstance(function, ast.AsyncFunctionDef) or not call.args or starts_things(function.name):
            return None
        coroutine = call.args[0]
        if not isinstance(coroutine, ast.Call):
            return None
        statement = module.parent(call)
        variable = None
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
        elif isinstance(statement, ast.AnnAssign):
            target = statement.target
        elif isinstance(statement, ast.Expr):
            target = None
        else:
            return None
        if target is not None:
            if not isinstance(target, ast.Name):
                return None
            if target.id != "_" and len(module.stores_in(function, target.id)) == 1:
                variable = target.id
        located = block_of(module, statement)
        if located is None:
            return None
        block, index = located
        rest = block[index + 1 :]
        if not suspension_points(rest):
            return None
        name = callee_name(coroutine) or ""
        resolved = resolve_coroutine_function(module, coroutine)
        if resolved is not None and loops_forever(module, resolved):
            why = f"`{resolved.name}` loops forever"
        elif name_says_companion(name):
            why = f"its name `{name}` says so"
        else:
            return None
        fixable = not (
            yields(rest)
            or shares_line_with_previous(block, index)
            or shares_line_with_previous(block, index + 1)
        )
        return Companion(call, statement, block, index, variable, name, why, fixable, kind, resolved)

    def companion_fixes(self, module: ModuleInfo, companion: "Companion", settings) -> list[Fix]:
        if not companion.fixable:
            return []
        statement = companion.statement
        line, col = module.start(statement)
        last = companion.block[-1]
        lines = (line, last.end_lineno or last.lineno)
        base = _variable_base(companion.name)
        taskgroup = None
        if tuple(settings.target_version) >= (3, 11) and self._task_group_ready(companion):
            warning = ""
            if tuple(settings.target_version) < (3, 13):
                warning = (
                    "; beware: on Python 3.11/3.12 TaskGroup has known bugs (stale `cancelling()` count, "
                    "an outside cancel lost when a child fails at the same moment), prefer the guard there"
                )
            taskgroup = Fix(
                applicability=UNSAFE,
                title=(
                    "Run the rest of the block in `async with asyncio.TaskGroup()` and cancel the companion "
                    "at its end (failures become an ExceptionGroup; a crash of the companion cancels the block)"
                    + warning
                ),
                plan=("taskgroup", line, col, companion.variable, base),
                lines=lines,
                style="taskgroup",
            )
        guard = Fix(
            applicability=UNSAFE,
            title=(
                "Cancel and wait for the companion when the rest of the block exits "
                "(`try`/`finally` with `_cancel_and_wait`; it is now cancelled on success too)"
            ),
            plan=("guard", line, col, companion.variable, base),
            lines=lines,
            style="guard" if taskgroup is not None else None,
        )
        return [guard] if taskgroup is None else [guard, taskgroup]

    def _task_group_ready(self, companion: "Companion") -> bool:
        """TaskGroup.create_task takes only a coroutine, and only `name`/`context` keywords."""
        call = companion.call
        if len(call.args) != 1 or any(k.arg not in TASK_GROUP_KEYWORDS for k in call.keywords):
            return False
        if companion.kind == "asyncio.ensure_future":
            return companion.resolved is not None  # ensure_future also takes futures
        return True

    # -- fixes -------------------------------------------------------------------------

    def fixes(self, module: ModuleInfo, call: ast.Call) -> list[Fix]:
        line, col = module.start(call)
        return [
            Fix(
                applicability=SAFE,
                title=self.KEEP_TITLE,
                plan=("keep", line, col),
                lines=(line, call.end_lineno or line),
            )
        ]

    def render(self, fix: Fix, ctx):
        import libcst as cst

        from tether.render import NodeEdit

        if fix.plan[0] == "guard":
            return self._render_guard(fix, ctx)
        if fix.plan[0] == "taskgroup":
            return self._render_taskgroup(fix, ctx)
        kind, line, col = fix.plan
        name = ctx.helper("keep_task")

        def wrap(call: cst.Call) -> cst.Call:
            inner = call.with_changes(lpar=[], rpar=[])
            return cst.Call(func=cst.Name(name), args=[cst.Arg(inner)], lpar=call.lpar, rpar=call.rpar)

        return [NodeEdit("Call", line, col, wrap)]


    def _render_guard(self, fix: Fix, ctx):
        """``v = <spawn>`` then ``try: <rest of the block> finally: await _cancel_and_wait(v)``."""
        from tether.render import BlockEdit

        _, line, col, variable, base = fix.plan
        helper = ctx.helper("cancel_and_wait")
        name = variable or ctx.fresh_name(base)
        nl, ind = ctx.newline, ctx.indent

        def wrap(statements):
            spawn, rest = _split_spawn(statements)
            bound = spawn.with_changes(body=[_bind(spawn.body[0], name)])
            template = ctx.statement(f"try:{nl}{ind}pass{nl}finally:{nl}{ind}await {helper}({name}){nl}")
            first = rest[0]
            body = template.body.with_changes(body=[first.with_changes(leading_lines=[]), *rest[1:]])
            return [bound, template.with_changes(body=body, leading_lines=first.leading_lines)]

        return [BlockEdit(line, col, wrap)]

    def _render_taskgroup(self, fix: Fix, ctx):
        """``async with TaskGroup() as tg: v = tg.create_task(...); try: <rest> finally: v.cancel()``."""
        import libcst as cst

        from tether.render import BlockEdit

        _, line, col, variable, base = fix.plan
        aio = ctx.asyncio
        name = variable or ctx.fresh_name(base)
        group = ctx.fresh_name("tg")
        nl, ind = ctx.newline, ctx.indent

        def wrap(statements):
            spawn, rest = _split_spawn(statements)
            call = spawn.body[0].value
            created = call.with_changes(func=cst.Attribute(value=cst.Name(group), attr=cst.Name("create_task")))
            template = ctx.statement(
                f"async with {aio}.TaskGroup() as {group}:{nl}"
                f"{ind}{name} = None{nl}"
                f"{ind}try:{nl}{ind}{ind}pass{nl}{ind}finally:{nl}{ind}{ind}{name}.cancel(){nl}"
            )
            assign_line, guard = template.body.body
            assign = assign_line.body[0].with_changes(value=created)
            assign_line = assign_line.with_changes(body=[assign], trailing_whitespace=spawn.trailing_whitespace)
            first = rest[0]
            guard = guard.with_changes(
                body=guard.body.with_changes(body=[first.with_changes(leading_lines=[]), *rest[1:]]),
                leading_lines=first.leading_lines,
            )
            return [template.with_changes(body=template.body.with_changes(body=[assign_line, guard]), leading_lines=spawn.leading_lines)]

        return [BlockEdit(line, col, wrap)]


@dataclass
class Companion:
    call: ast.Call
    statement: ast.stmt
    block: list
    index: int
    variable: str | None  # an existing (never read) binding to reuse, else a fresh name
    name: str  # the coroutine function's name
    why: str
    fixable: bool
    kind: str
    resolved: ast.AST | None


def _variable_base(coroutine_name: str) -> str:
    stem = coroutine_name.strip("_")
    return f"{stem}_task" if stem.isidentifier() else "companion_task"


def _split_spawn(statements):
    from tether.render import FixNotApplicable

    import libcst as cst

    spawn = statements[0]
    if not isinstance(spawn, cst.SimpleStatementLine) or len(spawn.body) != 1 or len(statements) < 2:
        raise FixNotApplicable("the companion task's statement has an unusual layout")
    return spawn, list(statements[1:])


def _bind(small, name: str):
    """``<spawn>`` / ``_ = <spawn>`` / ``v = <spawn>`` as ``name = <spawn>``."""
    import libcst as cst

    if isinstance(small, cst.Expr):
        return cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=small.value)
    if isinstance(small, cst.Assign):
        return small.with_changes(targets=[cst.AssignTarget(cst.Name(name))])
    if isinstance(small, cst.AnnAssign):
        return small.with_changes(target=cst.Name(name))
    from tether.render import FixNotApplicable

    raise FixNotApplicable("the companion task's statement has an unusual layout")


_ALL_LOCALS_READERS = frozenset({"locals", "vars", "eval", "exec"})


def _reads_every_local(module: ModuleInfo, function: ast.AST) -> bool:
    """``locals()``, ``vars()``, ``eval`` or ``exec`` in ``function`` can read any local
    without naming it (``return locals()`` hands every task on), so no local is "unused"."""
    for node in module.own_scope(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _ALL_LOCALS_READERS:
            if node.func.id != "vars" or not node.args:
                return True
    return False


def _is_local_empty_container(module: ModuleInfo, function: ast.AST, name: str) -> bool:
    """``name`` is bound in ``function`` only by ``name = []`` / ``list()`` / ``set()``."""
    bindings = module.stores_in(function, name)
    if not bindings:
        return False
    for binding in bindings:
        assign = module.parent(binding)
        if not (isinstance(assign, ast.Assign) and assign.targets == [binding]):
            return False
        value = assign.value
        empty_literal = isinstance(value, ast.List) and not value.elts
        empty_call = isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("list", "set") and not value.args
        if not (empty_literal or empty_call):
            return False
    return True


RULE = DanglingTask()

__getattr__ = lazy_codemod_command(RULE, "DanglingTaskCommand")  # python -m libcst.tool codemod support
