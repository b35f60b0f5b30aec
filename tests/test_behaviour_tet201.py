"""TET201 proved by running: the same programs before and after each fix form, on every local
CPython where that form can run (the helper on all, TaskGroup on 3.11+).

Each scenario runs in its own ``asyncio.run`` and prints what it observes at the moment the
caller sees the outcome: values, the exception (type and message), which children are still
running, which resources are still open, how often each child was cancelled. The before run
shows the orphans; the after runs must show none, with everything else unchanged (helper) or
changed only as the unsafe TaskGroup form documents (ExceptionGroup).
"""

from __future__ import annotations

import subprocess
import sys
from functools import lru_cache

import pytest

from behaviour import fix_source, other_pythons, run_program

PROGRAM = '''
import asyncio
import builtins


class Children:
    """Children that record their fate: state, cancellations, open resources, finishing order."""

    def __init__(self):
        self.state = {}
        self.cancels = {}
        self.tasks = {}
        self.open = set()
        self.finished = []
        self.events = {}

    def done(self, name):
        """An event set when child ``name`` returns: orders children without timing."""
        if name not in self.events:
            self.events[name] = asyncio.Event()
        return self.events[name]

    async def child(self, name, delay=10.0, value=None, error=None, cleanup=0.05, cleanup_error=None, after=None, release=None, cleanup_release=None):
        self.state[name] = "running"
        self.cancels[name] = 0
        self.tasks[name] = asyncio.current_task()
        self.open.add(name)
        try:
            if after is not None:
                await self.done(after).wait()
            elif release is not None:
                await release.wait()
            else:
                await asyncio.sleep(delay)
            if error is not None:
                self.state[name] = "failed"
                raise error
            self.state[name] = "done"
            self.finished.append(name)
            self.done(name).set()
            return value
        except asyncio.CancelledError:
            self.cancels[name] += 1
            self.state[name] = "cleaning"
            try:
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

    def running(self):
        return sorted(n for n, s in self.state.items() if s in ("running", "cleaning"))

    def report(self):
        print("running", self.running())
        print("open", sorted(self.open))
        print("states", sorted(self.state.items()))
        print("cancels", sorted(self.cancels.items()))


def describe(exc):
    group = getattr(builtins, "BaseExceptionGroup", ())
    if group and isinstance(exc, group):
        return "ExceptionGroup" + repr(sorted(describe(e) for e in exc.exceptions))
    return type(exc).__name__ + "(" + repr(str(exc)) + ")"


async def square(i):
    await asyncio.sleep(0.01 * (5 - i))
    return i * i


async def returned(c):
    return await asyncio.gather(*(c.child(name, after=previous, value=name.lower()) for name, previous in [("H", "G"), ("I", "H")]))


async def success():
    c = Children()
    values = await asyncio.gather(c.child("A", after="C", value=1), c.child("B", 0, 2), c.child("C", after="B", value=3))
    print("values", values, type(values).__name__)
    first, second = await asyncio.gather(c.child("D", after="E", value="d"), c.child("E", 0, "e"))
    print("unpacked", first, second)
    squares = await asyncio.gather(*[square(i) for i in range(5)])
    print("squares", squares)
    await asyncio.gather(c.child("F", after="G"), c.child("G", 0))
    print("returned", await returned(c))
    print("finishing order", c.finished)


async def one_fails():
    c = Children()
    try:
        await asyncio.gather(c.child("A", 0.01, error=ValueError("boom")), c.child("B"), c.child("C"))
    except Exception as exc:
        print("caught", describe(exc))
    c.report()


async def cancelled_caller(times):
    c = Children()
    cleanup_release = asyncio.Event()

    async def caller():
        await asyncio.gather(c.child("A", cleanup_release=cleanup_release), c.child("B", cleanup_release=cleanup_release))

    task = asyncio.ensure_future(caller())
    await c.until("A", "B", state="running")
    task.cancel()
    await c.until("A", "B", state="cleaning")
    if times == 2:
        task.cancel()  # while the children clean up
        await asyncio.sleep(0.01)
    cleanup_release.set()
    try:
        await task
        print("caller returned")
    except asyncio.CancelledError:
        print("caller got CancelledError")
    c.report()


async def third_party():
    c = Children()
    release = asyncio.Event()
    reported = asyncio.Event()

    async def caller():
        try:
            await asyncio.gather(c.child("A", release=release, value="a"), c.child("B"), c.child("C", release=release, value="c"))
        except BaseException as exc:
            print("caught", describe(exc))
        c.report()
        reported.set()

    task = asyncio.ensure_future(caller())
    await c.until("A", "B", "C", state="running")
    c.tasks["B"].cancel()
    # A and C run until the caller has seen the outcome (a TaskGroup waits for them: 1 s)
    try:
        await asyncio.wait_for(reported.wait(), 1)
    except asyncio.TimeoutError:
        pass
    release.set()
    await task


async def sibling_raises():
    c = Children()
    try:
        await asyncio.gather(c.child("A", 0.01, error=ValueError("boom")), c.child("B", cleanup_error=RuntimeError("cleanup failed")))
    except Exception as exc:
        print("caught", describe(exc))
    c.report()


async def duplicated():
    c = Children()
    shared = c.child("A", 0.01, "a")
    print("pair", await asyncio.gather(shared, shared))
    failing = c.child("D", 0.01, error=ValueError("dup"))
    try:
        await asyncio.gather(failing, failing, c.child("E"))
    except Exception as exc:
        print("caught", describe(exc))
    c.report()


for scenario, args in [
    (success, ()),
    (one_fails, ()),
    (cancelled_caller, (1,)),
    (cancelled_caller, (2,)),
    (third_party, ()),
    (sibling_raises, ()),
    (duplicated, ()),
]:
    print("==", scenario.__name__, *args)
    asyncio.run(scenario(*args))
'''

