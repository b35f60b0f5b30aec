"""Facts about one module on the standard ``ast``, shared by every rule.

CPython's own parser is more than ten times faster than libcst's and its positions are exact,
so all detection happens here; libcst is only loaded later if a fix is rendered. What lives
here is the knowledge that several rules need: which names refer to asyncio (through
``import asyncio as aio`` or ``from asyncio import create_task``), which call creates a task
that nobody tracks yet, which names are event loops, and where else a local name is used.
"""

from __future__ import annotations

import ast
import bisect
from functools import cached_property
from typing import Iterable, Iterator

_EMPTY: list = []  # shared empty answer of the indexes below: callers must not mutate it
FunctionNode = (ast.FunctionDef, ast.AsyncFunctionDef)
ScopeNode = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.Module)

SPAWN_FUNCTIONS = {
    "asyncio.create_task": "asyncio.create_task",
    "asyncio.tasks.create_task": "asyncio.create_task",
    "asyncio.ensure_future": "asyncio.ensure_future",
    "asyncio.tasks.ensure_future": "asyncio.ensure_future",
    "asyncio.async": "asyncio.ensure_future",
    "asyncio.Task": "asyncio.Task",
    "asyncio.tasks.Task": "asyncio.Task",
}
# What the byte prefilter looks for where ``spawn_kind`` may answer: ``create_task`` also as
# ``self._loop.create_task`` (no import needed), the others only through an import of asyncio.
SPAWN_TRIGGERS = (b"create_task", b"ensure_future", b"Task(")
SPAWN_ASYNCIO_TRIGGERS = (b"ensure_future", b"Task(")
LOOP_FACTORIES = {
    "asyncio.get_running_loop",
    "asyncio.get_event_loop",
    "asyncio.new_event_loop",
    "asyncio.events.get_running_loop",
    "asyncio.events.get_event_loop",
    "asyncio.events.new_event_loop",
}
LOOP_TYPES = {
    "asyncio.AbstractEventLoop",
    "asyncio.BaseEventLoop",
    "asyncio.events.AbstractEventLoop",
    "asyncio.base_events.BaseEventLoop",
    "asyncio.SelectorEventLoop",
    "asyncio.ProactorEventLoop",
}
LOOP_ATTRIBUTES = {"loop", "_loop", "event_loop", "_event_loop"}
TASK_GROUP_TYPES = {"asyncio.TaskGroup", "taskgroup.TaskGroup", "asyncio.taskgroups.TaskGroup"}


