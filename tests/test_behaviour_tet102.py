"""TET102 proved by running: a test-style function starts a server task, talks to it and
awaits it. When the talking fails, the server task is orphaned before the fix and cancelled
(its cleanup runs) after the safe ``tether fix``; the failure reaches the caller as the very
same exception object, and a run in which nothing fails prints exactly the same."""

from __future__ import annotations

import sys
import textwrap
from functools import lru_cache

import pytest

from behaviour import fix_source, other_pythons, run_program

PYTHONS = [sys.executable, *other_pythons()]

TEST_STYLE = textwrap.dedent(
    """
    import asyncio
    import sys

    events = []
    REFUSED = ConnectionError("refused")


    async def serve(stop):
        events.append("serving")
        try:
            await stop.wait()
        finally:
            events.append("server stopped")
        return "served"


    async def talk(fail):
        await asyncio.sleep(0.01)
        if fail:
            raise REFUSED
        events.append("talked")


    async def test_client(fail):
        stop = asyncio.Event()
        task = asyncio.ensure_future(serve(stop))
        await asyncio.sleep(0)
        assert not task.done()
        await talk(fail)
        stop.set()
        print("server result:", await task)


    def others():
        return len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])


    async def main(fail):
        try:
            await test_client(fail)
        except ConnectionError as exc:
            print("test failed:", exc, exc is REFUSED)
        await asyncio.sleep(0.05)
        print(events)
        print("tasks left:", others())


    asyncio.run(main(sys.argv[-1] == "fail"))
    """
)


@lru_cache(maxsize=None)
def fixed(source: str, *options: str) -> str:
    result = fix_source(source, *options)
    assert result != source, "tether fix changed nothing"
    return result


def program(source: str, argument: str) -> str:
    return source.replace('sys.argv[-1] == "fail"', repr(argument == "fail"))


@pytest.mark.parametrize("python", PYTHONS)
def test_server_task_is_cancelled_when_an_intermediate_await_raises(python):
    source = program(TEST_STYLE, "fail")
    before = run_program(source, python)
    after = run_program(fixed(source), python)
    assert before.returncode == after.returncode == 0, (before.stderr, after.stderr)
    assert before.lines == ["test failed: refused True", "['serving']", "tasks left: 1"]
    assert after.lines == ["test failed: refused True", "['serving', 'server stopped']", "tasks left: 0"]


@pytest.mark.parametrize("python", PYTHONS)
def test_success_path_is_unchanged(python):
    source = program(TEST_STYLE, "pass")
    before = run_program(source, python)
    after = run_program(fixed(source), python)
    assert before.returncode == after.returncode == 0
    assert before.lines == after.lines == [
        "server result: served",
        "['serving', 'talked', 'server stopped']",
        "tasks left: 0",
    ]
    assert before.stderr == after.stderr == ""


def test_the_fix_is_safe_and_wraps_from_creation_to_the_await():
    source = fixed(program(TEST_STYLE, "fail"))
    assert (
        "    task = asyncio.ensure_future(serve(stop))\n"
        "    try:\n"
        "        await asyncio.sleep(0)\n"
        "        assert not task.done()\n"
        "        await talk(fail)\n"
        "        stop.set()\n"
        '        print("server result:", await task)\n'
        "    except BaseException:\n"
        "        await _cancel_and_wait(task)\n"
        "        raise\n"
    ) in source


TASK_FAILS_ITSELF = textwrap.dedent(
    """
    import asyncio

    order = []
    BROKEN = KeyError("broken")


    async def job():
        await asyncio.sleep(0.01)
        raise BROKEN


    async def bystander():
        for step in range(3):
            order.append(f"bystander {step}")
            await asyncio.sleep(0)


    async def caller():
        task = asyncio.create_task(job())
        await asyncio.sleep(0.05)  # the job has failed by now
        asyncio.create_task(bystander())
        await task


    async def main():
        try:
            await caller()
        except KeyError as exc:
            order.append(f"caught {exc!r} {exc is BROKEN}")
        await asyncio.sleep(0.01)
        print(order)


    asyncio.run(main())
    """
)


@pytest.mark.parametrize("python", PYTHONS)
def test_the_task_own_failure_reaches_the_caller_with_unchanged_timing(python):
    """``await task`` raising the task's own error passes through the guard; a finished task
    is not waited for, so not even the interleaving with other tasks changes."""
    source = fixed(TASK_FAILS_ITSELF)
    assert "await _cancel_and_wait(task)" in source
    before = run_program(TASK_FAILS_ITSELF, python)
    after = run_program(source, python)
    assert before.returncode == after.returncode == 0, after.stderr
    assert before.lines == after.lines == [
        "[\"caught KeyError('broken') True\", 'bystander 0', 'bystander 1', 'bystander 2']"
    ]


GUARD_WAIT_CANCELLED = textwrap.dedent(
    """
    import asyncio

    events = []


    async def worker():
        try:
            await asyncio.sleep(10)
        finally:
            events.append("worker cleaning up")
            await asyncio.sleep(0.2)
            events.append("worker cleaned up")


    async def fail():
        await asyncio.sleep(0.02)
        raise ValueError("step failed")


    async def caller():
        task = asyncio.create_task(worker())
        await fail()
        await task


    async def main():
        running = asyncio.create_task(caller())
        await asyncio.sleep(0.1)  # caller failed and is waiting for the worker's cleanup
        running.cancel()
        try:
            await running
        except asyncio.CancelledError:
            print("caller cancelled")
        except ValueError:
            print("caller raised ValueError")
        print(events)


    asyncio.run(main())
    """
)


@pytest.mark.parametrize("python", PYTHONS)
def test_a_cancel_aimed_at_the_caller_during_the_guard_wait_is_not_swallowed(python):
    before = run_program(GUARD_WAIT_CANCELLED, python)
    assert before.lines[0] == "caller raised ValueError"
    after = run_program(fixed(GUARD_WAIT_CANCELLED), python)
    assert after.returncode == 0, after.stderr
    assert after.lines == ["caller cancelled", "['worker cleaning up']"]


ALREADY_FAILED = textwrap.dedent(
    """
    import asyncio
    import gc


    async def explode():
        raise KeyError("background broke")


    async def step():
        await asyncio.sleep(0.02)
        raise ValueError("step failed")


    async def caller():
        task = asyncio.create_task(explode())
        await step()
        await task


    async def main():
        try:
            await caller()
        except ValueError as exc:
            print("caller raised", repr(exc))
        gc.collect()
        await asyncio.sleep(0.01)


    asyncio.run(main())
    """
)


@pytest.mark.parametrize("python", PYTHONS)
def test_a_task_that_already_failed_keeps_its_never_retrieved_report(python):
    before = run_program(ALREADY_FAILED, python)
    after = run_program(fixed(ALREADY_FAILED), python)
    assert before.lines == after.lines == ["caller raised ValueError('step failed')"]
    for run in (before, after):
        assert "Task exception was never retrieved" in run.stderr
        assert "KeyError: 'background broke'" in run.stderr
