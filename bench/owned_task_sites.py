"""List every place in a tree of Python files where a method stores a new task on ``self``.

Why: TET301 reports nothing on the corpus, so its recall can only be measured against an
independent list of the sites it should consider. This script is deliberately broader and
simpler than the rule (it shares no code with it): any ``*.create_task``, ``ensure_future``,
``Task(...)``, ``create_eager_task`` and Home Assistant's ``async_create_task`` /
``async_create_background_task`` / ``create_background_task``, stored on the method's
instance parameter by assignment (also annotated, tuple and chained targets, subscripts,
``setattr``), by a container method (``add``, ``append``, ``setdefault``...), directly or
through a local name (also a walrus) bound to the spawn.

Usage: python bench/owned_task_sites.py ROOT > sites.tsv  (run with Python 3.12+ so that
Home Assistant's newer syntax parses). Output: path, line, attribute, form, spawn kind.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ASYNCIO_SPAWNS = {"create_task", "ensure_future", "Task", "create_eager_task"}
HA_SPAWNS = {"async_create_task", "async_create_background_task", "create_background_task"}
CONTAINER_METHODS = {"add", "append", "appendleft", "setdefault", "insert", "put_nowait", "update", "extend"}


def spawn_kind(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name in ASYNCIO_SPAWNS:
        return name
    if name in HA_SPAWNS:
        return "HA:" + name
    return None


def collection_spawns(node: ast.AST) -> list[str]:
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
        k = spawn_kind(node.elt)
        return [k] if k else []
    if isinstance(node, ast.DictComp):
        k = spawn_kind(node.value)
        return [k] if k else []
    if isinstance(node, (ast.List, ast.Set, ast.Tuple)):
        return [k for k in map(spawn_kind, node.elts) if k]
    if isinstance(node, ast.Dict):
        return [k for k in map(spawn_kind, node.values) if k]
    return []


def self_target(node: ast.AST, self_name: str) -> str | None:
    """`self.x` -> 'x', `self.x[k]` -> 'x[]', `self.a.b` -> 'a.b'."""
    if isinstance(node, ast.Subscript):
        inner = self_target(node.value, self_name)
        return inner + "[]" if inner else None
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id == self_name:
            return node.attr
        inner = self_target(node.value, self_name)
        return f"{inner}.{node.attr}" if inner else None
    return None


def methods(tree: ast.AST):
    for cls in ast.walk(tree):
        if not isinstance(cls, ast.ClassDef):
            continue
        for fn in cls.body:
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = [*fn.args.posonlyargs, *fn.args.args]
                if args:
                    yield cls, fn, args[0].arg


def local_spawns(fn: ast.AST) -> dict[str, str]:
    """Local names bound (anywhere in the method) to a spawn call, or a collection of them."""
    bound: dict[str, str] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    kind = spawn_kind(node.value) or (collection_spawns(node.value) or [None])[0]
                    if kind:
                        bound[target.id] = kind
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            kind = spawn_kind(node.value)
            if kind:
                bound[node.target.id] = kind
        elif isinstance(node, ast.NamedExpr):
            kind = spawn_kind(node.value)
            if kind:
                bound[node.target.id] = kind
    return bound


def value_kind(value: ast.AST, locals_: dict[str, str]) -> tuple[str, str] | None:
    kind = spawn_kind(value)
    if kind:
        return kind, "direct"
    if isinstance(value, ast.NamedExpr):
        kind = spawn_kind(value.value)
        if kind:
            return kind, "walrus"
    if isinstance(value, ast.Name) and value.id in locals_:
        return locals_[value.id], "via local"
    kinds = collection_spawns(value)
    if kinds:
        return kinds[0], "collection"
    return None


def sites(path: Path):
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError) as error:
        print(f"# cannot parse {path}: {error}", file=sys.stderr)
        return
    for cls, fn, self_name in methods(tree):
        locals_ = local_spawns(fn)
        for node in ast.walk(fn):
            pairs = []
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(node.value, (ast.Tuple, ast.List)):
                        pairs.extend(zip(target.elts, node.value.elts))
                    else:
                        pairs.append((target, node.value))
                for target, value in pairs:
                    attribute = self_target(target, self_name)
                    found = attribute and value_kind(value, locals_)
                    if found:
                        yield node.lineno, cls.name, fn.name, attribute, "assign " + found[1], found[0]
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                attribute = self_target(node.target, self_name)
                found = attribute and value_kind(node.value, locals_)
                if found:
                    yield node.lineno, cls.name, fn.name, attribute, "annassign " + found[1], found[0]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in CONTAINER_METHODS:
                    attribute = self_target(node.func.value, self_name)
                    if attribute:
                        for arg in node.args:
                            found = value_kind(arg, locals_)
                            if found:
                                yield node.lineno, cls.name, fn.name, attribute, f".{node.func.attr} {found[1]}", found[0]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
                if len(node.args) == 3 and isinstance(node.args[0], ast.Name) and node.args[0].id == self_name:
                    found = value_kind(node.args[2], locals_)
                    if found:
                        yield node.lineno, cls.name, fn.name, ast.unparse(node.args[1]), "setattr " + found[1], found[0]


def main(root: str) -> None:
    base = Path(root)
    for path in sorted(base.rglob("*.py")):
        for line, cls, fn, attribute, form, kind in sites(path):
            print(f"{path.relative_to(base)}\t{line}\t{cls}.{fn}\tself.{attribute}\t{form}\t{kind}")


if __name__ == "__main__":
    main(sys.argv[1])
