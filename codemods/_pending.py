"""Where the awaitables handed to ``asyncio.wait`` / ``asyncio.as_completed`` come from.

TET202 and TET203 may only cancel work that the flagged function started itself: cancelling
futures that a caller or another object also holds would cancel someone else's work. So both
rules accept just the argument shapes whose elements are created right there (a literal or a
comprehension of calls) or in a local name that nothing else reads (bound once to such a
literal or comprehension, or to an empty list filled by ``append`` calls). Anything else is
not flagged: precision matters more than recall.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from tether.analysis import FunctionNode, ModuleInfo

# Calls of these return coroutines; `asyncio.wait` rejects coroutines from Python 3.11 on.
ASYNCIO_COROUTINE_FUNCTIONS = {
    "asyncio.sleep",
    "asyncio.wait_for",
    "asyncio.open_connection",
    "asyncio.start_server",
    "asyncio.to_thread",
    "asyncio.create_subprocess_exec",
    "asyncio.create_subprocess_shell",
}
# `x.create_task(...)` on a receiver that is not a known event loop: a TaskGroup or nursery,
# which already owns (and will wait for) the task.
OWNED_SPAWN_METHODS = {"create_task", "start_soon", "spawn", "start"}
# These wrap the awaitables they are given: `gather(self._reader)` is a new future, but
# cancelling it cancels `self._reader`, so it is not fresh when it wraps a stored one.
WRAPPING_FUNCTIONS = {"asyncio.gather", "asyncio.shield", "asyncio.wait_for", "asyncio.ensure_future"}


@dataclass
class Source:
    """The calls that create the awaitables, and how the argument refers to them."""

    calls: list[ast.Call]
    name: str | None = None  # the local name holding them, when the argument is a name
    binding: ast.AST | None = None  # the statement that binds that name
    other_reads: list[ast.Name] = field(default_factory=list)  # reads besides fill and use

    generator: bool = False  # a generator expression: it can be iterated only once

    def all_tasks(self, module: ModuleInfo) -> bool:
        """The local name holds tasks (create_task & co), not bare coroutines, and can be re-read."""
        return (
            self.name is not None
            and not self.generator
            and bool(self.calls)
            and all(module.spawn_kind(call) is not None for call in self.calls)
        )


def fresh_source(module: ModuleInfo, arg: ast.AST, use: ast.AST, function: ast.AST) -> Source | None:
    """The Source of ``arg`` (the first argument of the call ``use``), or None if not fresh."""
    calls = _element_calls(arg)
    if calls is not None:
        if not all(_owned_here(module, c) for c in calls):
            return None
        return Source(calls, generator=isinstance(arg, ast.GeneratorExp))
    if not isinstance(arg, ast.Name) or not isinstance(function, FunctionNode):
        return None
    return _local_source(module, arg, use, function)


def _element_calls(arg: ast.AST) -> list[ast.Call] | None:
    if isinstance(arg, (ast.List, ast.Set, ast.Tuple)):
        if arg.elts and all(isinstance(e, ast.Call) for e in arg.elts):
            return list(arg.elts)
        return None
    if isinstance(arg, (ast.ListComp, ast.SetComp, ast.GeneratorExp)) and isinstance(arg.elt, ast.Call):
        return [arg.elt]
    return None


def _owned_here(module: ModuleInfo, call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr in OWNED_SPAWN_METHODS and module.spawn_kind(call) is None:
        return False
    wrapper = module.qualname(func)
    if wrapper in WRAPPING_FUNCTIONS:
        wrapped = call.args if wrapper == "asyncio.gather" else call.args[:1]
        for arg in wrapped:
            if isinstance(arg, ast.Starred):
                arg = arg.value
            if isinstance(arg, (ast.Attribute, ast.Subscript)):
                return False  # `self._reader_task`, `tasks[k]`: stored where other code reaches it
            if isinstance(arg, ast.Call) and not _owned_here(module, arg):
                return False
    return True


def _local_source(module: ModuleInfo, arg: ast.Name, use: ast.AST, function: ast.AST) -> Source | None:
    name = arg.id
    if module.declared_nonlocal(function, name) or _is_parameter(function, name):
        return None
    stores = module.stores_in(function, name)
    if len(stores) != 1:
        return None
    binding = module.parent(stores[0])
    if not (isinstance(binding, ast.Assign) and binding.targets == [stores[0]]):
        return None
    if binding.lineno >= use.lineno or module.scope_of(binding) is not function:
        return None
    calls = _element_calls(binding.value)
    filled_by_append = calls is None
    if filled_by_append:
        if not _is_empty_container(binding.value):
            return None
        calls = []
    other: list[ast.Name] = []
    for read in module.name_reads(function, name):
        if read is arg:
            continue
        appended = _appended_call(module, read)
        if appended is not None and filled_by_append and module.scope_of(read) is function and read.lineno < use.lineno:
            calls.append(appended)
            continue
        if _harmless_read(module, read) and read.lineno <= use.lineno:
            continue
        other.append(read)
    if not calls or not all(_owned_here(module, c) for c in calls):
        return None
    return Source(calls, name, binding, other, generator=isinstance(binding.value, ast.GeneratorExp))


def _is_parameter(function: ast.AST, name: str) -> bool:
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return any(a is not None and a.arg == name for a in every)


def _is_empty_container(value: ast.AST) -> bool:
    if isinstance(value, ast.List) and not value.elts:
        return True
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in ("list", "set")
        and not value.args
        and not value.keywords
    )


def _appended_call(module: ModuleInfo, read: ast.Name) -> ast.Call | None:
    """The call in ``name.append(call(...))`` (an expression statement), else None."""
    attribute = module.parent(read)
    if not (isinstance(attribute, ast.Attribute) and attribute.attr in ("append", "add")):
        return None
    call = module.parent(attribute)
    if not (isinstance(call, ast.Call) and call.func is attribute and isinstance(module.parent(call), ast.Expr)):
        return None
    if len(call.args) == 1 and not call.keywords and isinstance(call.args[0], ast.Call):
        return call.args[0]
    return None


def _harmless_read(module: ModuleInfo, read: ast.Name) -> bool:
    """``len(tasks)``, ``if tasks:``, ``not tasks``: looking at the list, not sharing it."""
    parent = module.parent(read)
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id == "len":
        return True
    if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
        return True
    return isinstance(parent, (ast.If, ast.While)) and parent.test is read


def known_coroutine_call(module: ModuleInfo, call: ast.Call) -> bool:
    """The call certainly returns a coroutine (an ``async def`` of this module, asyncio.sleep...)."""
    if module.qualname(call.func) in ASYNCIO_COROUTINE_FUNCTIONS:
        return True
    if isinstance(call.func, ast.Name):
        return call.func.id in _async_def_names(module)
    return False


def _async_def_names(module: ModuleInfo) -> frozenset[str]:
    cached = module.__dict__.get("_async_def_names")
    if cached is None:
        async_defs = {node.name for node in module.of_type(ast.AsyncFunctionDef)}
        other = {node.name for node in module.of_type(ast.FunctionDef)}
        other.update(node.name for node in module.of_type(ast.ClassDef))
        other.update(node.id for node in module.of_type(ast.Name) if isinstance(node.ctx, ast.Store))
        cached = frozenset(async_defs - other - set(module.imports))
        module.__dict__["_async_def_names"] = cached
    return cached
