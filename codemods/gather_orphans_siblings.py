"""TET201 gather-orphans-siblings: ``await asyncio.gather(...)`` leaves the other children running when one fails.

## What it finds
``await asyncio.gather(...)`` (also ``from asyncio import gather``, aliases) without
``return_exceptions=True``, with two or more children or a starred iterable: positional
calls, ``*[f(x) for x in xs]``, ``*(f(x) for x in xs)``, ``*map(f, xs)``, a local task list
built by ``append`` in a loop or by a comprehension, semaphore-bounded ("buffered") children
and chunked gathers inside a loop; whatever happens to the results (assigned, unpacked,
returned, iterated or discarded).

## Why is this bad?
When one child raises, ``gather`` hands that exception to the awaiter at once and leaves
every other child running, unowned: nobody cancels them, nobody waits for their cleanup,
files and connections they hold stay open, and their later failures are silently dropped.
Code after the ``except`` runs while the siblings are still working.

## Example
```python
async def load(paths):
    return await asyncio.gather(*[read(path) for path in paths])
```

Use instead (the safe fix):
```python
async def load(paths):
    return await _gather_cancel_on_error(*[read(path) for path in paths])
```
where ``_gather_cancel_on_error`` (added once per module, or imported from the configured
``helpers-module``) is a drop-in for ``gather``: same argument evaluation, duplicates share a
task, results in argument order; when a child fails or the caller is cancelled it cancels
every child once, waits until all have finished (even if the caller is cancelled again
meanwhile), then re-raises the original exception object.

With ``--style taskgroup --unsafe-fixes`` and a 3.11+ target, a gather of fresh coroutine
calls in statement context becomes:
```python
async with asyncio.TaskGroup() as tg:
    _t1 = tg.create_task(fetch_user())
    _t2 = tg.create_task(fetch_orders())
user, orders = _t1.result(), _t2.result()
```

## Not flagged
``return_exceptions=True`` (or any value other than the literal ``False``, or ``**kwargs``),
a single child, a gather that is not directly awaited (stored, passed to ``wait_for``,
``run_until_complete``). Children that are futures or tasks shared with other code
(attributes such as ``self.reader``, parameters, subscripts, names used elsewhere) are
reported *without* a fix: cancelling them could cancel someone else's work. A local list of
fresh awaitables stays owned (and fixed) when it is built by a comprehension, ``append``,
``extend``, ``+=`` or ``[...] + [...]`` and otherwise only tested for truth (``if tasks:``,
``if not tasks: return``, ``if tasks := [...]:``) or measured with ``len``; so does a local
dict of fresh calls gathered as ``*d.values()`` and otherwise read only for its keys. Any
other read (passed on, stored, indexed, iterated, returned) makes it shared.

## Fix safety
The helper fix is *safe*: when no child fails and nobody cancels, results and timing are
those of ``gather``; on failure the only change is that the siblings ``gather`` orphaned are
cancelled and awaited before the same exception object propagates; a caller cancelled twice
no longer cancels the children twice. The TaskGroup fix is *unsafe*: any failure surfaces as
an ``ExceptionGroup`` (``except ValueError`` around it stops matching), a child cancelled by a
third party no longer stops the others (and, where the results are discarded, its
``CancelledError`` is not raised at all), and on 3.11/3.12 TaskGroup has known bugs.
"""

from __future__ import annotations

import ast
from typing import Iterator

from tether.analysis import FunctionNode, ModuleInfo
from tether.model import SAFE, UNSAFE, Finding, Fix
from tether.rule import Rule, lazy_codemod_command

