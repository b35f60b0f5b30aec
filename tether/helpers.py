"""The small runtime helpers that fixes call, and where they go in a module.

Each helper is emitted once per module, after the imports, under a one-line comment that
says tether added it and what it is for; that comment is also how a later run recognises the
helper and reuses it instead of adding a second copy. Names are chosen so that they never
collide with a name the module already uses. The asyncio semantics behind each helper are in
SPEC section 4 and are proved by the behaviour tests; do not simplify them without those.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class HelperTemplate:
    kind: str
    # names the template binds at module level; the first is the one call sites use
    names: tuple[str, ...]
    source: str  # str.format template: {asyncio} plus one field per name and per required helper
    # kinds of other helpers this one calls; their call names are format fields too
    requires: tuple[str, ...] = ()


KEEP_TASK = HelperTemplate(
    kind="keep_task",
    names=("_keep_task", "_background_tasks"),
    source='''\
# tether helper keep_task: holds a strong reference to a task until it is done (asyncio docs recipe).
{_background_tasks} = set()


def {_keep_task}(task):
    {_background_tasks}.add(task)
    task.add_done_callback({_background_tasks}.discard)
    return task
''',
)

GATHER_CANCEL_ON_ERROR = HelperTemplate(
    kind="gather_cancel_on_error",
    names=("_gather_cancel_on_error",),
    source='''\
# tether helper gather_cancel_on_error: asyncio.gather that cancels and awaits the other children when one fails.
async def {_gather_cancel_on_error}(*aws):
    tasks = {{}}
    try:
        for aw in aws:
            if aw not in tasks:
                tasks[aw] = {asyncio}.ensure_future(aw)
    except BaseException:
        for task in tasks.values():
            task.cancel()
        raise
    if not tasks:
        return []
    gathered = {asyncio}.gather(*[tasks[aw] for aw in aws])
    try:
        return await {asyncio}.shield(gathered)
    except BaseException:
        for task in tasks.values():
            task.cancel()
        cancelled = None
        while True:
            try:
                await {asyncio}.shield({asyncio}.gather(gathered, *tasks.values(), return_exceptions=True))
                break
            except {asyncio}.CancelledError as exc:
                cancelled = exc
        if cancelled is not None:
            raise cancelled
        raise
''',
)

# A finished task is left alone without yielding to the loop: the guards call this on every
# failure path, including "the awaited task itself failed", whose timing must not change.
CANCEL_AND_WAIT = HelperTemplate(
    kind="cancel_and_wait",
    names=("_cancel_and_wait",),
    source='''\
# tether helper cancel_and_wait: cancels a task (unless it already finished) and waits until it has.
async def {_cancel_and_wait}(task):
    if task.done():
        return
    task.cancel()
    await {asyncio}.wait((task,))
''',
)

CANCEL_PENDING = HelperTemplate(
    kind="cancel_pending",
    names=("_cancel_pending",),
    source='''\
# tether helper cancel_pending: cancels the tasks that have not finished and waits until they have.
async def {_cancel_pending}(tasks):
    pending = [task for task in tasks if {asyncio}.isfuture(task) and not task.done()]
    if not pending:
        return
    for task in pending:
        task.cancel()
    cancelled = None
    while True:
        try:
            await {asyncio}.wait(pending)
            break
        except {asyncio}.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        raise cancelled
''',
)

WAIT_CANCEL_PENDING = HelperTemplate(
    kind="wait_cancel_pending",
    names=("_wait_cancel_pending",),
    requires=("cancel_pending",),
    source='''\
# tether helper wait_cancel_pending: asyncio.wait that cancels and awaits the tasks still pending when it returns.
async def {_wait_cancel_pending}(aws, **kwargs):
    import sys

    tasks = set(aws)
    if sys.version_info < (3, 11):  # before 3.11 asyncio.wait wrapped coroutines in tasks itself
        tasks = {{{asyncio}.ensure_future(aw) for aw in tasks}}
    try:
        return await {asyncio}.wait(tasks, **kwargs)
    finally:
        await {_cancel_pending}(tasks)
''',
)

CANCEL_OWNED = HelperTemplate(
    kind="cancel_owned",
    names=("_cancel_owned",),
    source='''\
# tether helper cancel_owned: cancels the tasks an object owns (a task, None or a container) and waits for them.
async def {_cancel_owned}(*owned):
    current = {asyncio}.current_task()
    loop = {asyncio}.get_running_loop()
    tasks = {{}}
    for item in owned:
        if item is None:
            continue
        if isinstance(item, {asyncio}.Future):
            item = (item,)
        elif hasattr(item, "values"):
            item = item.values()
        for task in list(item):
            if isinstance(task, {asyncio}.Future) and task is not current and not task.done():
                if not task.get_loop().is_closed():
                    tasks[task] = None
    for task in tasks:
        task.cancel()
    waiting = [task for task in tasks if task.get_loop() is loop]
    if waiting:
        await {asyncio}.wait(waiting)
''',
)

CANCEL_OWNED_NOWAIT = HelperTemplate(
    kind="cancel_owned_nowait",
    names=("_cancel_owned_nowait",),
    source='''\
# tether helper cancel_owned_nowait: cancels the tasks an object owns (a task, None or a container), without waiting.
def {_cancel_owned_nowait}(*owned):
    try:
        current = {asyncio}.current_task()
    except RuntimeError:  # no running event loop
        current = None
    for item in owned:
        if item is None:
            continue
        if isinstance(item, {asyncio}.Future):
            item = (item,)
        elif hasattr(item, "values"):
            item = item.values()
        for task in list(item):
            if isinstance(task, {asyncio}.Future) and task is not current and not task.done():
                if not task.get_loop().is_closed():
                    task.cancel()
''',
)

TEMPLATES = {
    t.kind: t
    for t in (
        KEEP_TASK,
        GATHER_CANCEL_ON_ERROR,
        CANCEL_AND_WAIT,
        CANCEL_PENDING,
        WAIT_CANCEL_PENDING,
        CANCEL_OWNED,
        CANCEL_OWNED_NOWAIT,
    )
}

_MARKER = re.compile(r"^# tether helper (\w+):", re.MULTILINE)
_DEF = re.compile(r"^(?:async\s+)?def\s+(\w+)|^(\w+)\s*=", re.MULTILINE)


def existing_helpers(text: str) -> dict[str, str]:
    """kind -> function name of the helpers tether already added to this module."""
    found: dict[str, str] = {}
    for marker in _MARKER.finditer(text):
        kind = marker.group(1)
        template = TEMPLATES.get(kind)
        if template is None:
            continue
        for definition in _DEF.finditer(text, marker.end()):
            if definition.group(1):
                found[kind] = definition.group(1)
                break
    return found


def unique_name(base: str, taken: set[str] | frozenset[str]) -> str:
    if base not in taken:
        return base
    index = 1
    while f"{base}_{index}" in taken:
        index += 1
    return f"{base}_{index}"


def render_helper(
    template: HelperTemplate,
    taken: set[str],
    asyncio_name: str,
    required: dict[str, str] | None = None,
    indent: str = "    ",
) -> tuple[str, str]:
    """(source, call name) for ``template`` with every name made unique against ``taken``.

    ``required`` maps each required helper's template name (e.g. "_cancel_pending") to the
    name it got in this module; ``indent`` is the module's own indentation unit.
    """
    names = {}
    for name in template.names:
        names[name] = unique_name(name, taken)
        taken.add(names[name])
    source = template.source.format(asyncio=asyncio_name, **names, **(required or {}))
    return reindent(source, indent), names[template.names[0]]


def reindent(source: str, indent: str) -> str:
    """``source`` (indented by four spaces per level, as the templates are) indented by
    ``indent`` per level instead: a helper in a tab-indented module uses tabs too. The
    templates hold no multi-line strings, so every leading space is indentation."""
    if indent == "    ":
        return source
    lines = []
    for line in source.splitlines(keepends=True):
        stripped = line.lstrip(" ")
        lines.append(indent * ((len(line) - len(stripped)) // 4) + stripped)
    return "".join(lines)


def insertion_line(tree: ast.Module) -> int:
    """The line after which helpers go: after docstring, __future__ and the leading imports."""
    after = 0
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                after = node.end_lineno or node.lineno
                continue
        if isinstance(node, (ast.Import, ast.ImportFrom)) or _only_imports(node):
            after = node.end_lineno or node.lineno
            continue
        break
    return after


def _only_imports(node: ast.stmt) -> bool:
    """``try: import x / except ImportError: ...`` and ``if TYPE_CHECKING: import x`` blocks."""
    if isinstance(node, ast.Try):
        bodies = [node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]]
    elif isinstance(node, ast.If):
        bodies = [node.body, node.orelse]
    else:
        return False
    statements = [s for body in bodies for s in body]
    return bool(statements) and all(
        isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass, ast.Assign)) or _only_imports(s) for s in statements
    ) and any(isinstance(s, (ast.Import, ast.ImportFrom)) for s in statements)


# -- helpers imported from a project module (``helpers-module = "pkg.mod"``) -----------------


def imported_helpers(tree: ast.Module, helpers_module: str) -> dict[str, str]:
    """kind -> local name of the helpers this module already imports from ``helpers_module``."""
    by_name = {t.names[0]: kind for kind, t in TEMPLATES.items()}
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == helpers_module:
            for alias in node.names:
                if alias.name in by_name:
                    found[by_name[alias.name]] = alias.asname or alias.name
    return found


def import_line(helpers_module: str, local_names: dict[str, str]) -> str:
    """``from pkg.mod import _keep_task, _gather_cancel_on_error as _gather_cancel_on_error_1``."""
    parts = []
    for kind in TEMPLATES:
        if kind in local_names:
            canonical = TEMPLATES[kind].names[0]
            local = local_names[kind]
            parts.append(canonical if local == canonical else f"{canonical} as {local}")
    return f"from {helpers_module} import {', '.join(parts)}"


def helpers_module_path(root: str, helpers_module: str) -> str:
    """The file of dotted ``helpers_module`` under ``root`` (or ``root/src`` for a src layout)."""
    import os

    parts = helpers_module.split(".")
    base = root
    if not os.path.exists(os.path.join(root, parts[0])) and os.path.isdir(os.path.join(root, "src", parts[0])):
        base = os.path.join(root, "src")
    return os.path.join(base, *parts[:-1], parts[-1] + ".py")


def with_requirements(kinds) -> set[str]:
    """``kinds`` plus every helper they call, transitively."""
    needed: set[str] = set()
    stack = list(kinds)
    while stack:
        kind = stack.pop()
        if kind not in needed:
            needed.add(kind)
            stack.extend(TEMPLATES[kind].requires)
    return needed


def helpers_module_source(kinds, existing_text: str = "", newline: str = "\n") -> str | None:
    """The text of the helpers module holding every kind in ``kinds``; None if it already does.

    A new module gets a docstring, ``import asyncio`` and the helpers under their canonical
    names (call sites import them by those names). An existing module keeps every byte it has
    and gets the missing helpers appended (with ``import asyncio`` if it lacks one).
    """
    kinds = with_requirements(kinds)
    present = set(existing_helpers(existing_text))
    defined = set(re.findall(r"^(?:async\s+)?def\s+(\w+)", existing_text, re.MULTILINE))
    missing = [k for k in TEMPLATES if k in kinds and k not in present and TEMPLATES[k].names[0] not in defined]
    if not missing:
        return None
    sources = [
        render_helper(
            TEMPLATES[k], set(), "asyncio", {TEMPLATES[r].names[0]: TEMPLATES[r].names[0] for r in TEMPLATES[k].requires}
        )[0].rstrip("\n")
        for k in missing
    ]
    body = "\n\n\n".join(sources) + "\n"
    if not existing_text.strip():
        return '"""Runtime helpers that tether\'s fixes import (generated by `tether fix`)."""\n\nimport asyncio\n\n\n' + body
    try:
        tree = ast.parse(existing_text)
        has_asyncio = any(
            isinstance(n, ast.Import) and any(a.name == "asyncio" and a.asname is None for a in n.names)
            for n in tree.body
        )
    except SyntaxError:
        has_asyncio = False
    appended = "\n\n" + ("import asyncio\n\n\n" if not has_asyncio else "") + body
    if not existing_text.endswith(("\n", "\r")):
        appended = "\n" + appended
    return existing_text + appended.replace("\n", newline)


