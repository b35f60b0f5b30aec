"""TET202 wait-leaves-pending: ``asyncio.wait`` returns early and nobody cancels the rest.

## What it finds
``await asyncio.wait(aws, return_when=FIRST_COMPLETED)`` (or ``FIRST_EXCEPTION``, or with a
``timeout``) whose *pending* set is dropped: ``done, pending = ...`` where ``pending`` is never
read, ``done, _ = ...``, or the result discarded. Only awaitables the function creates itself
are considered: a list, set or tuple of calls, a comprehension of calls, or a local list of
such calls (bound once, or filled with ``append``) that nothing else reads.

## Why is this bad?
``asyncio.wait`` never cancels anything. When it returns because the first task finished,
one failed or the timeout expired, the other tasks keep running in the background: nobody
awaits them, nobody sees their exceptions ("Task exception was never retrieved"), and the
resources they hold (sockets, files, locks) stay open after the function returned. If the
caller is cancelled while waiting, *every* task is left running.

## Example
```python
async def fastest(mirrors):
    done, _ = await asyncio.wait(
        [asyncio.create_task(download(m)) for m in mirrors],
        return_when=asyncio.FIRST_COMPLETED,
    )
    return done.pop().result()
```

Use instead (the unsafe fix):
```python
async def fastest(mirrors):
    done, _ = await _wait_cancel_pending(
        [asyncio.create_task(download(m)) for m in mirrors],
        return_when=asyncio.FIRST_COMPLETED,
    )
    return done.pop().result()
```
``_wait_cancel_pending`` (added once per module) takes the same arguments as
``asyncio.wait`` and returns the same ``(done, pending)`` sets, but in a ``finally`` it
cancels the tasks that have not finished and waits until they have (the guard of SPEC 3.4).

## Not flagged
``return_when=ALL_COMPLETED`` without a timeout; a ``pending`` set (or the task list) that is
read afterwards: cancelled, awaited, passed on or waited again; waits over futures the
function received from elsewhere (a parameter, an attribute), which may be someone else's
work, also when wrapped (``asyncio.gather(self._reader_task)``, ``shield(self._x)``: cancelling
the wrapper cancels what it wraps); ``TaskGroup.create_task`` tasks (the group waits for them); a ``return_when`` the rule
cannot resolve; and, when the target version is 3.11 or later, bare coroutines (``asyncio.wait``
rejects them with ``TypeError`` there, so no task is ever started).

## Fix safety
There is no safe fix: the losers would otherwise keep running after the wait, so cancelling
them changes what the program does even when nothing fails. The fix is *unsafe* and applies
with ``--unsafe-fixes``. Results, the ``(done, pending)`` sets and exceptions are otherwise
the same: tasks are created in the order ``asyncio.wait`` creates them, ``TypeError`` for
coroutines on 3.11+ and ``ValueError`` for an empty set are raised as before, and if the
caller is cancelled during the cleanup it still waits for the cancelled tasks to finish,
then raises ``CancelledError``. A task failing while it is cancelled does not replace the
exception that is propagating.
"""

from __future__ import annotations

import ast
from typing import Iterator

from codemods._pending import fresh_source, known_coroutine_call
from tether.analysis import ModuleInfo
from tether.model import UNSAFE, Finding, Fix
from tether.rule import Rule, lazy_codemod_command

EARLY_RETURN_WHEN = {"FIRST_COMPLETED", "FIRST_EXCEPTION"}
RETURN_WHEN_MODULES = ("asyncio.", "asyncio.tasks.", "concurrent.futures.", "concurrent.futures._base.")