GATHER_NAMES = {"asyncio.gather", "asyncio.tasks.gather"}
TRY_NODES = (ast.Try, ast.TryStar) if hasattr(ast, "TryStar") else (ast.Try,)
# asyncio functions that return a future (not a coroutine): TaskGroup.create_task rejects them.
FUTURE_FUNCTIONS = {
    "asyncio.shield", "asyncio.wrap_future", "asyncio.gather", "asyncio.ensure_future",
    "asyncio.create_task", "asyncio.Task", "asyncio.Future", "asyncio.run_coroutine_threadsafe",
    "asyncio.tasks.shield", "asyncio.tasks.gather", "asyncio.tasks.ensure_future",
}
FUTURE_METHODS = {"create_task", "run_in_executor", "create_future", "submit"}
# methods that hand out an object someone else already holds, when called on a container of
# futures (`self._futures.get(key)`, `pending.pop()`); `client.get(url)` makes a fresh request
LOOKUP_METHODS = {"get", "pop", "setdefault", "popleft"}
STORE_WORDS = ("fut", "task", "pending", "waiter", "promise", "job", "running", "inflight", "in_flight")
SHARE_WRAPPERS = {"asyncio.ensure_future", "asyncio.tasks.ensure_future", "asyncio.wrap_future"}

HELPER_TITLE = "Use `_gather_cancel_on_error(...)`: on failure, cancel and await the other children, re-raise the same exception"
TASKGROUP_TITLE = (
    "Use `async with asyncio.TaskGroup()` (unsafe: any failure becomes an ExceptionGroup, so "
    "`except SomeError` around it stops matching)"
)
TASKGROUP_BUGS = (
    "; TaskGroup on Python 3.11/3.12 has known bugs (stale `cancelling()` count, an outside "
    "cancel lost when a child fails at the same moment, eager-task-factory aborts): prefer the helper there"
)


class Shared(Exception):
    """A child is (or may be) owned by other code; ``str(exc)`` names it."""


