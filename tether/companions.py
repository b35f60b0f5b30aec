"""Whether a started task is a *companion*: work meant to live exactly as long as its starter.

A heartbeat, keep-alive, monitor, watcher, pump or poller started next to a function's main
work has no end of its own; dropped, it outlives the function that started it (the monitor
crashes, its metadata updater keeps ticking forever). Two signs identify one without running
anything: its coroutine function, found in the same module, loops forever (``while True``
with no ``break`` or ``return`` leading out), or its name says what it is. Either only decides
which *unsafe* fixes TET101 offers, never whether there is a finding; and a function whose
name says it starts things (``connect``, ``start``, ``__aenter__``) has no companions: what it
starts is meant to outlive it.
"""

from __future__ import annotations

import ast
import re

from tether.analysis import FunctionNode, ModuleInfo, walk_own_scope

COMPANION_WORDS = ("heartbeat", "keepalive", "monitor", "watch", "pump", "poll")
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def callee_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def name_says_companion(name: str) -> bool:
    """``send_heartbeat``, ``keepAlive``, ``_watchdog``, ``poll_loop``; not ``apollo``."""
    words = [w.lower() for w in _WORD.findall(name)]
    candidates = words + [a + b for a, b in zip(words, words[1:])]
    return any(word.startswith(stem) for word in candidates for stem in COMPANION_WORDS)


# A function named like this starts things that are meant to outlive it (`connect()` starts the
# keep-alive that runs until `close()`): a task it drops is not a companion of its own work.
STARTER_WORDS = frozenset(
    {"start", "starts", "connect", "reconnect", "open", "setup", "init", "initialize", "initialise",
     "login", "subscribe", "enable", "launch", "begin", "spawn", "restart", "aenter", "resume"}
)


def starts_things(function_name: str) -> bool:
    """``connect``, ``async_start``, ``setUp``, ``__aenter__``; not ``run`` or ``serve``."""
    words = [w.lower() for w in _WORD.findall(function_name)]
    return any(word in STARTER_WORDS for word in words + [a + b for a, b in zip(words, words[1:])])


def resolve_coroutine_function(module: ModuleInfo, call: ast.Call) -> ast.AsyncFunctionDef | None:
    """The ``async def`` that ``call`` invokes, when this module defines it unambiguously.

    ``f()`` is looked up in the enclosing functions, then at module level; ``self.f()`` and
    ``cls.f()`` in the class of the enclosing method.
    """
    func = call.func
    if isinstance(func, ast.Name):
        for scope in [a for a in module.ancestors(call) if isinstance(a, FunctionNode)] + [module.tree]:
            statements = scope.body if scope is module.tree else list(walk_own_scope(scope))
            found = [s for s in statements if isinstance(s, FunctionNode) and s.name == func.id]
            if found:
                return found[0] if len(found) == 1 and isinstance(found[0], ast.AsyncFunctionDef) else None
        return None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("self", "cls"):
        method = module.enclosing_function(call)
        owner = module.parent(method) if method is not None else None
        if isinstance(owner, ast.ClassDef):
            found = [s for s in owner.body if isinstance(s, FunctionNode) and s.name == func.attr]
            if len(found) == 1 and isinstance(found[0], ast.AsyncFunctionDef):
                return found[0]
    return None


def loops_forever(module: ModuleInfo, function: ast.AST) -> bool:
    """The function holds a ``while True`` that no ``break`` or ``return`` leaves.

    Exits that only run when the task is cancelled (inside ``except CancelledError``) do not
    count: that is how a companion is meant to stop.
    """
    for node in walk_own_scope(function):
        if isinstance(node, ast.While) and _always_true(node.test) and not _escapes(module, node.body, True):
            return True
    return False


def _always_true(test: ast.AST) -> bool:
    return isinstance(test, ast.Constant) and bool(test.value) is True


def _escapes(module: ModuleInfo, nodes, own_loop: bool) -> bool:
    """Whether a ``return`` (or, while ``own_loop``, a ``break``) in ``nodes`` leaves the loop."""
    for node in nodes:
        if isinstance(node, ast.Return):
            return True
        if isinstance(node, ast.Break) and own_loop:
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.ExceptHandler) and _catches_only_cancellation(module, node):
            continue
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            # a break in a nested loop's body ends that loop; one in its `else` ends ours
            if _escapes(module, node.body, False) or _escapes(module, node.orelse, own_loop):
                return True
            continue
        if _escapes(module, ast.iter_child_nodes(node), own_loop):
            return True
    return False


def _catches_only_cancellation(module: ModuleInfo, handler: ast.ExceptHandler) -> bool:
    caught = handler.type
    if caught is None:
        return False
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    for name in names:
        qualified = module.qualname(name) or (name.id if isinstance(name, ast.Name) else None)
        if qualified not in ("asyncio.CancelledError", "asyncio.exceptions.CancelledError", "CancelledError"):
            return False
    return True
