"""TET203 as-completed-leaves-pending: leaving an ``as_completed`` loop early orphans the rest.

## What it finds
A ``for fut in asyncio.as_completed(aws):`` loop in an ``async def`` that can be left before
every awaitable has finished: by ``break`` or ``return``, by an explicit ``raise``, by an
``await fut`` that is not inside a ``try`` catching ``Exception`` (a failed child re-raises
there), or by a ``timeout`` (``TimeoutError``). Only awaitables the function creates itself
are considered: a list, set or tuple of calls, a comprehension of calls, or a local list of
such calls (bound once, or filled with ``append``).

## Why is this bad?
``as_completed`` wraps every awaitable in a task when the loop starts, and nothing ever
cancels those tasks. When the loop is left early, the remaining tasks keep running in the
background: nobody awaits them, their exceptions are only logged, and the files, sockets or
locks they hold stay open after the function has returned or raised.

## Example
```python
async def first_valid(urls):
    for fut in asyncio.as_completed([fetch(u) for u in urls]):
        page = await fut
        if page.ok:
            return page
```

Use instead (the fix):
```python
async def first_valid(urls):
    tasks = {asyncio.ensure_future(aw) for aw in set([fetch(u) for u in urls])}
    try:
        for fut in asyncio.as_completed(tasks):
            page = await fut
            if page.ok:
                return page
    finally:
        await _cancel_pending(tasks)
```
The tasks are created exactly as ``as_completed`` creates them (same set, same order), the
loop runs unchanged, and ``_cancel_pending`` (added once per module) cancels the tasks that
have not finished and waits until they have, awaiting nothing when all are done (SPEC 3.4).
When the argument is a local list of tasks (``create_task`` calls), the list itself is used.

## Not flagged
``async for`` and iterators wrapped around ``as_completed`` (``enumerate(...)``); loops that
can only end by running to completion: every ``await fut`` inside a ``try`` catching
``Exception``, no ``break``, ``return`` or ``raise`` and no timeout; awaitables received from
elsewhere (a parameter, an attribute), which may be someone else's work, also when wrapped
(``asyncio.shield(self._task)``); a task list that an
enclosing ``try`` cancels in its ``finally`` or handlers.

## Fix safety
*Safe* when the loop can only be left early by an exception and every iteration awaits its
future first: on the path where nothing fails, every task has finished when the loop ends,
so the ``finally`` cancels nothing and awaits nothing; on failure the only change is that the
leftovers are cancelled and awaited before the same exception propagates. *Unsafe* when
``break`` or ``return`` can end the loop (the tasks not yet finished would otherwise run on),
when an iteration can skip awaiting its future, or with a timeout whose ``TimeoutError`` is
caught inside the loop. No fix when the task list is used after the loop (cancel it in a
``finally`` yourself), or when the loop body yields (no awaits in the ``finally`` of a region
of an async generator that yields).
"""

from __future__ import annotations

import ast
from typing import Iterator

from codemods._pending import fresh_source
from tether.analysis import ModuleInfo, walk_own_scope
from tether.model import SAFE, UNSAFE, Finding, Fix
from tether.rule import Rule, lazy_codemod_command

NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
LOOPS = (ast.For, ast.AsyncFor, ast.While)
BROAD_EXCEPTIONS = {"Exception", "BaseException"}
SIMPLE_STATEMENTS = (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Pass)