class GatherOrphansSiblings(Rule):
    code = "TET201"
    name = "gather-orphans-siblings"
    summary = "`await asyncio.gather(...)` leaves the other children running when one fails"
    triggers = (b"gather",)
    asyncio_triggers = triggers  # only asyncio.gather, reached through an import of asyncio

    def check(self, module: ModuleInfo, settings) -> Iterator[Finding]:
        for node in module.of_type(ast.Await):
            if isinstance(node.value, ast.Call):
                if module.qualname(node.value.func) in GATHER_NAMES:
                    finding = self.examine(module, node, settings)
                    if finding is not None:
                        yield finding

    def examine(self, module: ModuleInfo, awaited: ast.Await, settings) -> Finding | None:
        call: ast.Call = awaited.value  # type: ignore[assignment]
        drop_keyword = False
        blocker = None
        for keyword in call.keywords:
            if keyword.arg is None:
                return None  # **kwargs may carry return_exceptions=True
            if keyword.arg == "return_exceptions":
                if not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False):
                    return None  # True, or a value we cannot know: never flag
                drop_keyword = True
            else:
                blocker = f"the `{keyword.arg}=` argument has no equivalent in the fix"
        starred = any(isinstance(arg, ast.Starred) for arg in call.args)
        if not starred and len(call.args) < 2:
            return None
        if _already_cancelled_on_error(module, awaited, call):
            return None
        function = module.enclosing_function(awaited)
        shown = module.segment(call.func) or "gather"
        orphan = f"`await {shown}(...)`: when one child fails the others keep running, orphaned"
        if blocker is None:
            try:
                for arg in call.args:
                    if isinstance(arg, ast.Starred):
                        self.fresh_iterable(module, function, call, arg.value)
                    else:
                        self.fresh_child(module, function, call, arg)
            except Shared as exc:
                blocker = (
                    f"`{exc}` may be shared with other code and cancelling it could cancel someone else's work"
                )
        if blocker is not None:
            return self.finding(module, call, f"{orphan}; no automatic fix: {blocker}")
        line, col = module.start(call)
        helper = Fix(
            applicability=SAFE,
            title=HELPER_TITLE,
            plan=("helper", line, col, drop_keyword),
            lines=(call.lineno, call.end_lineno or call.lineno),
        )
        fixes = [helper]
        taskgroup = self.taskgroup_fix(module, awaited, call, function, settings)
        if taskgroup is not None:
            fixes.insert(0, taskgroup)
        chosen = Finding("", "", 0, 0, 0, 0, tuple(fixes)).choose_fix(settings.unsafe_fixes, settings.style)
        if chosen is taskgroup and taskgroup is not None:
            message = (
                f"{orphan}; fix (unsafe): `async with asyncio.TaskGroup()` cancels and awaits them, "
                "but any failure then surfaces as an ExceptionGroup"
            )
            if tuple(settings.target_version) < (3, 13):
                message += " (and TaskGroup on 3.11/3.12 has known bugs)"
        else:
            message = (
                f"{orphan}; fix: `_gather_cancel_on_error(...)` cancels and awaits them, then re-raises the same exception"
            )
        return self.finding(module, call, message, fixes)

    # -- which children the fix may cancel -----------------------------------------------

    def fresh_child(self, module: ModuleInfo, function, owner: ast.Call, expr: ast.AST, depth: int = 0) -> None:
        """Return if ``expr`` makes a new awaitable that only ``owner`` (the gather, or the
        ``append`` call that puts it in the gathered list) reads; else raise Shared."""
        if depth > 4:
            raise Shared(module.segment(expr))
        if isinstance(expr, ast.Call):
            qualified = module.qualname(expr.func)
            if qualified in SHARE_WRAPPERS:  # ensure_future(fut) returns fut itself
                if len(expr.args) != 1:
                    raise Shared(module.segment(expr))
                return self.fresh_child(module, function, owner, expr.args[0], depth + 1)
            if isinstance(expr.func, ast.Attribute):
                if expr.func.attr == "result" or (expr.func.attr in LOOKUP_METHODS and _holds_futures(expr.func.value)):
                    raise Shared(module.segment(expr))
            return
        if isinstance(expr, ast.IfExp):  # `a() if c else b()`: whichever runs, it is fresh
            self.fresh_child(module, function, owner, expr.body, depth + 1)
            return self.fresh_child(module, function, owner, expr.orelse, depth + 1)
        if isinstance(expr, ast.Name):
            if function is not None and self.owned_local(module, function, owner, expr.id, depth):
                return
        raise Shared(module.segment(expr))

    def fresh_iterable(self, module: ModuleInfo, function, owner: ast.Call, expr: ast.AST, depth: int = 0) -> None:
        """Return if every element of the starred ``expr`` is a fresh awaitable; else raise Shared."""
        if isinstance(expr, (ast.ListComp, ast.GeneratorExp)):
            return self.fresh_child(module, function, owner, expr.elt, depth + 1)
        if isinstance(expr, (ast.List, ast.Tuple)):
            for element in expr.elts:
                if isinstance(element, ast.Starred):
                    raise Shared(module.segment(element))
                self.fresh_child(module, function, owner, element, depth + 1)
            return
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Name)
            and expr.func.id == "map"
            and "map" not in module.imports
            and len(expr.args) >= 2
            and not expr.keywords
        ):
            mapped = expr.args[0]
            if isinstance(mapped, ast.Lambda):
                return self.fresh_child(module, function, owner, mapped.body, depth + 1)
            qualified = module.qualname(mapped)
            if qualified in SHARE_WRAPPERS:
                raise Shared(module.segment(expr))
            if isinstance(mapped, (ast.Name, ast.Attribute)):
                return
            raise Shared(module.segment(expr))
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):  # [f()] + [g(x) for x in xs]
            self.fresh_iterable(module, function, owner, expr.left, depth + 1)
            return self.fresh_iterable(module, function, owner, expr.right, depth + 1)
        if _dict_values_call(expr) and function is not None:  # *updates.values()
            if self.owned_dict(module, function, owner, expr.func.value.id, depth):  # type: ignore[union-attr]
                return
            raise Shared(module.segment(expr))
        if isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Slice) and isinstance(expr.value, ast.Name):
            expr = expr.value  # a chunk of a local list: *coros[i:i + 10]
        if isinstance(expr, ast.Name) and function is not None:
            if self.owned_local(module, function, owner, expr.id, depth, iterable=True):
                return
        raise Shared(module.segment(expr))

    def owned_local(self, module: ModuleInfo, function, owner: ast.Call, name: str, depth: int, iterable: bool = False) -> bool:
        """``name`` is a local of ``function`` bound only to fresh awaitables (or lists of them)
        and read only inside ``owner`` (and, for lists, by ``append``/``extend``/``len``)."""
        bindings = _local_bindings(module, function, name)
        if not bindings:
            return False
        for binding in bindings:
            assign = module.parent(binding)
            value = _plain_value(assign, binding)
            if value is None and iterable:
                if isinstance(assign, ast.AugAssign) and isinstance(assign.op, ast.Add):
                    value = assign.value  # `tasks += [...]` adds the elements of value, nothing else
                elif isinstance(assign, ast.NamedExpr) and _truth_tested(module, assign):
                    value = assign.value  # `if tasks := [...]:` reads the list only for its truth
            if value is None:
                return False
            try:
                if not iterable:
                    self.fresh_child(module, function, owner, value, depth + 1)
                elif not _empty_list(value):
                    self.fresh_iterable(module, function, owner, value, depth + 1)
            except Shared:
                return False
        for read in module.name_reads(function, name):
            if any(ancestor is owner for ancestor in module.ancestors(read)):
                if iterable and not self._starred_read(module, owner, read):
                    return False
                continue
            if iterable and self._chunk_of_other_gather(module, read):
                continue  # *coros[:10] here, *coros[10:] in another gather: separate children
            if not iterable or not self._list_building_read(module, function, owner, read, depth):
                return False
        return True

    def owned_dict(self, module: ModuleInfo, function, owner: ast.Call, name: str, depth: int) -> bool:
        """``name`` is a local dict of ``function`` whose values are all fresh awaitables (bound
        by a display or comprehension, added by ``name[key] = call()``), whose values only
        ``*name.values()`` in ``owner`` reads; other reads see only its keys or its size."""
        bindings = _local_bindings(module, function, name)
        if not bindings:
            return False
        try:
            for binding in bindings:
                value = _plain_value(module.parent(binding), binding)
                if value is None:
                    return False
                if isinstance(value, ast.Dict) and None not in value.keys:  # no `**other`
                    for element in value.values:
                        self._fresh_dict_value(module, function, element, depth)
                elif isinstance(value, ast.DictComp):
                    self._fresh_dict_value(module, function, value.value, depth)
                elif not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict"
                          and not value.args and not value.keywords and "dict" not in module.imports):
                    return False
            for read in module.name_reads(function, name):
                if any(ancestor is owner for ancestor in module.ancestors(read)):
                    values = module.parent(module.parent(read))
                    if not (_dict_values_call(values) and values.func.value is read  # type: ignore[union-attr]
                            and isinstance(module.parent(values), ast.Starred) and module.parent(values) in owner.args):
                        return False
                    continue
                parent = module.parent(read)
                if isinstance(parent, ast.Subscript) and parent.value is read and isinstance(parent.ctx, ast.Store):
                    assign = module.parent(parent)  # `updates[key] = call()`
                    if not (isinstance(assign, ast.Assign) and assign.targets == [parent]):
                        return False
                    self._fresh_dict_value(module, function, assign.value, depth)
                elif not _key_only_read(module, read):
                    return False
        except Shared:
            return False
        return True

    def _fresh_dict_value(self, module: ModuleInfo, function, value: ast.AST, depth: int) -> None:
        """A dict value must be a fresh call itself: a local name could also be a key."""
        if not isinstance(value, ast.Call):
            raise Shared(module.segment(value))
        self.fresh_child(module, function, value, value, depth + 1)

    def _starred_read(self, module: ModuleInfo, owner: ast.Call, read: ast.Name) -> bool:
        parent = module.parent(read)
        if isinstance(parent, ast.Subscript) and parent.value is read and isinstance(parent.slice, ast.Slice):
            parent = module.parent(parent)
        return isinstance(parent, ast.Starred) and parent in owner.args

    def _chunk_of_other_gather(self, module: ModuleInfo, read: ast.Name) -> bool:
        parent = module.parent(read)
        if not (isinstance(parent, ast.Subscript) and parent.value is read and isinstance(parent.slice, ast.Slice)):
            return False
        starred = module.parent(parent)
        call = module.parent(starred)
        return (
            isinstance(starred, ast.Starred)
            and isinstance(call, ast.Call)
            and module.qualname(call.func) in GATHER_NAMES
            and isinstance(module.parent(call), ast.Await)
        )

    def _list_building_read(self, module: ModuleInfo, function, owner: ast.Call, read: ast.Name, depth: int) -> bool:
        if _truth_tested(module, read):  # `if tasks:`, `if not tasks: return`: only a bool comes out
            return True
        parent = module.parent(read)
        if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id == "len":
            return parent.args == [read]
        if isinstance(parent, ast.Attribute) and parent.attr in ("append", "extend"):
            call = module.parent(parent)
            if not (isinstance(call, ast.Call) and call.func is parent and len(call.args) == 1 and not call.keywords):
                return False
            if not isinstance(module.parent(call), ast.Expr):
                return False
            try:
                if parent.attr == "append":  # `tasks.append(task)`: a `task` local is read there only
                    self.fresh_child(module, function, call, call.args[0], depth + 1)
                else:
                    self.fresh_iterable(module, function, owner, call.args[0], depth + 1)
            except Shared:
                return False
            return True
        return False

    # -- the TaskGroup form ----------------------------------------------------------------

    def taskgroup_fix(self, module: ModuleInfo, awaited: ast.Await, call: ast.Call, function, settings) -> Fix | None:
        if tuple(settings.target_version) < (3, 11) or function is None:
            return None
        statement = module.parent(awaited)
        if not (
            (isinstance(statement, (ast.Expr, ast.Return)) and statement.value is awaited)
            or (isinstance(statement, ast.Assign) and statement.value is awaited)
            or (isinstance(statement, ast.AnnAssign) and statement.value is awaited and statement.simple in (0, 1))
        ):
            return None
        if not _alone_on_its_lines(module, statement):
            return None
        if len(call.args) == 1 and isinstance(call.args[0], ast.Starred):
            comprehension = call.args[0].value
            if not isinstance(comprehension, (ast.ListComp, ast.GeneratorExp)):
                return None
            if any(g.is_async for g in comprehension.generators) or _has_suspension(comprehension):
                return None
            if not self.fresh_coroutine_call(module, comprehension.elt):
                return None
            shape = "comprehension"
            count = 0
        else:
            if any(not self.fresh_coroutine_call(module, arg) for arg in call.args):
                return None
            shape = "positional"
            count = len(call.args)
        taken = _names_in(function)
        group = _unique("tg", taken)
        tasks = _unique("tasks", taken)
        task_names = tuple(_unique(f"_t{index}", taken) for index in range(1, count + 1))
        title = TASKGROUP_TITLE
        if tuple(settings.target_version) < (3, 13):
            title += TASKGROUP_BUGS
        line, col = module.start(statement)
        return Fix(
            applicability=UNSAFE,
            title=title,
            plan=("taskgroup", line, col, shape, group, tasks, task_names),
            lines=module.statement_lines(statement),
            style="taskgroup",
        )

    def fresh_coroutine_call(self, module: ModuleInfo, expr: ast.AST) -> bool:
        """A call that (by all we can tell) returns a new coroutine: what TaskGroup accepts."""
        if not isinstance(expr, ast.Call) or module.spawn_kind(expr) is not None:
            return False
        if module.qualname(expr.func) in FUTURE_FUNCTIONS:
            return False
        if isinstance(expr.func, ast.Attribute) and expr.func.attr in FUTURE_METHODS:
            return False
        return not _has_suspension(expr)

    # -- rendering ---------------------------------------------------------------------

    def render(self, fix: Fix, ctx):
        if fix.plan[0] == "helper":
            return self._render_helper(fix, ctx)
        return self._render_taskgroup(fix, ctx)

    def _render_helper(self, fix: Fix, ctx):
        import libcst as cst

        from tether.render import NodeEdit

        _, line, col, drop_keyword = fix.plan
        name = ctx.helper("gather_cancel_on_error")

        def rewrite(call: cst.Call) -> cst.Call:
            args = list(call.args)
            if drop_keyword:
                for index, arg in enumerate(args):
                    if arg.keyword is not None and arg.keyword.value == "return_exceptions":
                        removed = args.pop(index)
                        if index == len(args) and args:  # it was last: the new last takes its comma
                            args[-1] = args[-1].with_changes(comma=removed.comma)
                        break
            return call.with_changes(func=cst.Name(name), args=args)

        return [NodeEdit("Call", line, col, rewrite)]

    def _render_taskgroup(self, fix: Fix, ctx):
        import libcst as cst

        from tether.render import BlockEdit, FixNotApplicable

        _, line, col, shape, group, tasks, task_names = fix.plan
        asyncio_name = ctx.asyncio
        nl, indent = ctx.newline, ctx.indent

        def rewrite(statements):
            line_statement = statements[0]
            if not isinstance(line_statement, cst.SimpleStatementLine) or len(line_statement.body) != 1:
                raise FixNotApplicable("the gather shares its line with another statement")
            small = line_statement.body[0]
            value = small.value
            if not isinstance(value, cst.Await) or not isinstance(value.expression, cst.Call):
                raise FixNotApplicable("unexpected statement shape")
            call = value.expression
            # The new code is written as text with placeholder names, then the user's own nodes
            # are put in their place: their layout, comments and string contents stay intact.
            nodes: dict[str, cst.CSTNode] = {}

            def one_line(node):
                """Inside the comprehension's brackets an expression may span lines; as the
                header of a `for`/`if` statement it must be parenthesised to do so."""
                if "\n" not in ctx.code_of(node) or getattr(node, "lpar", None):
                    return node
                return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])

            def hole(node) -> str:
                name = f"__tether_hole_{len(nodes)}__"
                nodes[name] = node
                return name

            body: list[str] = []
            if shape == "positional":
                children = [arg.value for arg in call.args if arg.keyword is None]
                for task, child in zip(task_names, children):
                    binding = "" if isinstance(small, cst.Expr) else f"{task} = "
                    body.append(f"{binding}{group}.create_task({hole(child)})")
                if isinstance(small, cst.Assign) and len(small.targets) == 1 and _plain_tuple(small.targets[0].target, len(children)):
                    results = ", ".join(f"{task}.result()" for task in task_names)
                else:
                    results = "[" + ", ".join(f"{task}.result()" for task in task_names) + "]"
            else:
                comprehension = call.args[0].value
                element = hole(comprehension.elt)
                if isinstance(small, cst.Expr):  # results unused: plain loops, no list
                    level = 0
                    for_in = comprehension.for_in
                    while for_in is not None:
                        target, iterable = one_line(for_in.target), one_line(for_in.iter)
                        body.append(indent * level + f"for {hole(target)} in {hole(iterable)}:")
                        level += 1
                        for condition in for_in.ifs:
                            body.append(indent * level + f"if {hole(one_line(condition.test))}:")
                            level += 1
                        for_in = for_in.inner_for_in
                    body.append(indent * level + f"{group}.create_task({element})")
                else:
                    nodes[FOR_IN_HOLE] = comprehension.for_in  # `for x in xs if ...` kept whole
                    body.append(f"{tasks} = [{group}.create_task({element}) for {FOR_IN_HOLE} in ()]")
                results = f"[task.result() for task in {tasks}]"
            block = f"async with {asyncio_name}.TaskGroup() as {group}:{nl}" + "".join(f"{indent}{b}{nl}" for b in body)
            new: list = [ctx.statement(block)]
            if isinstance(small, cst.Assign):
                targets = "".join(f"{hole(t.target)} = " for t in small.targets)
                new.append(ctx.statement(f"{targets}{results}{nl}"))
            elif isinstance(small, cst.AnnAssign):
                new.append(ctx.statement(f"{hole(small.target)}: {hole(small.annotation.annotation)} = {results}{nl}"))
            elif isinstance(small, cst.Return):
                new.append(ctx.statement(f"return {results}{nl}"))
            new = [statement.visit(_FillHoles(nodes)) for statement in new]
            new[0] = new[0].with_changes(leading_lines=line_statement.leading_lines)
            last = new[-1]
            if isinstance(last, cst.SimpleStatementLine):
                new[-1] = last.with_changes(trailing_whitespace=line_statement.trailing_whitespace)
            else:  # keep a trailing comment: on the `async with` line
                new[-1] = last.with_changes(body=last.body.with_changes(header=line_statement.trailing_whitespace))
            return new + list(statements[1:])

        return [BlockEdit(line, col, rewrite)]


