"""TET301 owned-task-never-cancelled: a task stored on ``self`` that no method ever cancels.

## What it finds
A task created with ``asyncio.create_task``, ``asyncio.ensure_future``, ``asyncio.Task(...)``,
``loop.create_task`` (on a known event loop) or a configured ``extra-spawners`` function, in
any method (``__init__``, ``start()``, ``connect()``...), and stored on the object:
``self.x = create_task(...)`` (also through a local: ``t = create_task(...); self.x = t``, or
one bound in each arm of an ``if``, as in ``if eager: t = asyncio.Task(c, eager_start=True)
else: t = asyncio.create_task(c)``), or
added to a container on the object: ``self.tasks.add(...)``, ``.append(...)``,
``self.tasks[k] = ...``, ``self.tasks = [create_task(...) for ...]``; when nothing in the class
can cancel or await that attribute.

## Why is this bad?
The object owns the task, but nothing ends it: after ``close()`` the keep-alive, reader or
poller keeps running against a closed connection, logs errors, holds the object alive and is
only cancelled when the event loop shuts down. Tests leak tasks into each other and servers
leak one task per client.

## Example
```python
class Client:
    async def connect(self):
        self._conn = await open_connection()
        self._keepalive = asyncio.create_task(self._ping_forever())

    async def close(self):
        await self._conn.close()
```

Use instead (the unsafe fix):
```python
class Client:
    async def connect(self):
        self._conn = await open_connection()
        self._keepalive = asyncio.create_task(self._ping_forever())

    async def close(self):
        try:
            await self._conn.close()
        finally:
            await _cancel_owned(getattr(self, "_keepalive", None))
```
``_cancel_owned`` is added once per module: it accepts tasks, ``None`` and containers of
tasks (the values of a mapping), cancels every one that is not done (skipping the task that
is running ``close()`` itself, so a task that closes its owner does not cancel itself, and
tasks whose loop is already closed), then waits until they have all finished. A synchronous
``close()`` cannot wait: it gets ``_cancel_owned_nowait(...)``, which only requests the
cancellation; the finding's message says so.

## Where the fix goes
Into the class's close method, one of ``aclose``, ``close``, ``stop``, ``shutdown``,
``disconnect``, ``__aexit__`` that the class defines (else one inherited from a base class in
the same module): preferably the one the others call (``__aexit__`` calling ``self.close()``
makes it ``close``, so the cancel runs whichever the user calls), then an ``async def`` (it can
wait), then in that order. A close method that is a stub, a generator, or decorated (other
than ``@override``) is not edited.

The rest of the body (after the docstring) is wrapped in ``try: ... finally:`` with the
cancel in ``finally``. At the end, because close methods often end background work gracefully
(put a sentinel in the queue, then ``await queue.join()`` or wait for an event the worker
sets): cancelling first would cut that short and could make ``close()`` wait forever. In
``finally``, because close methods often return early (``if self._closed: return``) or raise
while tearing down a connection, and a plain statement at the end would be skipped on exactly
those paths. ``getattr(self, "x", None)`` makes the call safe when the task was never started
(``close()`` before ``connect()``) or was reset to ``None``. One call cancels every flagged
task of the class, so all are cancelled before any is waited for. Without a close method the
finding has no fix: add one.

## Not flagged
Any use of the attribute, anywhere in the class, in a parent or subclass defined in the same
module, or through another object (``client._task``) anywhere in the module, that could
plausibly cancel or await it: ``self.x.cancel()``, ``await self.x``, passing it or its
container to any function (``await _cancel_and_wait(self.x)``, ``asyncio.gather(*self.tasks)``,
``asyncio.wait(self.tasks)``), returning it, handing on a bound method (``self.tasks.discard``
as a done-callback: the keep-reference recipe), storing it elsewhere; also through aliases
(``t = self.x``, ``t, self.x = self.x, None``, ``if (t := self.x):``, ``for t in self.tasks``,
``self.tasks.values()``, comprehensions) whose uses are followed the same way. Only uses that
certainly cannot end the task are ignored: ``done()``, ``add_done_callback``, ``is None``,
``if self.x:``, ``len()``, ``add``/``append``/``discard``/``clear``, assignments to it. A class
that reads attributes by computed name (``getattr(self, name)``, ``vars(self)``,
``self.__dict__``) is not analysed. A public attribute (``self.handler``, no leading
underscore) of a class with no close method at all: it is the object's interface, and
whoever ends the object's life may cancel it from another module (Home Assistant's
``async_unload_entry`` does). A task running a method of the class that waits, outside any
loop, for an event a close method sets (``await self._done.wait()`` / ``self._done.set()``):
closing the object already ends it. A task started by a close method (``def close(self):
self._close_task = create_task(self._close())``, as websockets' ``Server`` does): it is the
closing work, and the fix would cancel it in the very call that started it.

Not seen: cancels in base classes or subclasses defined in other modules (a framework base
class that cancels ``self._task`` itself), tasks passed to a helper that stores them
(``self._track(create_task(...))``), spawns through a project's own wrapper (name it in
``extra-spawners``: ``aiokafka.util.create_task``, Home Assistant's ``create_eager_task``),
``create_task`` on a loop reached through another object (``self.hass.loop``,
``self.get_loop()``), and a local that is also bound to something else than a spawn
(``t = None``). bench/PRECISION.md ("TET301 recall") counts these on real code.

## Fix safety
The fix is *unsafe*: it cancels work on the success path. A task that was meant to finish
its work after ``close()`` is cut short, ``close()`` now waits for the task to finish its
cancellation (forever if the task suppresses ``CancelledError`` and keeps looping), and a task
that fails while being cancelled reports that failure. Results and exceptions of ``close()``
are unchanged: when it raises, the tasks are cancelled and waited for and the same exception
propagates. A cancel aimed at the caller while it waits is not swallowed, and a task that had
already failed keeps its "exception was never retrieved" report (it is neither cancelled nor
its exception retrieved).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property
from typing import Iterator

from tether.analysis import SPAWN_ASYNCIO_TRIGGERS, SPAWN_TRIGGERS, FunctionNode, ModuleInfo, _children
from tether.model import UNSAFE, Finding, Fix
from tether.rule import Rule, lazy_codemod_command
from tether.task_uses import TaskUses

CLOSE_METHODS = ("aclose", "close", "stop", "shutdown", "disconnect", "__aexit__")
CONTAINER_ADDERS = ("add", "append", "appendleft")
NON_INSTANCE_DECORATORS = {"staticmethod", "classmethod"}
HARMLESS_DECORATORS = {"override"}


@dataclass(frozen=True)
class OwnedSpawn:
    """One place where a method stores a new task on ``self``."""

    cls: ast.ClassDef
    key: str  # the attribute as stored at runtime (private names mangled)
    attribute: str  # as written in the class
    shown: str  # `self._tasks`
    container: bool
    call: ast.Call  # the spawn


@dataclass(frozen=True)
class CloseMethod:
    function: ast.AST
    self_name: str
    is_async: bool


class OwnedTaskNeverCancelled(Rule):
    code = "TET301"
    name = "owned-task-never-cancelled"
    summary = "Task stored on `self` that no method cancels or awaits: it outlives close()"
    triggers = SPAWN_TRIGGERS
    asyncio_triggers = SPAWN_ASYNCIO_TRIGGERS

    def check(self, module: ModuleInfo, settings) -> Iterator[Finding]:
        # Every owned task comes from a spawn call written inside its class, so classes
        # without one need no walk of their methods: on real code bases most classes in
        # files that mention create_task are of that kind, and the walk dominated the rule.
        if not module.spawn_lines:
            return
        classes = _ClassIndex(module)
        uses = TaskUses(module)
        for cls in classes.classes:
            if not module.spawns_within(cls):
                continue
            spawns = sorted(_owned_spawns(module, cls), key=lambda s: (s.call.lineno, s.call.col_offset))
            if not spawns:
                continue
            family = classes.family(cls)
            if classes.reads_attributes_dynamically(family):
                continue
            flagged = [
                s
                for s in spawns
                if not _plausibly_ended(module, classes, uses, s.key, family)
                and not _managed_from_outside(classes, cls, s)
                and not _signalled_to_end(module, cls, s)
            ]
            if not flagged:
                continue
            yield from self._findings(module, classes, cls, flagged)

    def _findings(self, module, classes, cls, flagged) -> Iterator[Finding]:
        from tether.engine import is_suppressed

        close = _close_method(module, classes, cls)
        drafts = [(spawn, self.finding(module, spawn.call, self._message(module, cls, spawn, close))) for spawn in flagged]
        # One fix cancels every flagged attribute of the class at once (all are cancelled
        # before any is waited for, and the fix converges in one pass); a `# noqa` on a
        # spawn keeps its attribute out of it.
        keys: list[str] = []
        for spawn, draft in drafts:
            if not is_suppressed(draft, module.lines) and spawn.key not in keys:
                keys.append(spawn.key)
        fixes: tuple[Fix, ...] = ()
        if close is not None and keys:
            line, col = module.start(close.function)
            first, last = module.statement_lines(close.function)
            written = {spawn.key: spawn.attribute for spawn in flagged}
            shown = ", ".join(f"`{close.self_name}.{written[k]}`" for k in keys)
            action = "Cancel and wait for" if close.is_async else "Cancel (without waiting for)"
            fixes = (
                Fix(
                    applicability=UNSAFE,
                    title=f"{action} {shown} when `{close.function.name}()` ends",
                    plan=("cancel_owned", line, col, close.self_name, close.is_async, tuple(keys)),
                    lines=(first, last),
                ),
            )
        for _, draft in drafts:
            yield Finding(draft.code, draft.message, draft.line, draft.col, draft.end_line, draft.end_col, fixes)

    def _message(self, module: ModuleInfo, cls: ast.ClassDef, spawn: OwnedSpawn, close: CloseMethod | None) -> str:
        made = f"`{module.segment(spawn.call.func)}(...)`"
        if spawn.container:
            what = f"{spawn.shown} collects tasks created by {made} that no method of `{cls.name}` cancels or awaits"
        else:
            what = f"{spawn.shown} holds a task created by {made} that no method of `{cls.name}` cancels or awaits"
        what += ": it keeps running after the object is closed"
        if close is None:
            names = ", ".join(f"`{n}`" for n in CLOSE_METHODS)
            return f"{what}; no close method ({names}) to cancel it in, so no fix: add one"
        name = close.function.name
        if close.is_async:
            return f"{what}; unsafe fix: cancel it and wait for it when `{name}()` ends"
        return (
            f"{what}; unsafe fix: cancel it when `{name}()` ends; `{name}()` is synchronous, so it "
            "cannot wait for the task to finish"
        )

    # -- fix ---------------------------------------------------------------------------

    def render(self, fix: Fix, ctx):
        import libcst as cst

        from tether.render import FixNotApplicable, NodeEdit

        _, line, col, self_name, is_async, keys = fix.plan
        helper = ctx.helper("cancel_owned" if is_async else "cancel_owned_nowait")
        arguments = ", ".join(f'getattr({self_name}, "{key}", None)' for key in keys)
        call = f"{'await ' if is_async else ''}{helper}({arguments})"
        statement = ctx.statement(call + ctx.newline)

        def insert(function: cst.FunctionDef) -> cst.FunctionDef:
            body = function.body
            if isinstance(body, cst.SimpleStatementSuite):  # `async def close(self): await x.close()`
                return function.with_changes(body=cst.IndentedBlock(body=_suite_with(body, statement)))
            if not isinstance(body, cst.IndentedBlock):
                raise FixNotApplicable("unexpected close method body")
            statements = list(body.body)
            at = 1 if statements and _is_docstring(statements[0]) else 0
            rest = statements[at:]
            if len(rest) == 1 and _is_bare_pass(rest[0]):
                rest = []  # `pass` was only there to have a body
            return function.with_changes(body=body.with_changes(body=[*statements[:at], *_guarded(rest, statement)]))

        return [NodeEdit("FunctionDef", line, col, insert)]


# -- what the class stores -----------------------------------------------------------------


def _owned_spawns(module: ModuleInfo, cls: ast.ClassDef) -> Iterator[OwnedSpawn]:
    for method in cls.body:
        if not isinstance(method, FunctionNode) or not _is_instance_method(method):
            continue
        if not module.spawns_within(method):
            continue  # an owned task's spawn call is written in the method that stores it
        if method.name in CLOSE_METHODS:
            continue  # the closing work itself (`self._close_task = create_task(self._close())`)
        self_name = _self_name(method)
        if self_name is None:
            continue
        for node in _walk_self_scope(method, self_name):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                yield from _stored(module, cls, self_name, node.targets[0], node.value)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                yield from _stored(module, cls, self_name, node.target, node.value)
            elif isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
                func = node.func
                if isinstance(func, ast.Attribute) and func.attr in CONTAINER_ADDERS:
                    owner = _self_attribute(func.value, self_name)
                    if owner is not None:
                        for call in _spawns_of(module, node.args[0]):
                            yield OwnedSpawn(cls, _mangle(owner, cls.name), owner, f"`{self_name}.{owner}`", True, call)


def _stored(module: ModuleInfo, cls: ast.ClassDef, self_name: str, target: ast.AST, value: ast.AST) -> Iterator[OwnedSpawn]:
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)):
        if len(target.elts) == len(value.elts) and not any(isinstance(e, ast.Starred) for e in (*target.elts, *value.elts)):
            for sub_target, sub_value in zip(target.elts, value.elts):
                yield from _stored(module, cls, self_name, sub_target, sub_value)
        return
    attribute = _self_attribute(target, self_name)
    if attribute is not None:
        calls = _spawns_of(module, value)
        for call in calls:
            yield OwnedSpawn(cls, _mangle(attribute, cls.name), attribute, f"`{self_name}.{attribute}`", False, call)
        if calls:
            return
        for call in _spawns_in_collection(module, value):
            yield OwnedSpawn(cls, _mangle(attribute, cls.name), attribute, f"`{self_name}.{attribute}`", True, call)
        return
    if isinstance(target, ast.Subscript):
        container = _self_attribute(target.value, self_name)
        if container is not None:
            for call in _spawns_of(module, value):
                yield OwnedSpawn(cls, _mangle(container, cls.name), container, f"`{self_name}.{container}`", True, call)


def _spawns_in_collection(module: ModuleInfo, value: ast.AST) -> list[ast.Call]:
    """``[create_task(w()) for w in ws]``, ``{k: create_task(...) ...}``, ``[create_task(a), ...]``."""
    if isinstance(value, (ast.ListComp, ast.SetComp)):
        return [value.elt] if module.spawn_kind(value.elt) else []
    if isinstance(value, ast.DictComp):
        return [value.value] if module.spawn_kind(value.value) else []
    if isinstance(value, (ast.List, ast.Set, ast.Tuple)):
        return [e for e in value.elts if module.spawn_kind(e)]
    if isinstance(value, ast.Dict):
        return [v for v in value.values if module.spawn_kind(v)]
    return []


def _spawns_of(module: ModuleInfo, value: ast.AST) -> list[ast.Call]:
    """The spawn calls ``value`` can evaluate to: the call itself, or a local bound only to
    spawns whose other uses cannot cancel or await them (``t = create_task(...); self.x = t``).
    A local may be bound once per branch (``if eager: t = asyncio.Task(c, eager_start=True)
    else: t = asyncio.create_task(c)``, how aiohttp and uvicorn start tasks): then every
    binding must be a spawn, and each is a task the attribute may hold. A binding to anything
    else (``t = None``, ``t = make()``) means the value is unknown: nothing is returned."""
    if module.spawn_kind(value):
        return [value]  # type: ignore[list-item]
    if not isinstance(value, ast.Name):
        return []
    function = module.enclosing_function(value)
    if function is None:
        return []
    bindings = module.stores_in(function, value.id)
    if not bindings:
        return []
    calls = []
    for binding in bindings:
        assign = module.parent(binding)
        if not (isinstance(assign, ast.Assign) and assign.targets == [binding] and module.spawn_kind(assign.value)):
            return []
        calls.append(assign.value)
    if len(bindings) > 1 and not _alternatives_before(module, [module.parent(b) for b in bindings], value):
        return []
    if not TaskUses(module).name_uses_harmless(bindings[0], 1, ignore=value):
        return []  # every read of the name, whichever binding it sees
    return sorted(calls, key=lambda call: (call.lineno, call.col_offset))


def _alternatives_before(module: ModuleInfo, assigns: list[ast.AST], read: ast.AST) -> bool:
    """Whether the assignments sit in different arms of ``if`` statements (at most one runs)
    that all end before ``read``: then whichever ran, its task is the one ``read`` sees. Two
    bindings in a row (``t = spawn(a); t = spawn(b)``) or after the read fail the test: the
    first task would be dropped, not stored."""
    paths = [[a, *module.ancestors(a)] for a in assigns]
    for i, first in enumerate(paths):
        above = {id(node): index for index, node in enumerate(first)}
        for second in paths[i + 1 :]:
            for index, node in enumerate(second):
                if id(node) in above:
                    break
            else:
                return False
            join = node
            if not isinstance(join, ast.If) or index == 0 or above[id(join)] == 0:
                return False
            arm_a, arm_b = first[above[id(join)] - 1], second[index - 1]
            if any(arm_a is s for s in join.body) == any(arm_b is s for s in join.body):
                return False  # both in `body`, or both in `orelse`
            if (read.lineno, read.col_offset) <= (join.end_lineno, join.end_col_offset):
                return False
    return True


def _self_attribute(node: ast.AST, self_name: str) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == self_name:
        return node.attr
    return None


def _walk_self_scope(function: ast.AST, self_name: str) -> Iterator[ast.AST]:
    """The nodes of a method where ``self_name`` is still the instance: nested functions are
    included (closures see ``self``) unless they rebind the name; nested classes are not."""
    stack = _children(function)  # ast.iter_child_nodes, without its generator
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ClassDef):
            continue
        if isinstance(node, (*FunctionNode, ast.Lambda)) and self_name in _parameters(node):
            continue
        yield node
        stack.extend(_children(node))


# -- does anything end it? -------------------------------------------------------------------


def _managed_from_outside(classes: "_ClassIndex", cls: ast.ClassDef, spawn: OwnedSpawn) -> bool:
    """A public attribute (``self.handler``) of a class without any close method is the
    object's interface: whoever ends the object's life can end the task, typically from
    another module we cannot see (Home Assistant's ``async_unload_entry`` cancels
    ``entry.runtime_data.websocket_handler``). Private attributes stay flagged: nothing
    outside the class should touch them."""
    if spawn.attribute.startswith("_"):
        return False
    seen: set[int] = set()
    level = [cls]
    while level:
        for owner in level:
            seen.add(id(owner))
            if any(isinstance(node, FunctionNode) and node.name in CLOSE_METHODS for node in owner.body):
                return False
        level = [b for owner in level for b in classes.bases(owner) if id(b) not in seen]
    return True


def _signalled_to_end(module: ModuleInfo, cls: ast.ClassDef, spawn: OwnedSpawn) -> bool:
    """The task runs a method of the class that waits, outside any loop, for an event that a
    close method of the class sets (``await self._done.wait()`` / ``self._done.set()``):
    closing the object ends the task, no cancel needed."""
    coroutine = spawn.call.args[0] if spawn.call.args else None
    if not (isinstance(coroutine, ast.Call) and isinstance(coroutine.func, ast.Attribute)):
        return False
    receiver = coroutine.func.value
    if not (isinstance(receiver, ast.Name) and spawn.shown.startswith(f"`{receiver.id}.")):
        return False  # not a method of this object
    methods = {node.name: node for node in cls.body if isinstance(node, FunctionNode)}
    target = methods.get(coroutine.func.attr)
    if not isinstance(target, ast.AsyncFunctionDef) or _self_name(target) is None:
        return False
    awaited_events = set()
    for statement in target.body:  # top-level statements only: a wait inside a loop repeats
        for node in ast.walk(statement):
            if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
                break
            if (
                isinstance(node, ast.Await)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr == "wait"
                and not node.value.args
            ):
                event = _self_attribute(node.value.func.value, _self_name(target))
                if event is not None:
                    awaited_events.add(event)
        if isinstance(statement, (ast.For, ast.AsyncFor, ast.While)):
            break
    if not awaited_events:
        return False
    for name, close in methods.items():
        if name not in CLOSE_METHODS or _self_name(close) is None:
            continue
        for node in ast.walk(close):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "set"
                and _self_attribute(node.func.value, _self_name(close)) in awaited_events
            ):
                return True
    return False


def _plausibly_ended(module: ModuleInfo, classes: "_ClassIndex", uses: TaskUses, key: str, family: frozenset[int]) -> bool:
    """Whether some read of the attribute ``key`` could cancel or await what it holds."""
    for access in classes.accesses.get(key, ()):
        owner = classes.instance_class_of(access.receiver)
        if owner is not None and id(owner) not in family:
            continue  # `self.x` of an unrelated class: a different object
        if not uses.cannot_cancel(access.node):
            return True
    return False


@dataclass(frozen=True)
class _Access:
    node: ast.AST  # the expression whose value is the attribute's value
    receiver: ast.AST


class _ClassIndex:
    """The module's classes, their inheritance families, and every read of each attribute."""

    def __init__(self, module: ModuleInfo):
        self.module = module
        self.classes = list(module.of_type(ast.ClassDef))
        self.by_name: dict[str, list[ast.ClassDef]] = {}
        for cls in self.classes:
            self.by_name.setdefault(cls.name, []).append(cls)
        self._families = self._compute_families()

    def family(self, cls: ast.ClassDef) -> frozenset[int]:
        return self._families[id(cls)]

    def bases(self, cls: ast.ClassDef) -> list[ast.ClassDef]:
        found = []
        for base in cls.bases:
            name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None)
            for candidate in self.by_name.get(name or "", ()):
                if candidate is not cls:
                    found.append(candidate)
        return found

    def _compute_families(self) -> dict[int, frozenset[int]]:
        parent = {id(c): id(c) for c in self.classes}

        def root(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for cls in self.classes:
            for related in [*self.bases(cls), *self.by_name[cls.name]]:
                parent[root(id(related))] = root(id(cls))
        groups: dict[int, set[int]] = {}
        for cls in self.classes:
            groups.setdefault(root(id(cls)), set()).add(id(cls))
        return {id(c): frozenset(groups[root(id(c))]) for c in self.classes}

    @cached_property
    def accesses(self) -> dict[str, list[_Access]]:
        """Every read of each attribute (key: the runtime name, private names mangled by the
        class the read is written in), and every ``getattr(obj, "name")``. Only computed for
        modules where some class stores a task."""
        # Read from the module's indexes of attributes and calls rather than by a walk of
        # the whole tree; the order within a list does not matter (``_plausibly_ended``
        # asks whether any of them could end the task).
        module = self.module
        accesses: dict[str, list[_Access]] = {}
        for node in module.of_type(ast.Attribute):
            if isinstance(node.ctx, ast.Load):
                attribute = node.attr
                if attribute.startswith("__") and not attribute.endswith("__"):
                    attribute = _mangle(attribute, self._class_name_around(node))
                accesses.setdefault(attribute, []).append(_Access(node, node.value))
        for node in module.of_type(ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == "getattr":
                if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                    accesses.setdefault(node.args[1].value, []).append(_Access(node, node.args[0]))
        return accesses

    def _class_name_around(self, node: ast.AST) -> str | None:
        """The name of the innermost class ``node`` is written in, methods or not (the
        class that mangles its private names), or None outside every class."""
        for ancestor in self.module.ancestors(node):
            if isinstance(ancestor, ast.ClassDef):
                return ancestor.name
        return None

    def instance_class_of(self, receiver: ast.AST) -> ast.ClassDef | None:
        """The class whose method binds ``receiver`` as its instance parameter, if any."""
        if not isinstance(receiver, ast.Name):
            return None
        for ancestor in self.module.ancestors(receiver):
            if isinstance(ancestor, ast.ClassDef):
                return None
            if isinstance(ancestor, (*FunctionNode, ast.Lambda)) and receiver.id in _parameters(ancestor):
                owner = self.module.parent(ancestor)
                if (
                    isinstance(owner, ast.ClassDef)
                    and isinstance(ancestor, FunctionNode)
                    and _is_instance_method(ancestor)
                    and _self_name(ancestor) == receiver.id
                ):
                    return owner
                return None
        return None

    def reads_attributes_dynamically(self, family: frozenset[int]) -> bool:
        """``getattr(self, name)``, ``vars(self)``, ``self.__dict__`` anywhere in the family."""
        return not self._dynamic_readers.isdisjoint(family)

    @cached_property
    def _dynamic_readers(self) -> frozenset[int]:
        """The classes with a dynamic read anywhere inside them (nested classes and
        functions included): every class around each such read in the module."""
        module = self.module
        readers = set()
        candidates = [node for node in module.of_type(ast.Attribute) if node.attr == "__dict__"]
        candidates += [
            node for node in module.of_type(ast.Call) if isinstance(node.func, ast.Name) and node.func.id in ("vars", "getattr")
        ]
        for node in candidates:
            if _reads_dynamically(node):
                readers.update(id(a) for a in module.ancestors(node) if isinstance(a, ast.ClassDef))
        return frozenset(readers)


def _reads_dynamically(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "__dict__":
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id == "vars":
            return True
        if node.func.id == "getattr":
            name = node.args[1] if len(node.args) >= 2 else None
            return not (isinstance(name, ast.Constant) and isinstance(name.value, str))
    return False


# -- where the fix goes ----------------------------------------------------------------------


def _close_method(module: ModuleInfo, classes: _ClassIndex, cls: ast.ClassDef) -> CloseMethod | None:
    """The close method of ``cls``: own methods first, then bases in this module. Within a
    class, the one that the other close methods call (``__aexit__`` -> ``aclose`` ->
    ``close``) is preferred, so the cancel runs whichever of them the user calls; then an
    ``async def`` (it can wait); then the order of CLOSE_METHODS."""
    seen: set[int] = set()
    level = [cls]
    while level:
        candidates = []
        for owner in level:
            seen.add(id(owner))
            for node in owner.body:
                if isinstance(node, FunctionNode) and node.name in CLOSE_METHODS:
                    candidates.append(node)
        usable = [c for c in candidates if _fixable_close(module, c)]
        if usable:
            callers = _close_callers(candidates)
            best = min(
                usable,
                key=lambda f: (-len(callers[f.name]), not isinstance(f, ast.AsyncFunctionDef), CLOSE_METHODS.index(f.name)),
            )
            return CloseMethod(best, _self_name(best) or "self", isinstance(best, ast.AsyncFunctionDef))
        if candidates:
            return None  # a close method we cannot safely edit shadows the bases' ones
        level = [b for owner in level for b in classes.bases(owner) if id(b) not in seen]
    return None


def _close_callers(candidates: list[ast.AST]) -> dict[str, set[str]]:
    """close method name -> the other close methods that reach it through ``self.name()``."""
    calls: dict[str, set[str]] = {}
    for function in candidates:
        self_name = _self_name(function)
        calls[function.name] = {
            node.func.attr
            for node in ast.walk(function)
            if isinstance(node, ast.Call) and _self_attribute(node.func, self_name or "") in CLOSE_METHODS
        }
    reached_by: dict[str, set[str]] = {name: set() for name in calls}
    for caller in calls:
        stack, seen = list(calls[caller]), set()
        while stack:
            callee = stack.pop()
            if callee in seen or callee == caller or callee not in calls:
                continue
            seen.add(callee)
            reached_by[callee].add(caller)
            stack.extend(calls[callee])
    return reached_by


def _fixable_close(module: ModuleInfo, function: ast.AST) -> bool:
    if not _is_instance_method(function) or _self_name(function) is None:
        return False
    if any(_decorator_name(d) not in HARMLESS_DECORATORS for d in function.decorator_list):
        return False
    if module.in_generator(function):
        return False
    return not _is_stub(function.body)


def _is_stub(body: list[ast.stmt]) -> bool:
    """Only a docstring, ``...`` or ``raise NotImplementedError``: an interface, not a close."""
    for statement in body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # docstring or `...`
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            exc = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                continue
        return False
    return True


def _is_instance_method(function: ast.AST) -> bool:
    return not any(_decorator_name(d) in NON_INSTANCE_DECORATORS for d in function.decorator_list)


def _decorator_name(decorator: ast.AST) -> str:
    if isinstance(decorator, ast.Call):
        decorator = decorator.func
    if isinstance(decorator, ast.Attribute):
        return decorator.attr
    if isinstance(decorator, ast.Name):
        return decorator.id
    return ""


def _self_name(function: ast.AST) -> str | None:
    positional = [*function.args.posonlyargs, *function.args.args]
    return positional[0].arg if positional else None


def _parameters(function: ast.AST) -> set[str]:
    args = function.args
    names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    return names


def _mangle(attribute: str, class_name: str | None) -> str:
    """Python's private name mangling: ``self.__task`` in ``Client`` is ``_Client__task``."""
    if class_name is None or not attribute.startswith("__") or attribute.endswith("__"):
        return attribute
    stripped = class_name.lstrip("_")
    return f"_{stripped}{attribute}" if stripped else attribute


def _guarded(statements: list, statement) -> list:
    """``try: <statements> finally: <statement>``, or just ``statement`` for an empty body."""
    import libcst as cst

    if not statements:
        return [statement]
    return [cst.Try(body=cst.IndentedBlock(body=statements), finalbody=cst.Finally(body=cst.IndentedBlock(body=[statement])))]


def _suite_with(suite, statement) -> list:
    """The lines of a one-line body (``def close(self): "doc"; x()  # c``) with its code
    guarded by ``statement``; a lone ``pass`` without comment is dropped."""
    import libcst as cst

    small = list(suite.body)
    doc = small[:1] if small and _is_docstring(cst.SimpleStatementLine(body=small[:1])) else []
    rest = small[len(doc) :]
    comment = suite.trailing_whitespace.comment
    if len(rest) == 1 and isinstance(rest[0], cst.Pass) and comment is None:
        rest = []
    lines = [cst.SimpleStatementLine(body=[doc[0].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)])] if doc else []
    if rest:
        lines.extend(_guarded([cst.SimpleStatementLine(body=rest, trailing_whitespace=suite.trailing_whitespace)], statement))
    else:
        if doc:
            lines[0] = lines[0].with_changes(trailing_whitespace=suite.trailing_whitespace)
        lines.append(statement)
    return lines


def _is_bare_pass(statement) -> bool:
    import libcst as cst

    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Pass)
        and not statement.leading_lines
        and statement.trailing_whitespace.comment is None
    )


def _is_docstring(statement) -> bool:
    import libcst as cst

    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


RULE = OwnedTaskNeverCancelled()

__getattr__ = lazy_codemod_command(RULE, "OwnedTaskNeverCancelledCommand")  # python -m libcst.tool codemod support
