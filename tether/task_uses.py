"""Could this use of a task (or of a container of tasks) cancel it or wait for it?

Rules that report a task as never cancelled must be sure of it: a false finding costs more
trust than a missed one. So instead of listing the ways code *can* cancel or await a task
(``t.cancel()``, ``await t``, ``await helper(t)``, ``gather(*tasks)``, ``wait(...)``, returning
it, handing it to a callback...), which is open-ended, this module lists the few uses that
certainly *cannot*: inspecting it (``t.done()``, ``t is None``, ``if t:``, ``len(tasks)``),
attaching done-callbacks, and adding to or removing from a container. Every other use counts
as "plausibly cancels or awaits it".

Values are followed through local aliases (``t = self.x``; ``t, self.x = self.x, None``;
``if (t := self.x):``; ``for t in self.tasks``; comprehensions) and through expressions that
only pass the tasks along (``self.tasks.values()``, ``list(self.tasks)``, ``self.tasks[k]``,
``self.tasks.pop()``), so ``for t in list(self.tasks.values()): t.cancel()`` is recognised.
"""

from __future__ import annotations

import ast

from tether.analysis import FunctionNode, ModuleInfo

# Methods of a task, future or container whose call neither cancels nor awaits the task(s).
INSPECTING_METHODS = frozenset(
    {
        # asyncio.Task / Future
        "done",
        "cancelled",
        "cancelling",
        "add_done_callback",
        "remove_done_callback",
        "get_name",
        "set_name",
        "get_coro",
        "get_context",
        "get_loop",
        "get_stack",
        "print_stack",
        "result",
        "exception",
        # containers
        "add",
        "append",
        "appendleft",
        "extend",
        "insert",
        "update",
        "discard",
        "remove",
        "clear",
        "keys",
        "count",
        "index",
        "__len__",
        "__contains__",
    }
)
# Methods whose result is (some of) the same tasks: follow the result.
PASSING_METHODS = frozenset({"values", "items", "copy", "pop", "popitem", "popleft", "get", "setdefault"})
# Builtins that only look at their argument, and those that return the same tasks.
INSPECTING_BUILTINS = frozenset({"len", "bool", "isinstance", "id", "repr", "str", "print", "type", "hash", "hasattr"})
PASSING_BUILTINS = frozenset({"list", "tuple", "set", "frozenset", "sorted", "reversed", "iter", "enumerate"})

MAX_ALIAS_DEPTH = 4