class AsCompletedLeavesPending(Rule):
    code = "TET203"
    name = "as-completed-leaves-pending"
    summary = "Leaving an asyncio.as_completed loop early leaves the remaining tasks running"
    triggers = (b"as_completed",)
    asyncio_triggers = triggers  # only asyncio.as_completed

    SAFE_TITLE = "Cancel and await the tasks left when the loop exits by an exception (try/finally)"
    UNSAFE_TITLE = (
        "Cancel and await the tasks left when the loop exits (try/finally); unsafe: tasks still "
        "running at a `break`/`return` no longer run on"
    )

    def check(self, module: ModuleInfo, settings) -> Iterator[Finding]:
        for node in module.of_type(ast.For):
            if isinstance(node.iter, ast.Call):
                if module.is_asyncio(node.iter.func, "as_completed", "tasks.as_completed"):
                    finding = self._check_loop(module, node)
                    if finding is not None:
                        yield finding

    def _check_loop(self, module: ModuleInfo, loop: ast.For) -> Finding | None:
        call = loop.iter
        function = module.enclosing_function(loop)
        if not isinstance(function, ast.AsyncFunctionDef) or not isinstance(loop.target, ast.Name):
            return None
        if len(call.args) != 1 or any(k.arg is None for k in call.keywords):
            return None
        exits = early_exits(module, loop)
        if not exits:
            return None
        source = fresh_source(module, call.args[0], call, function)
        if source is None:
            return None
        later_reads = []
        for read in source.other_reads:
            if read.lineno < loop.lineno:
                return None  # the list is shared before the loop: not only ours
            if _in_enclosing_cleanup(module, read, loop):
                return None  # an enclosing try already takes care of the tasks
            later_reads.append(read)

        how = ", ".join(exits)
        message = (
            f"`for {loop.target.id} in {module.segment(call.func)}(...)` can be left early ({how}) "
            "while tasks are still running: nothing cancels or awaits them"
        )
        line, col = module.start(loop)
        fixes = []
        if later_reads:
            message += (
                f"; `{source.name}` is used again after `as_completed` took it, so tether leaves the cleanup "
                "to you (cancel the leftovers in a `finally`)"
            )
        elif any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in walk_own_scope(loop)):
            message += "; no fix inside a region that yields (awaits in its `finally` would run at generator close)"
        else:
            safe = _only_exception_exits(exits) and awaited_first(module, loop) and not _timeout_caught(module, loop)
            mode = "tasks" if source.all_tasks(module) else "create"
            plan = ("as_completed", line, col, mode, source.name or "")
            span = (module.statement_lines(loop)[0], loop.end_lineno or line)
            if safe:
                fixes.append(Fix(SAFE, self.SAFE_TITLE, plan, span))
            else:
                fixes.append(Fix(UNSAFE, self.UNSAFE_TITLE, plan, span))
        return self.finding(module, loop, message, fixes)

    def render(self, fix: Fix, ctx):
        import libcst as cst

        from tether.render import BlockEdit

        _, line, col, mode, existing = fix.plan
        helper = ctx.helper("cancel_pending")
        if mode == "tasks":
            tasks = existing
        else:
            function = _function_at(ctx.module, line, col)
            aio = ctx.asyncio
            tasks = ctx.fresh_local_name("tasks", function)
            element = ctx.fresh_local_name("aw", function)

        def apply(statements):
            loop = statements[0]
            if not isinstance(loop, cst.For):
                from tether.render import FixNotApplicable

                raise FixNotApplicable("the loop to guard could not be located")
            new = []
            if mode == "create":
                call = loop.iter
                source = ctx.code_of(call.args[0].value)
                new.append(ctx.statement(f"{tasks} = {{{aio}.ensure_future({element}) for {element} in set({source})}}\n"))
                first = call.args[0].with_changes(value=cst.Name(tasks))
                loop = loop.with_changes(iter=call.with_changes(args=[first, *call.args[1:]]))
            guard = ctx.statement(f"try:\n{ctx.indent}pass\nfinally:\n{ctx.indent}await {helper}({tasks})\n")
            guard = guard.with_changes(body=guard.body.with_changes(body=[loop.with_changes(leading_lines=[])]))
            new.append(guard)
            new[0] = new[0].with_changes(leading_lines=statements[0].leading_lines)
            return new + list(statements[1:])

        return [BlockEdit(line, col, apply)]


def _function_at(module: ModuleInfo, line: int, col: int) -> ast.AST:
    for node in module.of_type(ast.For):
        if module.start(node) == (line, col):
            function = module.enclosing_function(node)
            if function is not None:
                return function
    from tether.render import FixNotApplicable

    raise FixNotApplicable("the loop to guard could not be located")


# -- how the loop can be left ------------------------------------------------------------


def early_exits(module: ModuleInfo, loop: ast.For) -> list[str]:
    """The ways the loop can be left before every task has finished, in a fixed order."""
    target = loop.target.id
    found = set()
    for node in _walk_body(loop):
        if isinstance(node, ast.Break) and _belongs_to(module, node, loop):
            found.add("`break`")
        elif isinstance(node, ast.Return):
            found.add("`return`")
        elif isinstance(node, ast.Raise):
            found.add("`raise`")
        elif isinstance(node, ast.Await) and _is_name(node.value, target) and not _protected(module, node, loop):
            found.add(f"a failed task re-raised by `await {target}`")
    if any(k.arg == "timeout" and not _is_none(k.value) for k in loop.iter.keywords):
        found.add("a timeout")
    order = ["`break`", "`return`", "`raise`", f"a failed task re-raised by `await {target}`", "a timeout"]
    return [reason for reason in order if reason in found]


def _only_exception_exits(exits: list[str]) -> bool:
    return "`break`" not in exits and "`return`" not in exits