FOR_IN_HOLE = "__tether_for_in__"


def _FillHoles(nodes):
    """A transformer putting the user's nodes where the placeholder names are."""
    import libcst as cst

    class FillHoles(cst.CSTTransformer):
        def leave_Name(self, original_node, updated_node):
            return nodes.get(updated_node.value, updated_node)

        def leave_CompFor(self, original_node, updated_node):
            if isinstance(original_node.target, cst.Name) and original_node.target.value == FOR_IN_HOLE:
                return nodes[FOR_IN_HOLE].with_changes(whitespace_before=cst.SimpleWhitespace(" "))
            return updated_node

    return FillHoles()


def _already_cancelled_on_error(module: ModuleInfo, awaited: ast.Await, call: ast.Call) -> bool:
    """The gather sits in a ``try`` whose handler or ``finally`` cancels its children by name
    (``for t in tasks: t.cancel()`` or ``t1.cancel()``): the author already owns the failure
    path. Not flagged: a finding there would be noise (precision over recall)."""
    names = set()
    for arg in call.args:
        value = arg.value if isinstance(arg, ast.Starred) else arg
        if isinstance(value, ast.Name):
            names.add(value.id)
    if not names:
        return False
    for ancestor in module.ancestors(awaited):
        if isinstance(ancestor, FunctionNode):
            return False
        if not isinstance(ancestor, TRY_NODES) or not any(_contains(stmt, awaited) for stmt in ancestor.body):
            continue
        cleanup = [s for handler in ancestor.handlers for s in handler.body] + list(ancestor.finalbody)
        for statement in cleanup:
            for node in ast.walk(statement):
                if isinstance(node, ast.For) and isinstance(node.iter, ast.Name) and node.iter.id in names:
                    if isinstance(node.target, ast.Name) and _cancels(node.body, {node.target.id}):
                        return True
            if _cancels([statement], names):
                return True
    return False


