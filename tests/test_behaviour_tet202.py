"""TET202 proved by running: an ``asyncio.wait`` that returns early leaves the other tasks
running before the fix (after the function returned or raised); after it they are cancelled
once and have finished, and results and exception types are unchanged. The fix is unsafe
(the losers no longer run on), so every run uses ``--unsafe-fixes``."""

from __future__ import annotations

import sys

import pytest

from behaviour import other_pythons, run_program
from leak_probe import before_after, fixed_once, leftover_free, program, pythons_from

PYTHONS = [sys.executable, *other_pythons()]
UNSAFE = "--unsafe-fixes"

RACE = """
async def fastest():
    done, pending = await asyncio.wait(
        [asyncio.create_task(child("a", 0.01)), asyncio.create_task(child("b", 0.3))],
        return_when=asyncio.FIRST_COMPLETED,
    )
    return [task.result() for task in done]


async def main():
    print(await fastest())
    report()
    await asyncio.sleep(0.5)


asyncio.run(main())
"""


def test_no_fix_without_unsafe_fixes():
    source = program(RACE)
    assert fixed_once(source) == source


@pytest.mark.parametrize("python", PYTHONS)
def test_first_completed_race(python):
    before, after, fixed = before_after(RACE, UNSAFE, python=python)
    assert "await _wait_cancel_pending(" in fixed
    assert before.lines[0] == after.lines[0] == "['a']"
    assert before.lines[1] == "after running: 1 open: ['b'] events: []"
    assert leftover_free(after) == ["b cancelled"]
    assert after.returncode == 0, after.stderr


@pytest.mark.parametrize("python", PYTHONS)
def test_timeout_with_discarded_result(python):
    body = """
    async def bounded():
        await asyncio.wait([asyncio.ensure_future(child("a", 0.01)), asyncio.ensure_future(child("b", 0.3))], timeout=0.1)
        return "done"


    async def main():
        print(await bounded())
        report()
        await asyncio.sleep(0.5)


    asyncio.run(main())
    """
    before, after, _ = before_after(body, UNSAFE, python=python)
    assert before.lines[0] == after.lines[0] == "done"
    assert before.lines[1] == "after running: 1 open: ['b'] events: []"
    assert leftover_free(after) == ["b cancelled"]


@pytest.mark.parametrize("python", PYTHONS)
def test_first_exception_keeps_the_exception(python):
    body = """
    async def checked():
        tasks = [asyncio.create_task(child(n, d, f)) for n, d, f in [("a", 0.01, ValueError), ("b", 0.3, None)]]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()


    async def main():
        try:
            await checked()
        except ValueError as exc:
            print("error", type(exc).__name__, exc)
        report()
        await asyncio.sleep(0.5)


    asyncio.run(main())
    """
    before, after, _ = before_after(body, UNSAFE, python=python)
    assert before.lines[0] == after.lines[0] == "error ValueError a failed"
    assert before.lines[1] == "after running: 1 open: ['b'] events: []"
    assert leftover_free(after) == ["b cancelled"]


@pytest.mark.parametrize("python", PYTHONS)
def test_caller_cancelled_while_waiting(python):
    body = """
    async def fastest():
        done, _ = await asyncio.wait(
            {asyncio.create_task(child("a", 0.2)), asyncio.create_task(child("b", 0.3))},
            return_when=asyncio.FIRST_COMPLETED,
        )
        return done


    async def main():
        task = asyncio.ensure_future(fastest())
        await asyncio.sleep(0.01)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            print("cancelled")
        report()
        await asyncio.sleep(0.5)


    asyncio.run(main())
    """
    before, after, _ = before_after(body, UNSAFE, python=python)
    assert before.lines[0] == after.lines[0] == "cancelled"
    assert before.lines[1] == "after running: 2 open: ['a', 'b'] events: []"
    assert sorted(leftover_free(after)) == ["a cancelled", "b cancelled"]


@pytest.mark.parametrize("python", PYTHONS)
def test_leftover_failing_while_cancelled_does_not_mask_the_error(python):
    body = """
    async def checked():
        done, pending = await asyncio.wait(
            [asyncio.create_task(child("a", 0.01, ValueError)), asyncio.create_task(child("c", 0.3, fail_on_cancel=True))],
            return_when=asyncio.FIRST_EXCEPTION,
        )
        for task in done:
            task.result()


    async def main():
        try:
            await checked()
        except ValueError as exc:
            print("error", type(exc).__name__, exc)
        report()
        await asyncio.sleep(0.5)


    asyncio.run(main())
    """
    before, after, _ = before_after(body, UNSAFE, python=python)
    assert before.lines[0] == after.lines[0] == "error ValueError a failed"
    assert leftover_free(before) is None
    assert leftover_free(after) == ["c cancelled"]


