"""The ``_gather_cancel_on_error`` helper (SPEC 3.1) exercised directly, in this interpreter.

The helper's source is taken from tether.helpers, exactly as fixes emit it, and executed into
this module's namespace. Next to it lives the naive guard SPEC section 4 warns about (cancel
and gather the children on BaseException, without shielding the primary gather): it passes
the easy scenarios and must fail the one where the caller is cancelled twice during cleanup;
the negative-control test asserts that it does, so these scenarios are known to be able to
tell a correct guard from a plausible wrong one.
"""

from __future__ import annotations

import asyncio

import pytest

from tether import helpers


def _load_helper():
    source, name = helpers.render_helper(helpers.GATHER_CANCEL_ON_ERROR, set(), "asyncio")
    namespace = {"asyncio": asyncio}
    exec(compile(source, "<tether helper gather_cancel_on_error>", "exec"), namespace)
    return namespace[name]


gather_cancel_on_error = _load_helper()


async def naive_guard(*aws):
    """NEGATIVE CONTROL, do not use: the unshielded guard double-cancels on a second cancel."""
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class Children:
    """Children that record their fate: state, how often they were cancelled, open resources."""

    def __init__(self):
        self.state: dict[str, str] = {}
        self.cancels: dict[str, int] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.open: set[str] = set()

    async def child(self, name, delay=10.0, value=None, error=None, cleanup=0.05, cleanup_error=None, cleanup_release=None):
        self.state[name] = "running"
        self.cancels[name] = 0
        self.tasks[name] = asyncio.current_task()
        self.open.add(name)
        try:
            await asyncio.sleep(delay)
            if error is not None:
                self.state[name] = "failed"
                raise error
            self.state[name] = "done"
            return value
        except asyncio.CancelledError:
            self.cancels[name] += 1
            self.state[name] = "cleaning"
            try:  # cleanup that takes time, e.g. closing a connection
                if cleanup_release is not None:
                    await cleanup_release.wait()
                else:
                    await asyncio.sleep(cleanup)
            except asyncio.CancelledError:
                self.cancels[name] += 1
                self.state[name] = "cleanup interrupted"
                raise
            if cleanup_error is not None:
                self.state[name] = "cleanup raised"
                raise cleanup_error
            self.state[name] = "cancelled"
            raise
        finally:
            self.open.discard(name)

    async def until(self, *names, state):
        while any(self.state.get(name) != state for name in names):
            await asyncio.sleep(0.001)

    def running(self) -> list[str]:
        return sorted(n for n, s in self.state.items() if s in ("running", "cleaning"))


def run(coro):
    return asyncio.run(coro)


def test_success_path_matches_gather():
    async def main(impl):
        c = Children()
        values = await impl(c.child("A", 0.03, 1), c.child("B", 0, 2), c.child("C", 0.01, 3))
        return values, c.state

    assert run(main(asyncio.gather)) == run(main(gather_cancel_on_error)) == (
        [1, 2, 3],
        {"A": "done", "B": "done", "C": "done"},
    )


def test_failure_cancels_and_awaits_siblings_before_the_same_exception_surfaces():
    error = ValueError("boom")

    async def main():
        c = Children()
        with pytest.raises(ValueError) as raised:
            await gather_cancel_on_error(c.child("A", 0.01, error=error), c.child("B"), c.child("C"))
        assert raised.value is error
        assert c.running() == [] and c.open == set()
        assert c.state == {"A": "failed", "B": "cancelled", "C": "cancelled"}
        assert c.cancels == {"A": 0, "B": 1, "C": 1}

    run(main())


def test_plain_gather_orphans_the_siblings():
    """What the rule is about: the same scenario with asyncio.gather leaves B and C running."""

    async def main():
        c = Children()
        with pytest.raises(ValueError):
            await asyncio.gather(c.child("A", 0.01, error=ValueError("boom")), c.child("B"), c.child("C"))
        assert c.running() == ["B", "C"] and c.open == {"B", "C"}
        for task in (c.tasks["B"], c.tasks["C"]):
            task.cancel()
        await asyncio.gather(c.tasks["B"], c.tasks["C"], return_exceptions=True)

    run(main())