def _holds_futures(receiver: ast.AST) -> bool:
    """Whether a container's name says it holds futures or tasks (``self._pending``, ``tasks``)."""
    name = receiver.attr if isinstance(receiver, ast.Attribute) else getattr(receiver, "id", "")
    return any(word in name.lower() for word in STORE_WORDS)


def _cancels(statements, names: set[str]) -> bool:
    for statement in statements:
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "cancel"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in names
            ):
                return True
    return False


def _contains(tree: ast.AST, node: ast.AST) -> bool:
    return any(candidate is node for candidate in ast.walk(tree))


def _plain_tuple(target, count: int) -> bool:
    import libcst as cst

    if not isinstance(target, (cst.Tuple, cst.List)) or len(target.elements) != count:
        return False
    return not any(isinstance(e, cst.StarredElement) for e in target.elements)


def _parameters(function) -> set[str]:
    if not isinstance(function, FunctionNode):
        return set()
    args = function.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    return names


def _local_bindings(module: ModuleInfo, function, name: str) -> list[ast.Name]:
    """The stores of ``name`` in ``function``'s own body; none when it is a parameter or
    declared ``global``/``nonlocal`` (then other code can bind it too)."""
    if module.declared_nonlocal(function, name) or name in _parameters(function):
        return []
    return module.stores_in(function, name)