CANCELLED_DURING_CLEANUP = """
async def fastest():
    done, _ = await asyncio.wait(
        [asyncio.create_task(child("a", 0.01)), asyncio.create_task(child("c", 0.3))],
        return_when=asyncio.FIRST_COMPLETED,
    )
    return done


async def main():
    task = asyncio.ensure_future(fastest())
    await asyncio.sleep(0.08)  # "a" finished at 0.06; "c" closes its file until about 0.11
    task.cancel()
    await asyncio.sleep(0.01)
    task.cancel()
    try:
        await task
        print("returned")
    except asyncio.CancelledError:
        print("cancelled")
    report()
    await asyncio.sleep(0.5)


asyncio.run(main())
"""


@pytest.mark.parametrize("python", PYTHONS)
def test_caller_cancelled_twice_during_cleanup(python):
    _, after, _ = before_after(CANCELLED_DURING_CLEANUP, UNSAFE, python=python)
    assert after.lines[0] == "cancelled"
    assert leftover_free(after) == ["c cancelled"]  # cancelled once, its cleanup not interrupted


def test_naive_cleanup_fails_the_cancellation_test():
    """Negative control: a cleanup that stops waiting when the caller is cancelled leaks."""
    fixed = fixed_once(program(CANCELLED_DURING_CLEANUP), UNSAFE)
    naive = fixed.replace(
        "    cancelled = None\n    while True:\n        try:\n            await asyncio.wait(pending)\n            break\n"
        "        except asyncio.CancelledError as exc:\n            cancelled = exc\n    if cancelled is not None:\n"
        "        raise cancelled\n",
        "    await asyncio.wait(pending)\n",
    )
    assert naive != fixed
    run = run_program(naive)
    assert run.lines[0] == "cancelled"
    assert leftover_free(run) is None, run.stdout  # "c" is still closing its file


BARE_COROUTINES = """
async def fastest():
    done, _ = await asyncio.wait([child("a", 0.01), child("b", 0.3)], return_when=asyncio.FIRST_COMPLETED)
    return [task.result() for task in done]


async def main():
    try:
        print(await fastest())
    except TypeError as exc:
        print("error", type(exc).__name__, exc)
    report()
    await asyncio.sleep(0.5)


asyncio.run(main())
"""


@pytest.mark.parametrize("python", PYTHONS)
def test_bare_coroutines_behave_as_before_on_every_version(python):
    """Target py38: wrapped in tasks before 3.11 (and fixed), TypeError from 3.11 (unchanged)."""
    before, after, _ = before_after(BARE_COROUTINES, UNSAFE, "--target-version", "py38", python=python)
    assert before.lines[0] == after.lines[0]
    version = run_program("import sys; print(sys.version_info >= (3, 11))", python).lines[0]
    if version == "True":
        assert after.lines[0] == "error TypeError Passing coroutines is forbidden, use tasks explicitly."
        assert leftover_free(before) == leftover_free(after) == []
    else:
        assert after.lines[0] == "['a']"
        assert before.lines[1] == "after running: 1 open: ['b'] events: []"
        assert leftover_free(after) == ["b cancelled"]


def test_bare_coroutines_are_not_flagged_for_a_311_target():
    source = program(BARE_COROUTINES)
    assert fixed_once(source, UNSAFE, "--target-version", "py311") == source


@pytest.mark.parametrize("python", PYTHONS)
def test_empty_task_list_raises_the_same_value_error(python):
    body = """
    async def fastest(names):
        tasks = []
        for name in names:
            tasks.append(asyncio.create_task(child(name, 0.01)))
        done, _ = await asyncio.wait(tasks, timeout=1)
        return len(done)


    async def main():
        print(await fastest(["a"]))
        try:
            await fastest([])
        except ValueError as exc:
            print("error", type(exc).__name__, exc)
        report()


    asyncio.run(main())
    """
    before, after, _ = before_after(body, UNSAFE, python=python)
    assert before.lines == after.lines
    assert before.lines[0] == "1"
    assert before.lines[1].startswith("error ValueError Set of ")


@pytest.mark.parametrize("python", pythons_from(11))
def test_asyncio_timeout_around_the_caller_still_raises_timeout_error(python):
    """``asyncio.timeout`` (3.11+) turns its own cancellation into TimeoutError only if the
    CancelledError reaches it with the task's cancel count intact: the cleanup must keep it."""
    body = """
    async def fastest():
        done, _ = await asyncio.wait(
            [asyncio.create_task(child("a", 0.2)), asyncio.create_task(child("b", 0.3))],
            return_when=asyncio.FIRST_COMPLETED,
        )
        return done


    async def main():
        try:
            async with asyncio.timeout(0.05):
                await fastest()
        except TimeoutError as exc:
            print("error", type(exc).__name__)
        report()
        await asyncio.sleep(0.5)


    asyncio.run(main())
    """
    before, after, _ = before_after(body, UNSAFE, python=python)
    assert before.lines[0] == after.lines[0] == "error TimeoutError"
    assert before.lines[1] == "after running: 2 open: ['a', 'b'] events: []"
    assert sorted(leftover_free(after)) == ["a cancelled", "b cancelled"]