class ModuleInfo:
    """A parsed module plus lazily computed indexes over it."""

    def __init__(self, text: str, tree: ast.Module, extra_spawners: Iterable[str] = ()):
        self.text = text
        self.tree = tree
        self.extra_spawners = frozenset(extra_spawners)
        self._lines: list[str] | None = None

    # -- positions ---------------------------------------------------------------------

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            from tether.source import split_lines

            self._lines = split_lines(self.text)
        return self._lines

    def char_col(self, lineno: int, byte_col: int) -> int:
        """ast columns count UTF-8 bytes; everything user-facing counts characters."""
        if lineno - 1 >= len(self.lines):
            return byte_col
        line = self.lines[lineno - 1]
        if line.isascii():
            return byte_col
        return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="replace"))

    def span(self, node: ast.AST) -> tuple[int, int, int, int]:
        """(line, col, end_line, end_col), 1-based, columns in characters."""
        end_line = getattr(node, "end_lineno", None) or node.lineno
        end_col = getattr(node, "end_col_offset", None)
        if end_col is None:
            end_col = node.col_offset
        return (
            node.lineno,
            self.char_col(node.lineno, node.col_offset) + 1,
            end_line,
            self.char_col(end_line, end_col) + 1,
        )

    def start(self, node: ast.AST) -> tuple[int, int]:
        """(line, col) 1-based in characters; the key renderers use to find the CST node."""
        return node.lineno, self.char_col(node.lineno, node.col_offset) + 1

    def statement_lines(self, node: ast.stmt) -> tuple[int, int]:
        first = node.lineno
        for decorator in getattr(node, "decorator_list", ()):
            first = min(first, decorator.lineno)
        return first, getattr(node, "end_lineno", None) or node.lineno

    def segment(self, node: ast.AST) -> str:
        """The source text of ``node`` (like ``ast.get_source_segment``, which re-splits the
        whole text on every call: quadratic in a file with many findings)."""
        end_lineno = getattr(node, "end_lineno", None)
        end_col = getattr(node, "end_col_offset", None)
        if end_lineno is None or end_col is None or node.lineno > len(self.lines):
            return ""
        first, last = node.lineno - 1, end_lineno - 1
        if first == last:
            return self.lines[first].encode("utf-8")[node.col_offset : end_col].decode("utf-8", errors="replace")
        head = self.lines[first].encode("utf-8")[node.col_offset :].decode("utf-8", errors="replace")
        tail = self.lines[last].encode("utf-8")[:end_col].decode("utf-8", errors="replace")
        return "".join([head, *self.lines[first + 1 : last], tail])

    # -- structure ---------------------------------------------------------------------

    @cached_property
    def nodes(self) -> list[ast.AST]:
        """Every node of the module in ``ast.walk`` order (breadth first), computed once.

        Rules and indexes iterate this list instead of calling ``ast.walk(module.tree)``
        again: the generic walk is the dominant cost of analysing a file (profile of a
        1.6-million-line corpus), and one pass here also fills ``parents``.
        """
        nodes, parents = _walk_with_parents(self.tree)
        self.__dict__["parents"] = parents
        return nodes

    @cached_property
    def parents(self) -> dict[int, ast.AST]:
        self.nodes  # noqa: B018 - fills self.parents as a side effect
        return self.__dict__["parents"]

    @cached_property
    def _by_type(self) -> dict[type, list[ast.AST]]:
        by_type: dict[type, list[ast.AST]] = {}
        for node in self.nodes:
            kind = type(node)
            bucket = by_type.get(kind)
            if bucket is None:
                by_type[kind] = [node]
            else:
                bucket.append(node)
        return by_type

    def of_type(self, kind: type) -> list[ast.AST]:
        """The nodes of exactly this class (``ast.Call``, ``ast.ClassDef``...) in ``nodes``
        order. One pass sorts every node into its class, so a rule that looks at calls or
        classes only reads those instead of testing each of the module's nodes. Do not
        mutate the list."""
        return self._by_type.get(kind, _EMPTY)

    def parent(self, node: ast.AST) -> ast.AST | None:
        return self.parents.get(id(node))

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        current = self.parent(node)
        while current is not None:
            yield current
            current = self.parent(current)

    def scope_of(self, node: ast.AST) -> ast.AST:
        """The innermost function, lambda, class or module whose body holds ``node``."""
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, ScopeNode):
                return ancestor
        return self.tree

    def enclosing_function(self, node: ast.AST) -> ast.AST | None:
        scope = self.scope_of(node)
        return scope if isinstance(scope, FunctionNode) else None

    def statement_of(self, node: ast.AST) -> ast.stmt:
        current = node
        while not isinstance(current, ast.stmt):
            parent = self.parent(current)
            if parent is None:
                break
            current = parent
        return current  # type: ignore[return-value]

    def own_scope(self, scope: ast.AST) -> list[ast.AST]:
        """``list(walk_own_scope(scope))``, kept per scope: several rules and indexes walk
        the same function (its globals, its stores, whether it yields...)."""
        cache = self.__dict__.get("_own_scope")
        if cache is None:
            cache = self.__dict__["_own_scope"] = {}
        nodes = cache.get(id(scope))
        if nodes is None:
            nodes = cache[id(scope)] = _own_scope_list(scope)
        return nodes

    def stores_in(self, scope: ast.AST, name: str) -> list[ast.Name]:
        """Every ``name`` bound by a Name store in ``scope``'s own body (nested functions
        and classes excluded), in ``walk_own_scope`` order."""
        cache = self.__dict__.get("_stores")
        if cache is None:
            cache = self.__dict__["_stores"] = {}
        index = cache.get(id(scope))
        if index is None:  # every name's stores in one pass, per scope
            index = cache[id(scope)] = {}
            Name, Store = ast.Name, ast.Store
            for node in self.own_scope(scope):
                if type(node) is Name and isinstance(node.ctx, Store):
                    index.setdefault(node.id, []).append(node)
        return list(index.get(name, ()))

    def in_generator(self, function: ast.AST) -> bool:
        """True when the function yields (async generators must not get awaits in finally)."""
        for node in self.own_scope(function):
            if isinstance(node, (ast.Yield, ast.YieldFrom)):
                return True
        return False

    # -- names -------------------------------------------------------------------------

    @cached_property
    def imports(self) -> dict[str, str]:
        """Local name -> dotted name it is bound to by an import anywhere in the module.

        When a name is bound twice the later import in ``nodes`` order wins."""
        plain = self._import_names(self.of_type(ast.Import))
        froms = self._import_names(self.of_type(ast.ImportFrom))
        if plain.keys().isdisjoint(froms):
            return {**plain, **froms}
        # A name bound by both kinds of import: replay them in their common order.
        kinds = (ast.Import, ast.ImportFrom)
        return self._import_names([node for node in self.nodes if type(node) in kinds])

    @staticmethod
    def _import_names(statements: Iterable[ast.AST]) -> dict[str, str]:
        names: dict[str, str] = {}
        for node in statements:
            if type(node) is ast.Import:
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        head = alias.name.split(".")[0]
                        names[head] = head
            elif node.module and node.level == 0:
                for alias in node.names:
                    if alias.name != "*":
                        names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        return names

    @cached_property
    def all_names(self) -> frozenset[str]:
        """Every identifier the module binds or reads: generated names must avoid them all."""
        names: set[str] = set()
        for node in self.nodes:
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                names.update(node.names)
        return frozenset(names)

    def qualname(self, expr: ast.AST) -> str | None:
        """``aio.create_task`` -> "asyncio.create_task" when ``aio`` is an import of asyncio."""
        parts: list[str] = []
        while isinstance(expr, ast.Attribute):
            parts.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name):
            return None
        root = self.imports.get(expr.id)
        if root is None:
            return None
        parts.append(root)
        return ".".join(reversed(parts))

    def is_asyncio(self, expr: ast.AST, *names: str) -> bool:
        return self.qualname(expr) in {f"asyncio.{name}" for name in names}

    @cached_property
    def asyncio_alias(self) -> str | None:
        """The module-level name asyncio is imported as (``import asyncio [as x]``), if any."""
        for node in self.tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "asyncio":
                        return alias.asname or "asyncio"
        return None

    # -- tasks and loops ---------------------------------------------------------------

    def spawn_kind(self, call: ast.AST) -> str | None:
        """How ``call`` creates a task nobody tracks yet, e.g. "asyncio.create_task", or None.

        TaskGroup and nursery ``create_task`` calls are not spawns: the group owns the task.
        Answers are kept per call: several rules ask about the same calls.
        """
        cache = self.__dict__.get("_spawn_kinds")
        if cache is None:
            cache = self.__dict__["_spawn_kinds"] = {}
        key = id(call)
        if key in cache:
            return cache[key]
        kind = cache[key] = self._spawn_kind(call)
        return kind

    @cached_property
    def _spawn_terminals(self) -> frozenset[str]:
        """The last names a spawning ``x.y.name(...)`` can end in (``create_task``, a
        configured spawner's last part...): any other attribute call is no spawn."""
        return frozenset(
            {"create_task", "ensure_future", "async", "Task"}
            | {spawner.rsplit(".", 1)[-1] for spawner in self.extra_spawners}
        )

    def _spawn_kind(self, call: ast.AST) -> str | None:
        if type(call) is not ast.Call:
            return None
        func = call.func
        if type(func) is ast.Attribute:
            if func.attr not in self._spawn_terminals:
                return None  # its qualified name cannot end in a spawner's name
        elif type(func) is not ast.Name:
            return None  # ``f()(...)``, ``x[i](...)``: no qualified name, no loop method
        qualified = self.qualname(func)
        if qualified in SPAWN_FUNCTIONS:
            return SPAWN_FUNCTIONS[qualified]
        if qualified is not None and qualified in self.extra_spawners:
            return qualified
        if isinstance(func, ast.Name) and func.id in self.extra_spawners and func.id not in self.imports:
            return func.id  # a spawner configured by bare name, defined in this module
        if isinstance(func, ast.Attribute) and func.attr == "create_task":
            if self.is_event_loop(func.value, call):
                return "loop.create_task"
        return None

    @cached_property
    def spawn_calls(self) -> list[tuple[ast.Call, str]]:
        """Every call that spawns a task, with its ``spawn_kind``, in ``nodes`` order."""
        spawn_kind = self.spawn_kind
        found = []
        for call in self.of_type(ast.Call):
            kind = spawn_kind(call)
            if kind is not None:
                found.append((call, kind))
        return found

    @cached_property
    def spawn_lines(self) -> list[int]:
        """Sorted first lines of every call that spawns a task (``spawn_kind``)."""
        return sorted(call.lineno for call, _ in self.spawn_calls)

    def calls_named(self, name: str) -> list[ast.Call]:
        """Calls whose qualified name could end in ``name`` (``x.y.name(...)``, ``name(...)``,
        ``alias(...)`` after ``from m import name as alias``), in ``nodes`` order: a rule
        looking for ``asyncio.wait`` checks these few with ``qualname``, not every call."""
        index = self.__dict__.get("_calls_by_name")
        if index is None:
            index = self.__dict__["_calls_by_name"] = {}
            imports = self.imports
            Attribute, Name = ast.Attribute, ast.Name
            for call in self.of_type(ast.Call):
                func = call.func
                kind = type(func)
                if kind is Attribute:
                    last = func.attr
                elif kind is Name:
                    imported = imports.get(func.id)
                    last = func.id if imported is None else imported.rsplit(".", 1)[-1]
                else:
                    continue
                bucket = index.get(last)
                if bucket is None:
                    index[last] = [call]
                else:
                    bucket.append(call)
        return index.get(name, _EMPTY)

    def spawns_within(self, node: ast.AST) -> bool:
        """Whether a spawn call starts inside ``node``'s lines: rules that need one there can
        skip the walk of every function or class that has none (most of them)."""
        lines = self.spawn_lines
        index = bisect.bisect_left(lines, getattr(node, "lineno", 0))
        return index < len(lines) and lines[index] <= (getattr(node, "end_lineno", None) or node.lineno)

    def is_event_loop(self, expr: ast.AST, at: ast.AST) -> bool:
        """Whether ``expr`` is known to be an event loop where ``at`` is evaluated."""
        if isinstance(expr, ast.Call) and self.qualname(expr.func) in LOOP_FACTORIES:
            return True
        if isinstance(expr, ast.Attribute):
            # ``self._loop``, and a loop reached through another object: ``self.hass.loop``,
            # ``client.loop``, ``self._pool._loop`` (an attribute named loop is one)
            return expr.attr in LOOP_ATTRIBUTES
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            # ``server.get_loop()``: asyncio's servers, transports and futures name it so
            return expr.func.attr == "get_loop" and not expr.args and not expr.keywords
        if isinstance(expr, ast.Name):
            return expr.id in self.loop_names(self.scope_of(at))
        return False

    def loop_names(self, scope: ast.AST) -> frozenset[str]:
        cache = self.__dict__.setdefault("_loop_names", {})
        key = id(scope)
        if key not in cache:
            cache[key] = frozenset(self._compute_loop_names(scope))
        return cache[key]

    def _compute_loop_names(self, scope: ast.AST) -> set[str]:
        names: set[str] = set()
        scopes = [scope]
        if scope is not self.tree:
            scopes.append(self.tree)  # a module-level `loop = asyncio.get_event_loop()`
        for owner in scopes:
            if isinstance(owner, FunctionNode):
                args = owner.args
                for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                    if arg.annotation is not None and self._is_loop_annotation(arg.annotation):
                        names.add(arg.arg)
            for node in self.own_scope(owner):
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                    if self.qualname(node.value.func) in LOOP_FACTORIES:
                        names.update(t.id for t in node.targets if isinstance(t, ast.Name))
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    if self._is_loop_annotation(node.annotation) or (
                        isinstance(node.value, ast.Call) and self.qualname(node.value.func) in LOOP_FACTORIES
                    ):
                        names.add(node.target.id)
        return names

    def _is_loop_annotation(self, annotation: ast.AST) -> bool:
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return False
        if isinstance(annotation, ast.BinOp):  # AbstractEventLoop | None
            return self._is_loop_annotation(annotation.left) or self._is_loop_annotation(annotation.right)
        if isinstance(annotation, ast.Subscript):  # Optional[AbstractEventLoop]
            return self._is_loop_annotation(annotation.slice)
        return self.qualname(annotation) in LOOP_TYPES

    def task_group_names(self, scope: ast.AST) -> frozenset[str]:
        names = set()
        for node in self.own_scope(scope):
            if isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if isinstance(item.context_expr, ast.Call) and isinstance(item.optional_vars, ast.Name):
                        if self.qualname(item.context_expr.func) in TASK_GROUP_TYPES:
                            names.add(item.optional_vars.id)
        return frozenset(names)

    # -- uses of local names -------------------------------------------------------------

    def declared_nonlocal(self, function: ast.AST, name: str) -> bool:
        cache = self.__dict__.setdefault("_declared", {})
        declared = cache.get(id(function))
        if declared is None:  # one walk per function, not one per question
            declared = cache[id(function)] = frozenset(
                n for node in self.own_scope(function) if isinstance(node, (ast.Global, ast.Nonlocal)) for n in node.names
            )
        return name in declared

    def name_reads(self, scope: ast.AST, name: str) -> list[ast.Name]:
        """Every read or delete of ``name`` in ``scope``, nested functions included."""
        cache = self.__dict__.setdefault("_name_reads", {})
        index = cache.get(id(scope))
        if index is None:  # every name's reads in one walk (ast.walk order), per scope
            index = cache[id(scope)] = {}
            Name, Store = ast.Name, ast.Store
            for node in self.nodes if scope is self.tree else _walk(scope):
                if isinstance(node, Name) and not isinstance(node.ctx, Store):
                    index.setdefault(node.id, []).append(node)
        return list(index.get(name, ()))


