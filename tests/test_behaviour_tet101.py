"""TET101 proved by running: a dropped task is garbage-collected mid-flight before the fix
and finishes after it, with everything else printed the same."""

from __future__ import annotations

import sys

import pytest

from behaviour import before_after, other_pythons

# The task waits on a future that only its own frame references (the resolver holds a weak
# reference), so once main() drops the task nothing outside the reference cycle keeps it.
PROGRAM = """
import asyncio
import gc
import weakref

results = []


def resolve(ref):
    future = ref()
    if future is not None and not future.done():
        future.set_result("written")


async def write_audit_record():
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_later(0.05, resolve, weakref.ref(future))
    results.append(await future)


async def main():
    asyncio.create_task(write_audit_record())
    await asyncio.sleep(0.01)
    gc.collect()
    await asyncio.sleep(0.2)
    print("handled request")
    print("audit records:", results)


asyncio.run(main())
"""


@pytest.mark.parametrize("python", [sys.executable, *other_pythons()])
def test_dropped_task_is_collected_before_and_completes_after(python):
    before, after, fixed = before_after(PROGRAM, python=python)
    assert "_keep_task(asyncio.create_task(write_audit_record()))" in fixed
    assert before.returncode == after.returncode == 0
    assert before.lines == ["handled request", "audit records: []"]
    assert "Task was destroyed but it is pending" in before.stderr
    assert after.lines == ["handled request", "audit records: ['written']"]
    assert "Task was destroyed" not in after.stderr


def test_failing_task_still_reports_its_exception_after_the_fix():
    """The keep-reference set must not swallow "Task exception was never retrieved"."""
    program = """
    import asyncio
    import gc


    async def explode():
        raise ValueError("boom")


    async def main():
        asyncio.create_task(explode())
        await asyncio.sleep(0.05)
        gc.collect()
        await asyncio.sleep(0.01)
        print("done")


    asyncio.run(main())
    """
    before, after, _ = before_after(program)
    assert before.lines == after.lines == ["done"]
    assert "Task exception was never retrieved" in before.stderr
    assert "Task exception was never retrieved" in after.stderr
    assert "ValueError: boom" in after.stderr
