"""ModuleInfo's one-pass walk and cached segments must equal the standard library's answers.

They replace ``ast.walk``, the parent map built from ``ast.iter_child_nodes`` and
``ast.get_source_segment`` for speed; rules rely on the exact order and text. The one
deliberate difference: the shared Load/Store/Del singletons in ``ctx`` fields (a third of
all nodes) are not visited; rules read ``node.ctx`` and never search a walk for them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tether.analysis import ModuleInfo

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(
    [*ROOT.glob("tether/*.py"), *ROOT.glob("codemods/*.py"), *ROOT.glob("fixtures/**/*.py"), *ROOT.glob("tests/*.py")]
)
SNIPPETS = [
    "import asyncio, os.path as p\nfrom a.b import (c as d, e)\nglobal g\n",
    "x = 'é' + f'{y!r:>{w}}'\r\nasync def f():\r\n    t = asyncio.create_task(\r\n        g())\r\n",
    "a = 1\rb = [i async for i in x if i]\r\n\x0cc = {**d}\n",
    "match p:\n    case {'k': v, **rest}: pass\n    case C(x, y=z) | [*s] as q: pass\n",
    "match p:\n    case True: pass\n    case None | False: pass\n    case -1 | 'a' | b'b' | x.y: pass\n",
    "@dec(1)\nclass K(B, metaclass=M):\n    def m(self, /, a: int = 1, *args, k, **kw) -> None:\n        nonlocal_ = lambda: (yield)\n",
    "try:\n    pass\nexcept* (E, F) as err:\n    raise\n",
    "with open(a) as f, open(b) as g:  # type: ignore\n    del f.x, g[1:2:3]\n",
    "type Alias[T] = list[T]\ndef f[T: int, *Ts, **P](x: T) -> T:\n    return x\nclass C[T]:\n    pass\n",
    "def outer():\n    x = 1\n    def inner():\n        nonlocal x\n        x += 1\n        print(x)\n    global y\n    y = x\n    return inner, x\n",
]


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:  # deliberately broken fixtures, grammar newer than this Python
        return False
    return True


def _cases():
    for path in SOURCES:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # the latin-1 fixture: covered by the snippets
            continue
        if _parses(text):
            yield pytest.param(text, id=str(path.relative_to(ROOT)))
    for index, snippet in enumerate(SNIPPETS):
        if _parses(snippet):  # the PEP 695 one only where the grammar has it (3.12+)
            yield pytest.param(snippet, id=f"snippet{index}")


@pytest.mark.parametrize("text", list(_cases()))
def test_nodes_parents_and_segments_match_the_standard_library(text):
    tree = ast.parse(text)
    module = ModuleInfo(text, tree)
    reference = [node for node in ast.walk(tree) if not isinstance(node, ast.expr_context)]
    assert len(module.nodes) == len(reference)
    assert all(a is b for a, b in zip(module.nodes, reference))
    parents = {}
    for node in ast.walk(tree):
        for child in _iter_child_nodes(node):
            parents[id(child)] = node
    assert module.parents.keys() == parents.keys()
    assert all(module.parents[k] is v for k, v in parents.items())
    positioned = [node for node in reference if hasattr(node, "end_col_offset")]
    stride = max(1, len(positioned) // 150)  # get_source_segment re-splits the file per call
    for node in positioned[::stride]:
        assert module.segment(node) == (ast.get_source_segment(text, node) or "")


def _iter_child_nodes(node):
    return [child for child in ast.iter_child_nodes(node) if not isinstance(child, ast.expr_context)]


def _reference_own_scope(scope):
    stack = _iter_child_nodes(scope)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        stack.extend(_iter_child_nodes(node))


@pytest.mark.parametrize("text", list(_cases()))
def test_scope_walks_and_name_indexes_match_the_plain_definitions(text):
    from tether.analysis import walk_own_scope

    tree = ast.parse(text)
    module = ModuleInfo(text, tree)
    scopes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)))]
    for scope in scopes[:25]:
        own = list(walk_own_scope(scope))
        reference = list(_reference_own_scope(scope))
        assert len(own) == len(reference) and all(a is b for a, b in zip(own, reference))
        kept = module.own_scope(scope)
        assert module.own_scope(scope) is kept and len(kept) == len(reference) and all(a is b for a, b in zip(kept, reference))
        names = {n.id for n in ast.walk(scope) if isinstance(n, ast.Name)} | {"never_used_name"}
        for name in sorted(names)[:20]:
            expected = [n for n in ast.walk(scope) if isinstance(n, ast.Name) and n.id == name and not isinstance(n.ctx, ast.Store)]
            got = module.name_reads(scope, name)
            assert len(got) == len(expected) and all(a is b for a, b in zip(got, expected))
            stores = [n for n in reference if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)]
            got = module.stores_in(scope, name)
            assert len(got) == len(stores) and all(a is b for a, b in zip(got, stores))
            declared = any(isinstance(n, (ast.Global, ast.Nonlocal)) and name in n.names for n in _reference_own_scope(scope))
            assert module.declared_nonlocal(scope, name) is declared


def _reference_imports(tree):
    """The plain definition: every import in ``ast.walk`` order, later bindings win."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    names[head] = head
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


