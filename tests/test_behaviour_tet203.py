"""TET203 proved by running: leaving an ``as_completed`` loop early orphans the remaining
tasks before the fix (still running, files still open after the function raised or
returned); after it, they are cancelled once and finished before the function's outcome
surfaces, and results, their order and exception types are unchanged."""

from __future__ import annotations

import sys

import pytest

from behaviour import other_pythons, run_program
from leak_probe import before_after, fixed_once, leftover_free, program

PYTHONS = [sys.executable, *other_pythons()]

ALL_SUCCEED = """
async def collect():
    results = []
    for fut in asyncio.as_completed([child("c", 0.03), child("a", 0.01), child("b", 0.02)]):
        results.append(await fut)
    return results


async def main():
    print(await collect())
    report()


asyncio.run(main())
"""

ONE_FAILS = """
async def collect():
    results = []
    for fut in asyncio.as_completed([child("a", 0.01), child("b", 0.02, ValueError), child("c", 0.3)]):
        results.append(await fut)
    return results


async def main():
    try:
        print(await collect())
    except ValueError as exc:
        print("error", type(exc).__name__, exc)
    report()
    await asyncio.sleep(0.5)


asyncio.run(main())
"""


@pytest.mark.parametrize("python", PYTHONS)
def test_success_path_is_identical(python):
    before, after, fixed = before_after(ALL_SUCCEED, python=python)
    assert "await _cancel_pending(tasks)" in fixed
    assert before.returncode == after.returncode == 0, after.stderr
    assert before.lines == after.lines == ["['a', 'b', 'c']", "after running: 0 open: [] events: []"]


@pytest.mark.parametrize("python", PYTHONS)
def test_failure_cancels_and_awaits_the_rest(python):
    before, after, _ = before_after(ONE_FAILS, python=python)
    assert before.lines[0] == after.lines[0] == "error ValueError b failed"
    assert before.lines[1] == "after running: 1 open: ['c'] events: []"  # the leak
    assert leftover_free(after) == ["c cancelled"]
    assert after.returncode == 0, after.stderr


def test_safe_fix_applies_without_unsafe_fixes():
    source = program(ONE_FAILS)
    assert fixed_once(source) != source


@pytest.mark.parametrize("python", PYTHONS)
def test_caller_cancelled_while_looping(python):
    body = """
    async def collect():
        for fut in asyncio.as_completed([child("a", 0.2), child("b", 0.3)]):
            print(await fut)


    async def main():
        task = asyncio.ensure_future(collect())
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
    before, after, _ = before_after(body, python=python)
    assert before.lines[0] == after.lines[0] == "cancelled"
    assert before.lines[1] == "after running: 2 open: ['a', 'b'] events: []"
    assert sorted(leftover_free(after)) == ["a cancelled", "b cancelled"]


RETURNS_EARLY = """
async def first_b():
    for fut in asyncio.as_completed([child("a", 0.01), child("b", 0.02), child("c", 0.3)]):
        name = await fut
        if name == "b":
            return name


async def main():
    print(await first_b())
    report()
    await asyncio.sleep(0.5)


asyncio.run(main())
"""


def test_return_exit_is_unsafe_only():
    source = program(RETURNS_EARLY)
    assert fixed_once(source) == source
    assert fixed_once(source, "--unsafe-fixes") != source


@pytest.mark.parametrize("python", PYTHONS)
def test_return_exit_with_unsafe_fix(python):
    before, after, _ = before_after(RETURNS_EARLY, "--unsafe-fixes", python=python)
    assert before.lines[0] == after.lines[0] == "b"
    assert before.lines[1] == "after running: 1 open: ['c'] events: []"
    assert leftover_free(after) == ["c cancelled"]


@pytest.mark.parametrize("python", PYTHONS)
def test_break_from_a_local_task_list(python):
    body = """
    async def until_failure():
        tasks = []
        for name, delay in [("a", 0.01), ("b", 0.02), ("c", 0.3)]:
            tasks.append(asyncio.create_task(child(name, delay)))
        seen = []
        for fut in asyncio.as_completed(tasks):
            seen.append(await fut)
            if len(seen) == 2:
                break
        return seen


    async def main():
        print(await until_failure())
        report()
        await asyncio.sleep(0.5)


    asyncio.run(main())
    """
    before, after, fixed = before_after(body, "--unsafe-fixes", python=python)
    assert "await _cancel_pending(tasks)" in fixed and "ensure_future" not in fixed
    assert before.lines[0] == after.lines[0] == "['a', 'b']"
    assert before.lines[1] == "after running: 1 open: ['c'] events: []"
    assert leftover_free(after) == ["c cancelled"]


@pytest.mark.parametrize("python", PYTHONS)
def test_timeout_keeps_its_error_and_leaves_nothing(python):
    body = """
    async def collect():
        results = []
        for fut in asyncio.as_completed([child("a", 0.01), child("b", 0.3)], timeout=0.1):
            results.append(await fut)
        return results


    async def main():
        try:
            await collect()
        except asyncio.TimeoutError as exc:
            print("error", type(exc).__name__)
        report()
        await asyncio.sleep(0.5)


    asyncio.run(main())
    """
    before, after, _ = before_after(body, python=python)
    assert before.lines[0] == after.lines[0] == "error TimeoutError"
    assert before.lines[1] == "after running: 1 open: ['b'] events: []"
    assert leftover_free(after) == ["b cancelled"]


@pytest.mark.parametrize("python", PYTHONS)
def test_leftover_failing_while_cancelled_does_not_mask_the_error(python):
    body = """
    async def collect():
        results = []
        for fut in asyncio.as_completed([child("b", 0.01, ValueError), child("c", 0.3, fail_on_cancel=True)]):
            results.append(await fut)
        return results


    async def main():
        try:
            await collect()
        except ValueError as exc:
            print("error", type(exc).__name__, exc)
        report()
        await asyncio.sleep(0.5)


    asyncio.run(main())
    """
    before, after, _ = before_after(body, python=python)
    assert before.lines[0] == after.lines[0] == "error ValueError b failed"
    assert leftover_free(before) is None
    assert leftover_free(after) == ["c cancelled"]


# The caller is cancelled twice while the loop's cleanup waits for "c" to close its file.
CANCELLED_DURING_CLEANUP = """
async def collect():
    for fut in asyncio.as_completed([child("b", 0.01, ValueError), child("c", 0.3)]):
        await fut


