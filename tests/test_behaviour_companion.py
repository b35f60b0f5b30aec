"""TET101's companion case proved by running: a monitor starts a metadata updater that loops
forever and runs its checks. Before the fix the updater keeps ticking after the monitor returns
and after it crashes; after ``tether fix --unsafe-fixes`` it stops with the monitor, the crash
still reaches the caller as the very same exception, and the default (safe) ``tether fix``
changes nothing anyone can observe."""

from __future__ import annotations

import re
import sys
import textwrap
from functools import lru_cache

import pytest

from behaviour import fix_source, other_pythons, run_program

PYTHONS = [sys.executable, *other_pythons()]

MONITOR = textwrap.dedent(
    """
    import asyncio

    ticks = []
    DISK_FULL = ValueError("disk full")


    async def update_metadata():
        while True:
            ticks.append("tick")
            await asyncio.sleep(0.01)


    async def monitor(checks):
        asyncio.create_task(update_metadata())
        for check in checks:
            await asyncio.sleep(0.03)
            check()
        return "all checks passed"


    def ok():
        pass


    def crash():
        raise DISK_FULL


    async def still_ticking():
        seen = len(ticks)
        await asyncio.sleep(0.1)
        return len(ticks) > seen


    def others():
        return len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])


    async def main():
        print(await monitor([ok, ok]))
        print("updater ticking after return:", await still_ticking())
        try:
            await monitor([ok, crash])
        except ValueError as exc:
            print("crash propagated:", type(exc).__name__, exc, exc is DISK_FULL)
        print("updater ticking after crash:", await still_ticking())
        print("tasks left:", others())


    asyncio.run(main())
    """
)


@lru_cache(maxsize=None)
def fixed(source: str, *options: str) -> str:
    result = fix_source(source, *options)
    assert result != source, "tether fix changed nothing"
    return result


def version_of(python: str) -> tuple[int, int]:
    if python == sys.executable:
        return sys.version_info[:2]
    match = re.search(r"/3\.(\d+)\.\d+/", python)
    assert match, python
    return 3, int(match.group(1))


@pytest.mark.parametrize("python", PYTHONS)
def test_updater_stops_with_the_monitor_after_unsafe_fix(python):
    before = run_program(MONITOR, python)
    source = fixed(MONITOR, "--unsafe-fixes")
    assert "finally:\n        await _cancel_and_wait(update_metadata_task)" in source
    after = run_program(source, python)
    assert before.returncode == after.returncode == 0, (before.stderr, after.stderr)
    assert before.lines == [
        "all checks passed",
        "updater ticking after return: True",
        "crash propagated: ValueError disk full True",
        "updater ticking after crash: True",
        "tasks left: 2",
    ]
    assert after.lines == [
        "all checks passed",
        "updater ticking after return: False",
        "crash propagated: ValueError disk full True",
        "updater ticking after crash: False",
        "tasks left: 0",
    ]
    assert after.stderr == ""


@pytest.mark.parametrize("python", PYTHONS)
def test_default_fix_leaves_everything_observable_as_it_was(python):
    before = run_program(MONITOR, python)
    source = fixed(MONITOR)
    assert "_keep_task(asyncio.create_task(update_metadata()))" in source
    assert "_cancel_and_wait" not in source
    after = run_program(source, python)
    assert after.returncode == before.returncode == 0
    assert after.lines == before.lines


@pytest.mark.parametrize("python", [p for p in PYTHONS if version_of(p) >= (3, 11)])
def test_taskgroup_form_stops_the_updater_and_groups_the_crash(python):
    """The opt-in TaskGroup form also stops the updater, at the documented price: the crash
    now arrives wrapped in an ExceptionGroup, so `except ValueError` no longer matches."""
    program = MONITOR.replace("except ValueError as exc:", "except BaseException as exc:").replace(
        'print("crash propagated:", type(exc).__name__, exc, exc is DISK_FULL)',
        'print("crash propagated:", type(exc).__name__, [e is DISK_FULL for e in getattr(exc, "exceptions", [exc])])',
    )
    source = fixed(program, "--unsafe-fixes", "--style", "taskgroup")
    assert "async with asyncio.TaskGroup() as tg:" in source
    after = run_program(source, python)
    assert after.returncode == 0, after.stderr
    assert after.lines == [
        "all checks passed",
        "updater ticking after return: False",
        "crash propagated: ExceptionGroup [True]",
        "updater ticking after crash: False",
        "tasks left: 0",
    ]


GUARD_WAIT_CANCELLED = textwrap.dedent(
    """
    import asyncio

    events = []


    async def pump_events():
        try:
            while True:
                await asyncio.sleep(0.01)
        finally:
            events.append("pump cleaning up")
            await asyncio.sleep(0.2)
            events.append("pump cleaned up")


    async def session():
        asyncio.create_task(pump_events())
        await asyncio.sleep(0.02)
        raise ConnectionError("lost")


    async def main():
        caller = asyncio.create_task(session())
        await asyncio.sleep(0.1)  # the session failed and waits for the pump's cleanup
        caller.cancel()
        try:
            await caller
        except asyncio.CancelledError:
            print("session cancelled")
        except ConnectionError:
            print("session raised ConnectionError")
        print(events)


    asyncio.run(main())
    """
)


@pytest.mark.parametrize("python", PYTHONS)
def test_a_cancel_aimed_at_the_caller_during_the_guard_wait_is_not_swallowed(python):
    before = run_program(GUARD_WAIT_CANCELLED, python)
    assert before.lines[0] == "session raised ConnectionError"
    after = run_program(fixed(GUARD_WAIT_CANCELLED, "--unsafe-fixes"), python)
    assert after.returncode == 0, after.stderr
    assert after.lines == ["session cancelled", "['pump cleaning up']"]


FAILED_COMPANION = textwrap.dedent(
    """
    import asyncio
    import gc


    async def heartbeat():
        raise KeyError("heartbeat broke")


    async def session():
        asyncio.create_task(heartbeat())
        await asyncio.sleep(0.05)
        return "session done"


    async def main():
        print(await session())
        gc.collect()
        await asyncio.sleep(0.01)


    asyncio.run(main())
    """
)


@pytest.mark.parametrize("python", PYTHONS)
def test_a_companion_that_already_failed_keeps_its_never_retrieved_report(python):
    before = run_program(FAILED_COMPANION, python)
    after = run_program(fixed(FAILED_COMPANION, "--unsafe-fixes"), python)
    assert before.lines == after.lines == ["session done"]
    for run in (before, after):
        assert "Task exception was never retrieved" in run.stderr
        assert "KeyError: 'heartbeat broke'" in run.stderr
