"""What the lifetime rules decide that a fixture cannot show: findings without a fix, the fix
list and its titles per target version, and which tasks count as companions."""

from __future__ import annotations

import ast
import textwrap
from dataclasses import replace

import pytest

from tether.analysis import ModuleInfo
from tether.companions import loops_forever, name_says_companion, resolve_coroutine_function, starts_things
from tether.config import Settings
from tether.engine import check_text, fix_text
from tether.model import SAFE, UNSAFE


def findings(source: str, **settings):
    result = check_text(textwrap.dedent(source), "case.py", replace(Settings(), **settings))
    assert result.error is None, result.error
    return result.findings


GENERATOR = """
import asyncio


async def work():
    await asyncio.sleep(0)


async def stream():
    task = asyncio.create_task(work())
    yield 1
    await asyncio.sleep(0)
    await task
"""


def test_a_region_that_yields_gets_the_finding_but_no_fix():
    (finding,) = findings(GENERATOR)
    assert finding.code == "TET102"
    assert finding.fixes == ()
    assert "no automatic fix: the region yields" in finding.message
    result = fix_text(textwrap.dedent(GENERATOR), "case.py", Settings())
    assert result.error is None
    assert result.new_text == result.old_text


def test_tet102_offers_only_the_safe_guard_even_under_style_taskgroup():
    source = """
    import asyncio

    async def main(work):
        task = asyncio.create_task(work())
        await asyncio.sleep(0)
        await task
    """
    (finding,) = findings(source, style="taskgroup", unsafe_fixes=True, target_version=(3, 13))
    assert [f.applicability for f in finding.fixes] == [SAFE]
    assert finding.choose_fix(True, "taskgroup").plan[0] == "guard"


COMPANION = """
import asyncio


async def heartbeat():
    while True:
        await asyncio.sleep(1)


async def serve(conn):
    asyncio.create_task(heartbeat())
    await conn.run()
"""


@pytest.mark.parametrize(
    "target, warns",
    [((3, 11), True), ((3, 12), True), ((3, 13), False)],
)
def test_companion_fixes_in_preference_order_and_the_taskgroup_warning(target, warns):
    (finding,) = findings(COMPANION, target_version=target)
    assert [(f.applicability, f.style, f.plan[0]) for f in finding.fixes] == [
        (UNSAFE, "guard", "guard"),
        (UNSAFE, "taskgroup", "taskgroup"),
        (SAFE, None, "keep"),
    ]
    assert ("3.11/3.12 TaskGroup has known bugs" in finding.fixes[1].title) is warns
    assert finding.choose_fix(False, "guard").plan[0] == "keep"
    assert finding.choose_fix(False, "taskgroup").plan[0] == "keep"
    assert finding.choose_fix(True, "guard").plan[0] == "guard"
    assert finding.choose_fix(True, "taskgroup").plan[0] == "taskgroup"
    assert "companion task (`heartbeat` loops forever)" in finding.message


def test_before_311_the_guard_is_the_unsafe_fix_for_both_styles():
    (finding,) = findings(COMPANION, target_version=(3, 10))
    assert [(f.style, f.plan[0]) for f in finding.fixes] == [(None, "guard"), (None, "keep")]
    assert finding.choose_fix(True, "taskgroup").plan[0] == "guard"


@pytest.mark.parametrize(
    "name",
    ["heartbeat", "_send_heartbeat", "keepAlive", "keep_alive", "send_keepalive", "monitor_health", "_watchdog",
     "watch_changes", "pump_messages", "MessagePump", "poll_loop", "poller"],
)
def test_companion_names(name):
    assert name_says_companion(name)


@pytest.mark.parametrize("name", ["apollo", "stopwatch", "fetch", "update_metadata", "keep", "alive"])
def test_not_companion_names(name):
    assert not name_says_companion(name)


@pytest.mark.parametrize("name", ["connect", "async_start", "_open_stream", "__aenter__", "setUp", "start_heartbeat"])
def test_functions_that_start_things_have_no_companions(name):
    assert starts_things(name)
    source = COMPANION.replace("async def serve(conn):", f"async def {name}(conn):")
    (finding,) = findings(source)
    assert [f.plan[0] for f in finding.fixes] == ["keep"]
    assert "companion" not in finding.message


@pytest.mark.parametrize("name", ["run", "serve", "main", "monitor", "handle", "restarted_count"])
def test_functions_that_do_their_own_work_have_companions(name):
    assert not starts_things(name)


def _function(source: str, name: str) -> tuple[ModuleInfo, ast.AST]:
    text = textwrap.dedent(source)
    module = ModuleInfo(text, ast.parse(text))
    return module, next(n for n in ast.walk(module.tree) if isinstance(n, ast.AsyncFunctionDef) and n.name == name)


@pytest.mark.parametrize(
    "body, endless",
    [
        ("while True:\n        await tick()", True),
        ("while 1:\n        await tick()", True),
        ("while True:\n        if done():\n            break\n        await tick()", False),
        ("while True:\n        if done():\n            return\n        await tick()", False),
        ("while True:\n        for x in xs:\n            break\n        await tick()", True),
        ("while True:\n        for x in xs:\n            pass\n        else:\n            break", False),
        (
            "while True:\n        try:\n            await tick()\n        except asyncio.CancelledError:\n            return",
            True,
        ),
        ("while True:\n        try:\n            await tick()\n        except OSError:\n            return", False),
        ("while running:\n        await tick()", False),
        ("while True:\n        def inner():\n            return 1\n        await tick()", True),
    ],
)
def test_loops_forever(body, endless):
    module, function = _function(f"import asyncio\n\nasync def loop(xs):\n    {body}\n", "loop")
    assert loops_forever(module, function) is endless


def test_resolution_finds_methods_and_closures_but_not_shadowed_names():
    module, _ = _function(
        """
        class Client:
            async def _pump(self):
                pass

            async def run(self):
                self._pump()

        async def outer():
            async def inner():
                pass
            inner()
            sync()

        def sync():
            pass
        """,
        "outer",
    )
    calls = {ast.unparse(c.func): c for c in ast.walk(module.tree) if isinstance(c, ast.Call)}
    assert resolve_coroutine_function(module, calls["self._pump"]).name == "_pump"
    assert resolve_coroutine_function(module, calls["inner"]).name == "inner"
    assert resolve_coroutine_function(module, calls["sync"]) is None


def test_libcst_tool_runs_tet102_like_tether_fix(tmp_path):
    import shutil
    import subprocess
    import sys

    from conftest import FIXTURES, ROOT

    target = tmp_path / "client.py"
    shutil.copy(FIXTURES / "TET102" / "basic.before.py", target)
    proc = subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", "-x", "--no-format",
         "codemods.unguarded_task_await.UnguardedTaskAwaitCommand", str(target)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() == (FIXTURES / "TET102" / "basic.after.py").read_bytes()


def test_lifetime_modules_do_not_import_libcst():
    import subprocess
    import sys

    from conftest import ROOT

    code = (
        "import sys, codemods.unguarded_task_await as a, codemods.dangling_task as b; "
        "assert 'libcst' not in sys.modules; print(a.RULE.code, b.RULE.code)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["TET102", "TET101"]