# Fields that by the ASDL grammar hold identifiers, strings, numbers or constants, never nodes
# (per class: ``Import.names`` holds nodes while ``Global.names`` holds strings). The walks
# below do not test each value's type, so this table must name every such field of every
# class the parser makes on 3.10-3.12 (3.13+ also reads ``_field_types``); the walk test
# checks it against ``ast.walk`` on every Python the tests run on.
_LEAF_FIELDS = {
    "Name": {"id"},
    "Attribute": {"attr"},
    "Constant": {"value", "kind"},
    "FunctionDef": {"name", "type_comment"},
    "AsyncFunctionDef": {"name", "type_comment"},
    "ClassDef": {"name"},
    "ImportFrom": {"module", "level"},
    "alias": {"name", "asname"},
    "arg": {"arg", "type_comment"},
    "keyword": {"arg"},
    "Global": {"names"},
    "Nonlocal": {"names"},
    "ExceptHandler": {"name"},
    "FormattedValue": {"conversion"},
    "comprehension": {"is_async"},
    "Assign": {"type_comment"},
    "For": {"type_comment"},
    "AsyncFor": {"type_comment"},
    "With": {"type_comment"},
    "AsyncWith": {"type_comment"},
    "AnnAssign": {"simple"},
    "MatchAs": {"name"},
    "MatchStar": {"name"},
    "MatchMapping": {"rest"},
    "MatchClass": {"kwd_attrs"},
    "MatchSingleton": {"value"},  # None, True or False: ``case None:`` / ``case True:``
    "TypeVar": {"name"},  # PEP 695 (3.12)
    "ParamSpec": {"name"},
    "TypeVarTuple": {"name"},
    "TypeIgnore": {"lineno", "tag"},
}
# How to visit each node class's children: (field, holds a list) in ``_fields`` order, leaf
# fields and ``ctx`` left out. ``ctx`` holds one of three shared Load/Store/Del singletons,
# a third of all nodes in real code; rules read ``node.ctx`` directly and never look for
# them in a walk, so the walks skip them. Whether a field holds a list is fixed by the
# grammar (``body`` always, ``value`` never), so the first instance seen decides it.
_FIELD_PLANS: dict[type, tuple[tuple[str, bool], ...]] = {}