def planned_helpers_module(root: str, helpers_module: str, kinds) -> tuple[str, str | None, str] | None:
    """What ``provide_helpers_module`` would write: (path, current text or None if the file
    does not exist, new text); None if the module already holds every helper. Writes
    nothing, so ``tether diff`` can show the module a ``fix`` would create."""
    import os

    path = helpers_module_path(root, helpers_module)
    existing = None
    if os.path.exists(path):
        with open(path, encoding="utf-8", newline="") as handle:
            existing = handle.read()
    from tether.source import detect_newline

    text = helpers_module_source(kinds, existing or "", detect_newline(existing) if existing else "\n")
    return None if text is None else (path, existing, text)


def provide_helpers_module(root: str, helpers_module: str, kinds) -> str | None:
    """Create (or complete) the helpers module file; the path written, or None if up to date."""
    import os

    planned = planned_helpers_module(root, helpers_module, kinds)
    if planned is None:
        return None
    path, _, text = planned
    directory = os.path.dirname(path)
    created_dirs = []
    probe = directory
    while probe and not os.path.exists(probe):
        created_dirs.append(probe)
        probe = os.path.dirname(probe)
    os.makedirs(directory, exist_ok=True)
    for created in created_dirs:  # a package directory we made gets its __init__.py
        if os.path.abspath(created) != os.path.abspath(root):
            open(os.path.join(created, "__init__.py"), "a").close()
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return path
