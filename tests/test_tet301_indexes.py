"""TET301's attribute-read and dynamic-reader indexes come from ModuleInfo's node indexes;
they must equal the plain definitions: a walk of the whole tree that carries the class
each node is written in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from codemods.owned_task_never_cancelled import _ClassIndex, _mangle, _reads_dynamically
from tether.analysis import ModuleInfo

ROOT = Path(__file__).resolve().parent.parent
SNIPPETS = [
    # private names in methods, nested functions, nested classes, bases and decorators
    "class Outer(Base.__x):\n    @deco.__y\n    def f(self):\n        self.__a.cancel()\n        def g():\n"
    "            return self.__b\n        class Inner:\n            def h(s):\n                s.__c; s.__d__\n"
    "        return getattr(self, '__e'), getattr(self, name)\nx.__f\n",
    # dynamic reads at every depth, inside and outside classes
    "class A:\n    def f(self):\n        return vars(self)\n"
    "class B:\n    class C:\n        def g(self):\n            return self.__dict__\n"
    "class D:\n    def f(self):\n        class E:\n            pass\n        return getattr(self, n)\n"
    "class F:\n    def f(self):\n        return getattr(self, 'x'), vars\n"
    "vars(z); q.__dict__\n",
]


def _reference_accesses(module):
    accesses = {}
    stack = [(module.tree, None)]
    while stack:
        node, class_name = stack.pop()
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            accesses.setdefault(_mangle(node.attr, class_name), []).append((node, node.value))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
            if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                accesses.setdefault(node.args[1].value, []).append((node, node.args[0]))
        inner = node.name if isinstance(node, ast.ClassDef) else class_name
        stack.extend((child, inner) for child in ast.iter_child_nodes(node))
    return accesses


def _reference_dynamic_readers(module):
    readers = set()
    for cls in (n for n in ast.walk(module.tree) if isinstance(n, ast.ClassDef)):
        if any(_reads_dynamically(node) for node in ast.walk(cls)):
            readers.add(id(cls))
    return frozenset(readers)


def _cases():
    for path in sorted([*ROOT.glob("tether/*.py"), *ROOT.glob("codemods/*.py"), *ROOT.glob("fixtures/TET301/*.py")]):
        text = path.read_text(encoding="utf-8")
        try:
            ast.parse(text)
        except SyntaxError:
            continue
        yield pytest.param(text, id=str(path.relative_to(ROOT)))
    for index, snippet in enumerate(SNIPPETS):
        yield pytest.param(snippet, id=f"snippet{index}")


@pytest.mark.parametrize("text", list(_cases()))
def test_attribute_reads_and_dynamic_readers_match_a_full_walk(text):
    module = ModuleInfo(text, ast.parse(text))
    classes = _ClassIndex(module)
    got = {key: sorted((id(a.node), id(a.receiver)) for a in found) for key, found in classes.accesses.items()}
    expected = {key: sorted((id(n), id(r)) for n, r in found) for key, found in _reference_accesses(module).items()}
    assert got == expected
    assert classes._dynamic_readers == _reference_dynamic_readers(module)


def test_the_snippets_exercise_mangling_and_every_dynamic_read():
    module = ModuleInfo(SNIPPETS[0], ast.parse(SNIPPETS[0]))
    keys = set(_ClassIndex(module).accesses)
    assert {"_Outer__a", "_Outer__b", "_Inner__c", "__d__", "__e", "_Outer__y", "__f"} <= keys
    module = ModuleInfo(SNIPPETS[1], ast.parse(SNIPPETS[1]))
    classes = _ClassIndex(module)
    names = {cls.name for cls in classes.classes if id(cls) in classes._dynamic_readers}
    assert names == {"A", "B", "C", "D"}