TASKGROUP = ("--unsafe-fixes", "--style", "taskgroup", "--target-version", "py311")
PYTHONS = [sys.executable, *other_pythons()]


@lru_cache(maxsize=None)
def fixed(*options: str) -> str:
    source = fix_source(PROGRAM, *options)
    assert source != PROGRAM
    return source


@lru_cache(maxsize=None)
def version(python: str) -> tuple[int, int]:
    out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True)
    major, minor = out.stdout.split()
    return int(major), int(minor)


@lru_cache(maxsize=None)
def transcript(source: str, python: str) -> dict[str, list[str]]:
    run = run_program(source, python)
    assert run.returncode == 0, run.stderr
    sections: dict[str, list[str]] = {}
    current = None
    for line in run.lines:
        if line.startswith("== "):
            current = line[3:]
            sections[current] = []
        else:
            sections[current].append(line)
    sections["stderr"] = run.stderr.splitlines()
    return sections


def states(**states: str) -> str:
    return "states " + repr(sorted(states.items()))


def cancels(**counts: int) -> str:
    return "cancels " + repr(sorted(counts.items()))


def test_the_fixes_rewrite_what_the_scenarios_exercise():
    helper = fixed()
    assert helper.count("await _gather_cancel_on_error(") == 11
    assert "asyncio.gather(" not in helper.split("async def square", 1)[1]
    taskgroup = fixed(*TASKGROUP)
    assert taskgroup.count("async with asyncio.TaskGroup() as tg:") == 9
    # gathers of shared names or in expression context keep the safe helper
    assert "print(\"pair\", await _gather_cancel_on_error(shared, shared))" in taskgroup
    assert "await _gather_cancel_on_error(failing, failing, c.child(\"E\"))" in taskgroup


@pytest.mark.parametrize("python", PYTHONS)
class TestHelperForm:
    def before_after(self, python):
        return transcript(PROGRAM, python), transcript(fixed(), python)

    def test_success_path_identical(self, python):
        before, after = self.before_after(python)
        assert before["success"] == after["success"] == [
            "values [1, 2, 3] list",
            "unpacked d e",
            "squares [0, 1, 4, 9, 16]",
            "returned ['h', 'i']",
            "finishing order ['B', 'C', 'A', 'E', 'D', 'G', 'F', 'H', 'I']",
        ]

    def test_one_child_fails_siblings_cancelled_and_finished_before_it_surfaces(self, python):
        before, after = self.before_after(python)
        assert before["one_fails"][0] == after["one_fails"][0] == "caught ValueError('boom')"
        assert before["one_fails"][1:3] == ["running ['B', 'C']", "open ['B', 'C']"]
        assert after["one_fails"][1:] == [
            "running []",
            "open []",
            states(A="failed", B="cancelled", C="cancelled"),
            cancels(A=0, B=1, C=1),
        ]

    def test_caller_cancelled_once(self, python):
        before, after = self.before_after(python)
        expected = [
            "caller got CancelledError",
            "running []",
            "open []",
            states(A="cancelled", B="cancelled"),
            cancels(A=1, B=1),
        ]
        assert before["cancelled_caller 1"] == after["cancelled_caller 1"] == expected

    def test_caller_cancelled_twice_during_cleanup_cancels_each_child_once(self, python):
        before, after = self.before_after(python)
        # plain gather forwards the second cancel to the children and interrupts their cleanup
        assert before["cancelled_caller 2"][3:] == [
            states(A="cleanup interrupted", B="cleanup interrupted"),
            cancels(A=2, B=2),
        ]
        assert after["cancelled_caller 2"] == [
            "caller got CancelledError",
            "running []",
            "open []",
            states(A="cancelled", B="cancelled"),
            cancels(A=1, B=1),
        ]

    def test_child_cancelled_by_third_party(self, python):
        before, after = self.before_after(python)
        assert before["third_party"][0] == after["third_party"][0] == "caught CancelledError('')"
        assert before["third_party"][1] == "running ['A', 'C']"
        assert after["third_party"][1:4] == [
            "running []",
            "open []",
            states(A="cancelled", B="cancelled", C="cancelled"),
        ]

    def test_sibling_raising_while_being_cancelled(self, python):
        before, after = self.before_after(python)
        assert before["sibling_raises"][0] == after["sibling_raises"][0] == "caught ValueError('boom')"
        assert before["sibling_raises"][1] == "running ['B']"
        assert after["sibling_raises"][1:4] == ["running []", "open []", states(A="failed", B="cleanup raised")]

    def test_duplicated_awaitables(self, python):
        before, after = self.before_after(python)
        assert before["duplicated"][:2] == after["duplicated"][:2] == ["pair ['a', 'a']", "caught ValueError('dup')"]
        assert before["duplicated"][2] == "running ['E']"
        assert after["duplicated"][2:4] == ["running []", "open []"]