def _plain_value(assign: ast.AST | None, binding: ast.Name) -> ast.AST | None:
    """The value ``binding`` gets from a plain ``x = v`` or ``x: T = v``; None for any other
    binding (a tuple target, a loop variable, an ``import``, ``+=``, a walrus)."""
    if isinstance(assign, ast.Assign) and assign.targets == [binding]:
        return assign.value
    if isinstance(assign, ast.AnnAssign) and assign.target is binding:
        return assign.value
    return None


def _truth_tested(module: ModuleInfo, node: ast.AST) -> bool:
    """Only the truth of ``node``'s value is used: the test of an ``if``/``elif``, the operand of
    ``not``, or an operand of an ``and``/``or`` that is itself truth-tested (``a or b`` as a
    value evaluates to one of its operands, which would hand the list on)."""
    parent = module.parent(node)
    if isinstance(parent, ast.If):
        return parent.test is node
    if isinstance(parent, ast.UnaryOp):
        return isinstance(parent.op, ast.Not)
    if isinstance(parent, ast.BoolOp):
        return _truth_tested(module, parent)
    return False


def _dict_values_call(expr: ast.AST) -> bool:
    """``name.values()``."""
    return (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr == "values"
        and isinstance(expr.func.value, ast.Name)
        and not expr.args
        and not expr.keywords
    )