def _field_plan(kind: type, node: ast.AST) -> tuple[tuple[str, bool], ...]:
    leaves = set(_LEAF_FIELDS.get(kind.__name__, ()))
    field_types = getattr(kind, "_field_types", None)  # 3.13+: the grammar's own answer
    if field_types:
        leaves.update(name for name, annotation in field_types.items() if not _may_hold_nodes(annotation))
    plan = _FIELD_PLANS[kind] = tuple(
        (name, type(getattr(node, name, None)) is list)
        for name in kind._fields
        if name not in leaves and name != "ctx"
    )
    return plan


def _may_hold_nodes(annotation) -> bool:
    """Whether a ``_field_types`` annotation (``expr``, ``list[stmt]``, ``expr | None``,
    ``str``, ``object``...) admits AST nodes."""
    if isinstance(annotation, type):
        return issubclass(annotation, ast.AST)
    return any(_may_hold_nodes(argument) for argument in getattr(annotation, "__args__", ()))


def _walk_with_parents(tree: ast.AST) -> tuple[list[ast.AST], dict[int, ast.AST]]:
    """``list(ast.walk(tree))`` without the ``ctx`` singletons, and the child -> parent map,
    in one pass without generators.

    Same order as ``ast.walk``: breadth first, children in ``_fields`` order (so results
    that depend on visiting order stay identical). Lists can hold None (``Dict.keys`` for
    ``**d``, ``arguments.kw_defaults``): those are no nodes and are skipped, as there.
    """
    nodes = [tree]
    parents: dict[int, ast.AST] = {}
    append = nodes.append
    plans = _FIELD_PLANS
    for node in nodes:  # the list grows while it is iterated: breadth first
        kind = type(node)
        plan = plans.get(kind)
        if plan is None:
            plan = _field_plan(kind, node)
        for name, many in plan:
            value = getattr(node, name, None)
            if many:
                for item in value:
                    if item is not None:
                        append(item)
                        parents[id(item)] = node
            elif value is not None:
                append(value)
                parents[id(value)] = node
    return nodes, parents


