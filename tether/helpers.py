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
    source: str  # str.format template: {asyncio} plus one field per name


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

CANCEL_AND_WAIT = HelperTemplate(
    kind="cancel_and_wait",
    names=("_cancel_and_wait",),
    source='''\
# tether helper cancel_and_wait: cancels a task (unless it already finished) and waits until it has.
async def {_cancel_and_wait}(task):
    if not task.done():
        task.cancel()
    await {asyncio}.wait((task,))
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

TEMPLATES = {t.kind: t for t in (KEEP_TASK, GATHER_CANCEL_ON_ERROR, CANCEL_AND_WAIT, CANCEL_OWNED, CANCEL_OWNED_NOWAIT)}

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


def render_helper(template: HelperTemplate, taken: set[str], asyncio_name: str) -> tuple[str, str]:
    """(source, call name) for ``template`` with every name made unique against ``taken``."""
    names = {}
    for name in template.names:
        names[name] = unique_name(name, taken)
        taken.add(names[name])
    return template.source.format(asyncio=asyncio_name, **names), names[template.names[0]]


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