def _key_only_read(module: ModuleInfo, read: ast.Name) -> bool:
    """A read of a dict that sees its keys or its size, never its values: its truth, ``len(d)``,
    ``d.keys()``, ``key in d``, ``for key in d``, ``zip(d, ...)`` (iterating a dict yields keys)."""
    if _truth_tested(module, read):
        return True
    parent = module.parent(read)
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id in ("len", "zip"):
        if parent.func.id in module.imports or read not in parent.args:
            return False
        return all(keyword.arg == "strict" for keyword in parent.keywords)  # zip(d, results, strict=True)
    if isinstance(parent, ast.Attribute) and parent.attr == "keys":
        call = module.parent(parent)
        return isinstance(call, ast.Call) and call.func is parent and not call.args and not call.keywords
    if isinstance(parent, ast.Compare):  # `key in d`; in `a in d in e` d itself is tested
        return parent.comparators[-1] is read and isinstance(parent.ops[-1], (ast.In, ast.NotIn))
    if isinstance(parent, (ast.For, ast.comprehension)):
        return parent.iter is read
    return False


def _empty_list(value: ast.AST) -> bool:
    if isinstance(value, ast.List) and not value.elts:
        return True
    return isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "list" and not value.args


def _has_suspension(node: ast.AST) -> bool:
    return any(isinstance(n, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)) for n in ast.walk(node))


def _alone_on_its_lines(module: ModuleInfo, statement: ast.stmt) -> bool:
    """Not ``a = 1; await gather(...)`` nor ``if x: await gather(...)``: a block of its own lines."""
    line = module.lines[statement.lineno - 1] if statement.lineno - 1 < len(module.lines) else ""
    indentation = len(line) - len(line.lstrip())
    if module.start(statement)[1] - 1 != indentation:
        return False
    parent = module.parent(statement)
    first, last = module.statement_lines(statement)
    for field in ("body", "orelse", "finalbody", "handlers"):
        for sibling in getattr(parent, field, None) or ():
            if sibling is statement or not isinstance(sibling, ast.stmt):
                continue
            s_first, s_last = module.statement_lines(sibling)
            if s_first <= last and first <= s_last:
                return False
    return True


def _names_in(function: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _unique(base: str, taken: set[str]) -> str:
    from tether.helpers import unique_name

    name = unique_name(base, taken)
    taken.add(name)
    return name


RULE = GatherOrphansSiblings()

__getattr__ = lazy_codemod_command(RULE, "GatherOrphansSiblingsCommand")  # python -m libcst.tool codemod support
