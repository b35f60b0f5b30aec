"""TET101 dangling-task: a task whose only reference is dropped.

## What it finds
A task created with ``asyncio.create_task``, ``asyncio.ensure_future``, ``asyncio.Task(...)``,
``loop.create_task`` (on a known event loop) or a configured ``extra-spawners`` function,
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

## Not flagged
Tasks created by a ``TaskGroup``; tasks returned, passed to a call, stored on an object, in a
container or a global, awaited or cancelled later; ``lambda: create_task(...)``.

## Fix safety
The keep-reference fix is *safe*: nothing changes except that the task can no longer be
collected before it finishes. Exceptions are still logged by asyncio when the task fails.
"""

from __future__ import annotations

import ast
from typing import Iterator

from tether.analysis import ModuleInfo
from tether.model import SAFE, Finding, Fix
from tether.rule import Rule


class DanglingTask(Rule):
    code = "TET101"
    name = "dangling-task"
    summary = "Task created and its reference dropped: it can be garbage-collected or orphaned"
    triggers = (b"create_task", b"ensure_future", b"Task(")

    KEEP_TITLE = "Keep a strong reference with `_keep_task(...)`"

    def check(self, module: ModuleInfo, settings) -> Iterator[Finding]:
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call):
                continue
            kind = module.spawn_kind(node)
            if kind is None:
                continue
            how = self.dropped(module, node)
            if how is None:
                continue
            message = (
                f"`{module.segment(node.func)}(...)` {how}: the task can be garbage-collected before it "
                "finishes and nothing owns its failure"
            )
            yield self.finding(module, node, message, self.fixes(module, node))

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
        if _reads_every_local(function):
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
        if function is None or module.declared_nonlocal(function, name) or _reads_every_local(function):
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

        kind, line, col = fix.plan
        name = ctx.helper("keep_task")

        def wrap(call: cst.Call) -> cst.Call:
            inner = call.with_changes(lpar=[], rpar=[])
            return cst.Call(func=cst.Name(name), args=[cst.Arg(inner)], lpar=call.lpar, rpar=call.rpar)

        return [NodeEdit("Call", line, col, wrap)]


_ALL_LOCALS_READERS = frozenset({"locals", "vars", "eval", "exec"})


def _reads_every_local(function: ast.AST) -> bool:
    """``locals()``, ``vars()``, ``eval`` or ``exec`` in ``function`` can read any local
    without naming it (``return locals()`` hands every task on), so no local is "unused"."""
    from tether.analysis import walk_own_scope

    for node in walk_own_scope(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _ALL_LOCALS_READERS:
            if node.func.id != "vars" or not node.args:
                return True
    return False


def _is_local_empty_container(module: ModuleInfo, function: ast.AST, name: str) -> bool:
    """``name`` is bound in ``function`` only by ``name = []`` / ``list()`` / ``set()``."""
    from tether.analysis import walk_own_scope

    bindings = []
    for node in walk_own_scope(function):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store):
            bindings.append(node)
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


def __getattr__(name: str):
    """``python -m libcst.tool codemod dangling_task.DanglingTaskCommand`` support, built lazily."""
    if name == "DanglingTaskCommand":
        from codemods._command import command_for

        return command_for(RULE, "DanglingTaskCommand")
    raise AttributeError(name)