def _walk_body(loop: ast.For) -> Iterator[ast.AST]:
    """The loop body's nodes (not its ``else``), without nested functions and classes."""
    stack = list(reversed(loop.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, NESTED_SCOPES):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _belongs_to(module: ModuleInfo, jump: ast.stmt, loop: ast.For) -> bool:
    """A ``break``/``continue`` jumps out of ``loop`` (not an inner loop's body)."""
    child = jump
    for ancestor in module.ancestors(jump):
        if ancestor is loop:
            return True
        if isinstance(ancestor, LOOPS) and _in_list(child, ancestor.body):
            return False
        child = ancestor
    return False


def _protected(module: ModuleInfo, node: ast.AST, loop: ast.For) -> bool:
    """``node`` sits in the body of a ``try`` (inside the loop) that catches Exception."""
    child = node
    for ancestor in module.ancestors(node):
        if ancestor is loop:
            return False
        if isinstance(ancestor, ast.Try) and _in_list(child, ancestor.body):
            if any(_is_broad(module, h.type) for h in ancestor.handlers):
                return True
        child = ancestor
    return False


def _is_broad(module: ModuleInfo, handler_type: ast.AST | None) -> bool:
    if handler_type is None:
        return True
    if isinstance(handler_type, ast.Tuple):
        return any(_is_broad(module, e) for e in handler_type.elts)
    return isinstance(handler_type, ast.Name) and handler_type.id in BROAD_EXCEPTIONS and handler_type.id not in module.imports


def _timeout_caught(module: ModuleInfo, loop: ast.For) -> bool:
    """A timeout whose TimeoutError is caught in the loop: the loop then ends with tasks pending."""
    has_timeout = any(k.arg == "timeout" and not _is_none(k.value) for k in loop.iter.keywords)
    if not has_timeout:
        return False
    target = loop.target.id
    return any(
        isinstance(n, ast.Await) and _is_name(n.value, target) and _in_any_try_body(module, n, loop)
        for n in _walk_body(loop)
    )


def _in_any_try_body(module: ModuleInfo, node: ast.AST, loop: ast.For) -> bool:
    child = node
    for ancestor in module.ancestors(node):
        if ancestor is loop:
            return False
        if isinstance(ancestor, ast.Try) and _in_list(child, ancestor.body) and ancestor.handlers:
            return True
        child = ancestor
    return False


def awaited_first(module: ModuleInfo, loop: ast.For) -> bool:
    """Every iteration that goes on awaits its future: so when the loop ends, all tasks are done.

    The ``await fut`` must come before anything that could skip it: at the top of the body
    (after plain statements, which can only skip it by raising, i.e. leaving the loop), or
    first in a ``try`` or ``with`` body there, and not behind ``if``/``and``/``or``.
    """
    target = loop.target.id
    statements = loop.body
    in_try = False
    while statements:
        for statement in statements:
            if _await_in_statement(statement, target):
                return True
            if isinstance(statement, (ast.With, ast.AsyncWith)):
                if any(_contains_await_of(item.context_expr, target) for item in statement.items):
                    return True
                statements = statement.body
                break
            if isinstance(statement, ast.Try):
                # a statement before the await that raises into a handler would skip the await
                statements, in_try = statement.body, True
                break
            if in_try or not isinstance(statement, SIMPLE_STATEMENTS):
                return False  # it might skip the await (continue, if, a caught exception)
        else:
            return False
    return False


def _await_in_statement(statement: ast.stmt, target: str) -> bool:
    """``statement`` is a simple statement that always evaluates ``await <target>``."""
    if not isinstance(statement, (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign)):
        return False
    value = statement.value
    return value is not None and _contains_await_of(value, target)


def _contains_await_of(expr: ast.AST, target: str) -> bool:
    """``expr`` evaluates ``await <target>`` unconditionally (not behind if/and/or/lambda)."""
    if isinstance(expr, ast.Await) and _is_name(expr.value, target):
        return True
    if isinstance(expr, ast.IfExp):
        return _contains_await_of(expr.test, target)
    if isinstance(expr, ast.BoolOp):
        return _contains_await_of(expr.values[0], target)
    if isinstance(expr, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return False
    return any(_contains_await_of(child, target) for child in ast.iter_child_nodes(expr))


def _in_enclosing_cleanup(module: ModuleInfo, read: ast.AST, loop: ast.For) -> bool:
    """``read`` is in the ``finally`` or a handler of a ``try`` whose body holds ``loop``."""
    for ancestor in module.ancestors(loop):
        if isinstance(ancestor, ast.Try):
            cleanup = [*ancestor.finalbody, *[h for h in ancestor.handlers]]
            if any(_inside(module, read, part) for part in cleanup):
                return True
    return False


def _inside(module: ModuleInfo, node: ast.AST, container: ast.AST) -> bool:
    return any(a is container for a in module.ancestors(node))


def _in_list(node: ast.AST, statements: list) -> bool:
    return any(node is s for s in statements)


def _is_name(expr: ast.AST, name: str) -> bool:
    return isinstance(expr, ast.Name) and expr.id == name


def _is_none(expr: ast.AST) -> bool:
    return isinstance(expr, ast.Constant) and expr.value is None


RULE = AsCompletedLeavesPending()

__getattr__ = lazy_codemod_command(RULE, "AsCompletedLeavesPendingCommand")  # python -m libcst.tool codemod support