class TaskUses:
    """Classifies uses of task-valued expressions in one module."""

    def __init__(self, module: ModuleInfo):
        self.module = module

    def cannot_cancel(self, expr: ast.AST, depth: int = 0) -> bool:
        """True only when the value of ``expr`` (a task or container of tasks) is certainly
        neither cancelled nor awaited through this use."""
        if depth > MAX_ALIAS_DEPTH:
            return False
        module = self.module
        parent = module.parent(expr)
        if parent is None:
            return False
        if isinstance(parent, ast.Attribute) and parent.value is expr:
            call = module.parent(parent)
            if not (isinstance(call, ast.Call) and call.func is parent):
                return False  # a bound method handed on (e.g. `tasks.discard` as a callback)
            if parent.attr in INSPECTING_METHODS:
                return True
            if parent.attr in PASSING_METHODS:
                return self.cannot_cancel(call, depth)
            return False  # cancel(), and anything we do not know
        if isinstance(parent, ast.Compare):
            return True  # `t is None`, `t in tasks`, `t == other`
        if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
            return True
        if isinstance(parent, (ast.If, ast.While, ast.Assert)) and parent.test is expr:
            return True
        if isinstance(parent, ast.IfExp):
            return True if parent.test is expr else self.cannot_cancel(parent, depth)
        if isinstance(parent, ast.BoolOp):
            return self.cannot_cancel(parent, depth)
        if isinstance(parent, ast.Expr):
            return True  # a bare expression statement
        if isinstance(parent, ast.FormattedValue):
            return True
        if isinstance(parent, ast.Subscript):
            if parent.value is not expr:
                return isinstance(parent.ctx, ast.Load)  # looked up as a key; stored as one, it may be cancelled later
            if isinstance(parent.ctx, (ast.Store, ast.Del)):
                return True  # `tasks[k] = ...`, `del tasks[k]`
            return self.cannot_cancel(parent, depth)  # an element of the container
        if isinstance(parent, ast.Call):
            if expr is parent.func:
                return False
            func = parent.func
            if isinstance(func, ast.Name) and func.id not in module.imports:
                if func.id in INSPECTING_BUILTINS:
                    return True
                if func.id in PASSING_BUILTINS and expr in parent.args:
                    return self.cannot_cancel(parent, depth)
            return False  # passed to a function that may cancel or await it
        if isinstance(parent, ast.Assign) and parent.value is expr:
            return all(self._alias_target_harmless(target, depth) for target in parent.targets)
        if isinstance(parent, ast.AnnAssign) and parent.value is expr:
            return self._alias_target_harmless(parent.target, depth)
        if isinstance(parent, ast.Tuple) and isinstance(module.parent(parent), ast.Assign):
            return self._unpacked_element_harmless(expr, parent, depth)
        if isinstance(parent, ast.NamedExpr) and parent.value is expr:
            return self._alias_target_harmless(parent.target, depth) and self.cannot_cancel(parent, depth)
        if isinstance(parent, (ast.For, ast.AsyncFor)) and parent.iter is expr:
            return self._alias_target_harmless(parent.target, depth)
        if isinstance(parent, ast.comprehension) and parent.iter is expr:
            return self._alias_target_harmless(parent.target, depth)
        return False  # await, return, yield, list literals, starred arguments, ...

    # -- aliases -----------------------------------------------------------------------

    def _unpacked_element_harmless(self, expr: ast.AST, values: ast.Tuple, depth: int) -> bool:
        """``t, self.x = self.x, None``: follow the target in the same position."""
        assign = self.module.parent(values)
        if assign.value is not values or len(assign.targets) != 1:
            return False
        target = assign.targets[0]
        if not isinstance(target, (ast.Tuple, ast.List)) or len(target.elts) != len(values.elts):
            return False
        if any(isinstance(e, ast.Starred) for e in (*target.elts, *values.elts)):
            return False
        index = next(i for i, e in enumerate(values.elts) if e is expr)
        return self._alias_target_harmless(target.elts[index], depth)

    def _alias_target_harmless(self, target: ast.AST, depth: int) -> bool:
        """Every use of the local name(s) ``target`` binds is harmless."""
        if isinstance(target, (ast.Tuple, ast.List)):
            return all(self._alias_target_harmless(e, depth) for e in target.elts)
        if isinstance(target, ast.Starred):
            return self._alias_target_harmless(target.value, depth)
        if not isinstance(target, ast.Name):
            return False  # stored on an object or in a container: someone else may cancel it
        return self.name_uses_harmless(target, depth + 1)

    def name_uses_harmless(self, binding: ast.Name, depth: int, ignore: ast.AST | None = None) -> bool:
        """Every read of the local name bound by ``binding`` (except ``ignore``) is harmless."""
        scope = self._scope_of_binding(binding)
        if scope is None:
            return False
        name = binding.id
        if isinstance(scope, FunctionNode) and self.module.declared_nonlocal(scope, name):
            return False
        for read in self.module.name_reads(scope, name):
            if read is ignore:
                continue
            if not self.cannot_cancel(read, depth):
                return False
        return True

    def _scope_of_binding(self, binding: ast.Name) -> ast.AST | None:
        """The function (or comprehension) whose reads of the name see this binding.

        Module-level and class-level names can be read from anywhere: no local scope.
        """
        for ancestor in self.module.ancestors(binding):
            if isinstance(ancestor, ast.comprehension):
                comprehension = self.module.parent(ancestor)
                if binding is ancestor.target or _inside(binding, ancestor.target):
                    return comprehension
            if isinstance(ancestor, (*FunctionNode, ast.Lambda)):
                return ancestor
            if isinstance(ancestor, (ast.ClassDef, ast.Module)):
                return None
        return None


def _inside(node: ast.AST, container: ast.AST) -> bool:
    return any(child is node for child in ast.walk(container))