def _cancel_caller(impl, times: int):
    """Cancel the task awaiting ``impl(...)`` once, or a second time while the children clean up."""

    async def main():
        c = Children()
        release = asyncio.Event()
        caller = asyncio.ensure_future(impl(c.child("A", cleanup_release=release), c.child("B", cleanup_release=release)))
        await c.until("A", "B", state="running")
        caller.cancel()
        await c.until("A", "B", state="cleaning")
        if times == 2:
            caller.cancel()
            await asyncio.sleep(0.01)
        release.set()
        try:
            await caller
            outcome = "returned"
        except asyncio.CancelledError:
            outcome = "CancelledError"
        return outcome, c.cancels, c.state, c.open

    return run(main())


def _assert_each_child_cancelled_once_and_cleaned_up(observed):
    outcome, cancels, state, still_open = observed
    assert outcome == "CancelledError"
    assert cancels == {"A": 1, "B": 1}
    assert state == {"A": "cancelled", "B": "cancelled"}
    assert still_open == set()


@pytest.mark.parametrize("times", [1, 2])
def test_caller_cancelled_during_cleanup_cancels_each_child_once(times):
    _assert_each_child_cancelled_once_and_cleaned_up(_cancel_caller(gather_cancel_on_error, times))


def test_negative_control_naive_guard_passes_single_cancel():
    _assert_each_child_cancelled_once_and_cleaned_up(_cancel_caller(naive_guard, 1))


def test_negative_control_naive_guard_fails_double_cancel():
    """The unshielded guard interrupts the children's cleanup with a second cancel: SPEC 4."""
    observed = _cancel_caller(naive_guard, 2)
    with pytest.raises(AssertionError):
        _assert_each_child_cancelled_once_and_cleaned_up(observed)
    assert observed[1] == {"A": 2, "B": 2}
    assert observed[2] == {"A": "cleanup interrupted", "B": "cleanup interrupted"}


def test_child_cancelled_by_third_party():
    async def main():
        c = Children()
        caller = asyncio.ensure_future(gather_cancel_on_error(c.child("A"), c.child("B"), c.child("C")))
        await c.until("A", "B", "C", state="running")
        c.tasks["B"].cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert c.running() == [] and c.open == set()
        assert c.cancels == {"A": 1, "B": 1, "C": 1}
        assert c.state == {"A": "cancelled", "B": "cancelled", "C": "cancelled"}

    run(main())


def test_sibling_raising_while_being_cancelled_keeps_the_original_exception():
    error = ValueError("boom")

    async def main():
        c = Children()
        with pytest.raises(ValueError) as raised:
            await gather_cancel_on_error(
                c.child("A", 0.01, error=error), c.child("B", cleanup_error=RuntimeError("cleanup failed"))
            )
        assert raised.value is error
        assert c.state == {"A": "failed", "B": "cleanup raised"}
        assert c.running() == [] and c.open == set()

    run(main())


def test_duplicated_awaitables_share_one_task():
    async def main():
        c = Children()
        shared = c.child("A", 0.01, "a")
        assert await gather_cancel_on_error(shared, shared) == ["a", "a"]
        assert c.cancels == {"A": 0}
        failing = c.child("D", 0.01, error=ValueError("dup"))
        with pytest.raises(ValueError, match="dup"):
            await gather_cancel_on_error(failing, failing, c.child("E"))
        assert c.state["E"] == "cancelled" and c.running() == []

    run(main())


def test_argument_that_is_not_awaitable_raises_like_gather_and_cancels_the_started():
    async def main():
        c = Children()
        with pytest.raises(TypeError):
            await asyncio.gather(c.child("X"), 42)
        with pytest.raises(TypeError):
            await gather_cancel_on_error(c.child("A"), 42)
        await asyncio.sleep(0.01)
        assert c.running() == ["X"]  # gather orphaned X; the helper cancelled A before it started
        c.tasks["X"].cancel()
        await asyncio.gather(c.tasks["X"], return_exceptions=True)

    run(main())


def test_no_arguments_returns_an_empty_list():
    assert run(gather_cancel_on_error()) == []