class WaitLeavesPending(Rule):
    code = "TET202"
    name = "wait-leaves-pending"
    summary = "asyncio.wait returns with tasks still pending and nothing cancels or awaits them"
    triggers = (b"wait(",)
    asyncio_triggers = triggers  # only asyncio.wait
    # asyncio.wait's `timeout` and `return_when` are keyword-only, and FIRST_COMPLETED /
    # FIRST_EXCEPTION are names: a file this rule can fire on spells asyncio and one of them
    # (Event.wait( and Condition.wait( alone admitted a fifth of the parsed bytes).
    trigger_pattern = rb"(?s)\A(?=.*\basyncio\b)(?=.*(?:FIRST_COMPLETED|FIRST_EXCEPTION|\btimeout\b))"

    FIX_TITLE = (
        "Cancel and await the tasks still pending when the wait returns (`_wait_cancel_pending`); "
        "unsafe: they no longer run on after the wait"
    )

    def check(self, module: ModuleInfo, settings) -> Iterator[Finding]:
        for node in module.calls_named("wait"):
            if module.is_asyncio(node.func, "wait", "tasks.wait"):
                finding = self._check_call(module, node, settings)
                if finding is not None:
                    yield finding

    def _check_call(self, module: ModuleInfo, call: ast.Call, settings) -> Finding | None:
        reason = early_return_reason(module, call)
        if reason is None or len(call.args) != 1:
            return None
        awaited = module.parent(call)
        function = module.enclosing_function(call)
        if not isinstance(awaited, ast.Await) or not isinstance(function, ast.AsyncFunctionDef):
            return None
        dropped = pending_dropped(module, awaited, function)
        if dropped is None:
            return None
        source = fresh_source(module, call.args[0], call, function)
        if source is None or source.other_reads:
            return None  # someone else's futures, or the task list is looked at later
        if settings.target_version >= (3, 11) and any(known_coroutine_call(module, c) for c in source.calls):
            return None  # TypeError on 3.11+: nothing is started, so nothing is left pending
        message = (
            f"`{module.segment(call.func)}(...)` with {reason} returns while tasks are still pending, and "
            f"{dropped}: nothing cancels or awaits them, so they run on unobserved"
        )
        fixes = []
        if not source.generator:
            # `asyncio.wait(<generator>)` checks the generator's truth, not its contents: the
            # helper could not reproduce its errors exactly.
            line, col = module.start(call)
            fixes.append(
                Fix(UNSAFE, self.FIX_TITLE, ("wait", line, col), (line, call.end_lineno or line))
            )
        return self.finding(module, call, message, fixes)

    def render(self, fix: Fix, ctx):
        import libcst as cst

        from tether.render import NodeEdit

        _, line, col = fix.plan
        name = ctx.helper("wait_cancel_pending")

        def swap(call: cst.Call) -> cst.Call:
            return call.with_changes(func=cst.Name(name))

        return [NodeEdit("Call", line, col, swap)]


def early_return_reason(module: ModuleInfo, call: ast.Call) -> str | None:
    """Why this wait can return with tasks pending ("`timeout`", ...), None if it cannot or we cannot tell."""
    reasons = []
    for keyword in call.keywords:
        if keyword.arg is None:
            return None  # **kwargs: cannot tell
        if keyword.arg == "return_when":
            value = return_when_value(module, keyword.value)
            if value is None:
                return None
            if value in EARLY_RETURN_WHEN:
                reasons.append(f"`return_when={value}`")
        elif keyword.arg == "timeout":
            if not (isinstance(keyword.value, ast.Constant) and keyword.value.value is None):
                reasons.append("a `timeout`")
    return " and ".join(reasons) or None


def return_when_value(module: ModuleInfo, expr: ast.AST) -> str | None:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        value = expr.value
    else:
        qualified = module.qualname(expr) or ""
        prefix = next((p for p in RETURN_WHEN_MODULES if qualified.startswith(p)), None)
        if prefix is None:
            return None
        value = qualified[len(prefix) :]
    return value if value in ("FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED") else None


def pending_dropped(module: ModuleInfo, awaited: ast.Await, function: ast.AST) -> str | None:
    """How the pending set is dropped ("the result is discarded", ...), None if it is kept."""
    parent = module.parent(awaited)
    if isinstance(parent, ast.Expr):
        return "the result is discarded"
    if not (isinstance(parent, ast.Assign) and parent.value is awaited and len(parent.targets) == 1):
        return None
    target = parent.targets[0]
    if isinstance(target, (ast.Tuple, ast.List)):
        if len(target.elts) != 2 or not all(isinstance(e, ast.Name) for e in target.elts):
            return None
        pending = target.elts[1]
        if pending.id == "_":
            return "the pending set is assigned to `_`"
        if _unused(module, function, pending.id):
            return f"`{pending.id}` is never used"
        return None
    if isinstance(target, ast.Name):
        if target.id == "_":
            return "the result is assigned to `_`"
        if _unused(module, function, target.id):
            return f"`{target.id}` is never used"
    return None


def _unused(module: ModuleInfo, function: ast.AST, name: str) -> bool:
    return not module.declared_nonlocal(function, name) and not module.name_reads(function, name)


RULE = WaitLeavesPending()

__getattr__ = lazy_codemod_command(RULE, "WaitLeavesPendingCommand")  # python -m libcst.tool codemod support