INDEX_SNIPPETS = [
    # one name bound by both kinds of import, in both orders and at different depths
    "from trio import asyncio\ndef f():\n    import asyncio\n    asyncio.create_task(g())\n",
    "import asyncio\ndef f():\n    from trio import asyncio\n    asyncio.create_task(g())\n",
    "def f():\n    import asyncio as t\nfrom x import t\nfrom asyncio import wait as t\nt(x)\n",
    # spawns through aliases, loops, configured spawners; calls without a qualified name
    "from asyncio import create_task as ct, wait\nimport asyncio.tasks\nct(a())\nasyncio.tasks.ensure_future(b)\n"
    "async def g(loop: 'asyncio.AbstractEventLoop'):\n    loop.create_task(c())\n    spawn(d())\n"
    "    lib.spawn(e())\n    f()(g())\n    x[0](y)\n    wait(s)\n    (a or b).create_task(z)\n",
]


def _index_cases():
    yield from _cases()
    for index, snippet in enumerate(INDEX_SNIPPETS):
        yield pytest.param(snippet, id=f"index{index}")


@pytest.mark.parametrize("text", list(_index_cases()))
def test_indexes_match_a_scan_of_every_node(text):
    tree = ast.parse(text)
    module = ModuleInfo(text, tree, extra_spawners=("spawn", "lib.spawn"))
    reference_module = ModuleInfo(text, tree, extra_spawners=("spawn", "lib.spawn"))
    assert module.imports == _reference_imports(tree)
    for kind in {type(node) for node in module.nodes}:
        expected = [node for node in module.nodes if type(node) is kind]
        got = module.of_type(kind)
        assert len(got) == len(expected) and all(a is b for a, b in zip(got, expected))
    calls = [node for node in module.nodes if isinstance(node, ast.Call)]
    # spawn_kind's shortcuts and cache give the answer of the unabridged definition
    expected_spawns = [(call, _reference_spawn_kind(reference_module, call)) for call in calls]
    expected_spawns = [(call, kind) for call, kind in expected_spawns if kind is not None]
    assert [(id(c), k) for c, k in module.spawn_calls] == [(id(c), k) for c, k in expected_spawns]
    # every call whose qualified name ends in a name is among calls_named(name), in order
    for name in {q.rsplit(".", 1)[-1] for q in map(module.qualname, (c.func for c in calls)) if q}:
        named = module.calls_named(name)
        wanted = [c for c in calls if (module.qualname(c.func) or "").rsplit(".", 1)[-1] == name]
        assert all(any(c is n for n in named) for c in wanted)
        positions = [next(i for i, node in enumerate(calls) if node is c) for c in named]
        assert positions == sorted(positions)


def _reference_spawn_kind(module, call):
    """``ModuleInfo.spawn_kind`` as first written: no shortcut by name, no cache."""
    from tether.analysis import SPAWN_FUNCTIONS

    func = call.func
    qualified = module.qualname(func)
    if qualified in SPAWN_FUNCTIONS:
        return SPAWN_FUNCTIONS[qualified]
    if qualified is not None and qualified in module.extra_spawners:
        return qualified
    if isinstance(func, ast.Name) and func.id in module.extra_spawners and func.id not in module.imports:
        return func.id
    if isinstance(func, ast.Attribute) and func.attr == "create_task":
        if module.is_event_loop(func.value, call):
            return "loop.create_task"
    return None


def _pythons_tether_runs_on():
    from tests.behaviour import other_pythons

    found = []
    for python in other_pythons():
        version = subprocess.run([python, "-c", "import sys; print(sys.version_info[1])"], capture_output=True, text=True)
        if version.returncode == 0 and int(version.stdout) >= 10:
            found.append(python)
    return found


def test_the_walk_matches_ast_walk_on_every_grammar_tether_runs_on():
    """The walks do not check each value's type, so a leaf field missing from the field table
    (``case True:``'s constant, PEP 695's ``TypeVar.name``) would be walked into; check the
    snippets, each on every other local CPython that tether supports."""
    script = (
        "import ast, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tether.analysis import ModuleInfo, walk_own_scope\n"
        "ok = 0\n"
        "for text in sys.argv[1:]:\n"
        "    try:\n"
        "        tree = ast.parse(text)\n"
        "    except SyntaxError:\n"
        "        continue\n"
        "    module = ModuleInfo(text, tree)\n"
        "    reference = [n for n in ast.walk(tree) if not isinstance(n, ast.expr_context)]\n"
        "    assert len(module.nodes) == len(reference), text\n"
        "    assert all(a is b for a, b in zip(module.nodes, reference)), text\n"
        "    for scope in [tree, *module.of_type(ast.FunctionDef), *module.of_type(ast.ClassDef)]:\n"
        "        list(walk_own_scope(scope))\n"
        "    ok += 1\n"
        "print(sys.version_info[1], ok)\n"
    )
    for python in [sys.executable, *_pythons_tether_runs_on()]:
        result = subprocess.run([python, "-c", script, *SNIPPETS], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (python, result.stderr)
        minor, parsed = map(int, result.stdout.split())
        # except* needs 3.11 and PEP 695 3.12; everything else parses everywhere
        assert parsed == len(SNIPPETS) - (minor < 11) - (minor < 12), python