async def main():
    task = asyncio.ensure_future(collect())
    await asyncio.sleep(0.08)  # "b" failed and closed its file at 0.06; "c" closes until 0.11
    task.cancel()
    await asyncio.sleep(0.01)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        print("cancelled")
    except ValueError:
        print("ValueError")
    report()
    await asyncio.sleep(0.5)


asyncio.run(main())
"""


@pytest.mark.parametrize("python", PYTHONS)
def test_caller_cancelled_twice_during_cleanup(python):
    _, after, _ = before_after(CANCELLED_DURING_CLEANUP, python=python)
    assert after.lines[0] == "cancelled"
    assert leftover_free(after) == ["c cancelled"]  # cancelled once, cleanup not interrupted


NAIVE_CANCEL_PENDING = """\
async def _cancel_pending(tasks):
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)


async def _unused_original_helper"""


def test_naive_cleanup_fails_the_cancellation_test():
    """Negative control: a cleanup that stops waiting when the caller is cancelled leaks."""
    source = program(CANCELLED_DURING_CLEANUP)
    fixed = fixed_once(source)
    naive = fixed.replace("async def _cancel_pending", NAIVE_CANCEL_PENDING, 1)
    assert naive != fixed
    run = run_program(naive)
    assert run.lines[0] == "cancelled"
    assert leftover_free(run) is None, run.stdout  # "c" is still closing its file


@pytest.mark.parametrize("python", PYTHONS)
def test_outer_wait_for_timeout_still_raises_timeout_error(python):
    """A timeout around the caller cancels it mid-loop: the cleanup must not turn that into
    anything but the TimeoutError the caller expects."""
    body = """
    async def collect():
        results = []
        for fut in asyncio.as_completed([child("a", 0.2), child("b", 0.3)]):
            results.append(await fut)
        return results


    async def main():
        try:
            await asyncio.wait_for(collect(), 0.05)
        except asyncio.TimeoutError as exc:
            print("error", type(exc).__name__)
        report()
        await asyncio.sleep(0.5)


    asyncio.run(main())
    """
    before, after, _ = before_after(body, python=python)
    assert before.lines[0] == after.lines[0] == "error TimeoutError"
    assert before.lines[1] == "after running: 2 open: ['a', 'b'] events: []"
    assert sorted(leftover_free(after)) == ["a cancelled", "b cancelled"]


@pytest.mark.parametrize("python", PYTHONS)
def test_child_cancelled_by_a_third_party(python):
    """``await fut`` of a child that someone else cancelled raises CancelledError in the loop:
    the same error must come out, and the other child must not be left running."""
    body = """
    async def collect():
        for fut in asyncio.as_completed([child("a", 0.2), child("b", 0.3)]):
            print(await fut)


    async def cancel_child(name):
        await asyncio.sleep(0.01)
        for task in asyncio.all_tasks():
            frame = task.get_coro().cr_frame
            if frame is not None and frame.f_code.co_name == "child" and frame.f_locals.get("name") == name:
                task.cancel()


    async def main():
        asyncio.ensure_future(cancel_child("a"))
        try:
            await collect()
        except asyncio.CancelledError:
            print("error CancelledError")
        report()
        await asyncio.sleep(0.5)


    asyncio.run(main())
    """
    before, after, _ = before_after(body, python=python)
    assert before.lines[0] == after.lines[0] == "error CancelledError"
    assert before.lines[1] == "after running: 1 open: ['b'] events: ['a cancelled']"
    assert leftover_free(after) == ["a cancelled", "b cancelled"]