TASKGROUP_PYTHONS = [p for p in PYTHONS if version(p) >= (3, 11)]


@pytest.mark.parametrize("python", TASKGROUP_PYTHONS)
class TestTaskGroupForm:
    """The unsafe form: no orphans either, but failures arrive as an ExceptionGroup."""

    def before_after(self, python):
        return transcript(PROGRAM, python), transcript(fixed(*TASKGROUP), python)

    def test_success_path_identical(self, python):
        before, after = self.before_after(python)
        assert before["success"] == after["success"]

    def test_one_child_fails(self, python):
        _, after = self.before_after(python)
        assert after["one_fails"] == [
            "caught ExceptionGroup[\"ValueError('boom')\"]",
            "running []",
            "open []",
            states(A="failed", B="cancelled", C="cancelled"),
            cancels(A=0, B=1, C=1),
        ]

    @pytest.mark.parametrize("times", [1, 2])
    def test_caller_cancelled(self, python, times):
        _, after = self.before_after(python)
        assert after[f"cancelled_caller {times}"] == [
            "caller got CancelledError",
            "running []",
            "open []",
            states(A="cancelled", B="cancelled"),
            cancels(A=1, B=1),
        ]

    def test_child_cancelled_by_third_party_lets_the_others_finish(self, python):
        _, after = self.before_after(python)
        # the results are discarded, so nothing asks for B's result: the cancel is not raised
        assert after["third_party"][:2] == ["running []", "open []"]
        assert after["third_party"][2] == states(A="done", B="cancelled", C="done")

    def test_sibling_raising_while_being_cancelled_joins_the_group(self, python):
        _, after = self.before_after(python)
        assert after["sibling_raises"][:3] == [
            "caught ExceptionGroup[\"RuntimeError('cleanup failed')\", \"ValueError('boom')\"]",
            "running []",
            "open []",
        ]

    def test_duplicated_awaitables_keep_the_helper(self, python):
        before, after = self.before_after(python)
        assert after["duplicated"][:4] == ["pair ['a', 'a']", "caught ValueError('dup')", "running []", "open []"]


ACCEPTANCE = '''
import asyncio
import os
import tempfile

OPENED = []


async def read_records(path):
    with open(path) as handle:
        OPENED.append(handle)
        records = []
        for line in handle:
            await asyncio.sleep(0.01)  # slow storage
            if line.startswith("corrupt"):
                raise ValueError("corrupt record in " + os.path.basename(path))
            records.append(line.strip())
        return records


async def read_all(paths):
    return await asyncio.gather(*[read_records(path) for path in paths])


async def main():
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for index in range(5):
            path = os.path.join(tmp, "part%d.txt" % index)
            with open(path, "w") as out:
                for line in range(20):
                    out.write("corrupt\\n" if (index, line) == (2, 3) else "record %d\\n" % line)
            paths.append(path)
        try:
            await read_all(paths)
        except ValueError as exc:
            print("error:", type(exc).__name__, exc)
            print("files opened:", len(OPENED))
            print("files still open:", sum(not handle.closed for handle in OPENED))
            print("tasks still running:", len(asyncio.all_tasks()) - 1)


asyncio.run(main())
'''


@pytest.mark.parametrize("python", PYTHONS)
def test_acceptance_reading_files_concurrently_closes_every_file_after_one_fails(python):
    """Issue 3's acceptance: `tether fix` alone; same exception type; no open file, no task left."""
    fixed_source = _acceptance_fixed()
    before = run_program(ACCEPTANCE, python)
    after = run_program(fixed_source, python)
    assert before.returncode == after.returncode == 0, (before.stderr, after.stderr)
    assert before.lines == [
        "error: ValueError corrupt record in part2.txt",
        "files opened: 5",
        "files still open: 4",
        "tasks still running: 4",
    ]
    assert after.lines == [
        "error: ValueError corrupt record in part2.txt",
        "files opened: 5",
        "files still open: 0",
        "tasks still running: 0",
    ]


@lru_cache(maxsize=None)
def _acceptance_fixed() -> str:
    return fix_source(ACCEPTANCE)
