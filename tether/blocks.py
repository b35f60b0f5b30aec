"""Statement lists ("blocks") and what can suspend inside them, for the lifetime rules.

The lifetime fixes wrap a run of statements of one block in ``try``: the rest of the block
after a companion task is started (TET101), or the statements from a task's creation to the
one that awaits it (TET102). Whether such a region is worth guarding depends on whether it
can suspend (an ``await``, ``async for`` or ``async with``: the points where a failure or a
cancel reaches the caller while the task runs), and whether it may be wrapped at all: a
region that yields must not get awaits in its cleanup (SPEC 4), and a region that starts or
ends in the middle of a ``a; b`` line cannot be cut out as whole lines.
"""

from __future__ import annotations

import ast
from typing import Iterator, Sequence

from tether.analysis import ModuleInfo, walk_own_scope

BLOCK_FIELDS = ("body", "orelse", "finalbody")
TRY_NODES = (ast.Try,) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())


def block_of(module: ModuleInfo, statement: ast.stmt) -> tuple[list[ast.stmt], int] | None:
    """The statement list that holds ``statement`` and its index in it."""
    parent = module.parent(statement)
    if parent is None:
        return None
    for field in BLOCK_FIELDS:
        block = getattr(parent, field, None)
        if isinstance(block, list) and statement in block:
            return block, block.index(statement)
    if isinstance(parent, ast.ExceptHandler) and statement in parent.body:
        return parent.body, parent.body.index(statement)
    if hasattr(ast, "match_case") and isinstance(parent, ast.match_case) and statement in parent.body:
        return parent.body, parent.body.index(statement)
    return None


def own_nodes(statements: Sequence[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of ``statements``, not descending into nested functions, lambdas or classes."""
    for statement in statements:
        yield statement
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        yield from walk_own_scope(statement)


def suspension_points(statements: Sequence[ast.stmt]) -> list[ast.AST]:
    """The ``await``/``async for``/``async with``/async comprehensions in ``statements``."""
    points = []
    for node in own_nodes(statements):
        if isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith)):
            points.append(node)
        elif isinstance(node, ast.comprehension) and node.is_async:
            points.append(node)
    return points


def yields(statements: Sequence[ast.stmt]) -> bool:
    return any(isinstance(node, (ast.Yield, ast.YieldFrom)) for node in own_nodes(statements))


def shares_line_with_previous(block: Sequence[ast.stmt], index: int) -> bool:
    """``a; b``: statement ``index`` starts on the line where the one before it ends."""
    return index > 0 and block[index].lineno == (block[index - 1].end_lineno or block[index - 1].lineno)


def whole_lines(block: Sequence[ast.stmt], first: int, last: int) -> bool:
    """Whether block[first..last] can be cut out as whole lines (no ``;`` across its edges)."""
    if shares_line_with_previous(block, first):
        return False
    return not (last + 1 < len(block) and shares_line_with_previous(block, last + 1))


def cst_statement_count(block: Sequence[ast.stmt], first: int, last: int) -> int:
    """How many libcst statements block[first..last] are: ``a; b`` is one SimpleStatementLine."""
    return sum(1 for index in range(first, last + 1) if index == first or not shares_line_with_previous(block, index))


def in_cleanup(module: ModuleInfo, node: ast.AST, stop: ast.AST) -> bool:
    """Whether ``node`` sits in an ``except`` handler or a ``finally`` block below ``stop``."""
    child = node
    for ancestor in module.ancestors(node):
        if ancestor is stop:
            return False
        if isinstance(ancestor, ast.ExceptHandler):
            return True
        if isinstance(ancestor, TRY_NODES) and child in ancestor.finalbody:
            return True
        child = ancestor
    return False


def position(node: ast.AST) -> tuple[int, int]:
    return node.lineno, node.col_offset


def end_position(node: ast.AST) -> tuple[int, int]:
    return (node.end_lineno or node.lineno), (node.end_col_offset or 0)