def _walk(tree: ast.AST) -> list[ast.AST]:
    """``list(ast.walk(tree))`` (same order, without the ``ctx`` singletons or generators);
    used for function scopes, far smaller than the module, so the parent map it also builds
    costs little."""
    return _walk_with_parents(tree)[0]


def walk_own_scope(scope: ast.AST) -> Iterator[ast.AST]:
    """Like ast.walk over ``scope``'s body, not descending into nested functions or classes
    (depth first, last child first; ``ctx`` singletons left out)."""
    stack = _children(scope)
    nested = _NESTED_SCOPES
    while stack:
        node = stack.pop()
        yield node
        if type(node) in nested:
            continue
        stack.extend(_children(node))


_NESTED_SCOPES = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef})


def _own_scope_list(scope: ast.AST) -> list[ast.AST]:
    """``list(walk_own_scope(scope))`` without the generator."""
    found = []
    append = found.append
    stack = _children(scope)
    pop, extend = stack.pop, stack.extend
    nested = _NESTED_SCOPES
    while stack:
        node = pop()
        append(node)
        if type(node) not in nested:
            extend(_children(node))
    return found


def _children(node: ast.AST) -> list[ast.AST]:
    """``list(ast.iter_child_nodes(node))`` without the ``ctx`` singletons or generators."""
    kind = type(node)
    plan = _FIELD_PLANS.get(kind)
    if plan is None:
        plan = _field_plan(kind, node)
    children = []
    append = children.append
    for name, many in plan:
        value = getattr(node, name, None)
        if many:
            for item in value:
                if item is not None:
                    append(item)
        elif value is not None:
            append(value)
    return children


def parse_module(text: str, filename: str) -> ast.Module:
    """ast.parse with errors normalised to SyntaxError (null bytes raise ValueError on 3.11)."""
    try:
        return ast.parse(text, filename=filename)
    except ValueError as exc:
        raise SyntaxError(str(exc)) from None
