"""TET201 on owned lists and dicts the sharing analysis now accepts, proved by running: a list
tested with ``if tasks:`` and grown with ``+=`` (the Home Assistant shape), a concatenation of
fresh lists, a walrus-bound list and a dict of fresh calls gathered by its values.

Before the fix a failing child leaves its siblings running when the caller sees the error;
after it none is left running, and the exception (type and message) and the results on the
success path are exactly those of ``gather``.
"""

from __future__ import annotations

import sys
from functools import lru_cache

import pytest

from behaviour import fix_source, other_pythons, run_program

PROGRAM = '''
import asyncio

state = {}


async def child(name, fail=False, value=None):
    state[name] = "running"
    try:
        await asyncio.sleep(0.01 if fail else 10.0 if FAILING else 0.01)
        if fail:
            state[name] = "failed"
            raise ValueError("boom " + name)
        state[name] = "done"
        return value
    except asyncio.CancelledError:
        state[name] = "cancelled"
        raise


class Sensors:
    async def process(self, old, new, failing=None):
        tasks = [child("pair " + uid, uid == failing, uid) for uid in sorted(new - old)]
        tasks += [child("unpair " + uid, uid == failing, uid) for uid in sorted(old - new)]

        if tasks:
            return await asyncio.gather(*tasks)
        return "nothing to do"


async def concatenated(failing=None):
    tasks = [child("statuses", failing == "statuses", 0)] + [
        child("bed " + str(i), failing == str(i), i) for i in range(3)
    ]
    return await asyncio.gather(*tasks)


async def walrus(names, failing=None):
    if tasks := [child("update " + name, name == failing, name) for name in names]:
        return await asyncio.gather(*tasks)
    return "no entities"


async def refresh(failing=None):
    data = {}
    updates = {"info": child("info", failing == "info", "i"), "core": child("core", failing == "core", "c")}
    if not failing or len(updates) > 1:
        updates["stats"] = child("stats", failing == "stats", "s")
    results = await asyncio.gather(*updates.values())
    for key, result in zip(updates, results):
        data[key] = result
    return sorted(data.items())


async def scenario(call):
    state.clear()
    try:
        print("result", await call())
    except Exception as exc:
        print("caught", type(exc).__name__, str(exc))
    print("running", sorted(name for name, s in state.items() if s == "running"))
    print("states", sorted(state.items()))


sensors = Sensors()
SCENARIOS = [
    ("b", lambda failing: sensors.process({"a", "x", "y"}, {"a", "b", "c"}, failing)),
    (None, lambda failing: sensors.process({"a"}, {"a"}, failing)),
    ("statuses", concatenated),
    ("y", lambda failing: walrus(["x", "y", "z"], failing)),
    (None, lambda failing: walrus([], failing)),
    ("core", refresh),
]
for fails in (False, True):
    print("==", "fails" if fails else "succeeds")
    for failing, call in SCENARIOS:
        FAILING = fails and failing is not None  # the others' children outlive the failure
        asyncio.run(scenario(lambda: call(failing if FAILING else None)))
'''

PYTHONS = [sys.executable, *other_pythons()]


@lru_cache(maxsize=None)
def fixed() -> str:
    return fix_source(PROGRAM)


@lru_cache(maxsize=None)
def sections(source: str, python: str) -> dict[str, list[str]]:
    run = run_program(source, python)
    assert run.returncode == 0, run.stderr
    found: dict[str, list[str]] = {}
    for line in run.lines:
        if line.startswith("== "):
            current = found[line[3:]] = []
        else:
            current.append(line)
    return found


def test_every_owned_shape_gets_the_helper():
    source = fixed()
    assert source.count("await _gather_cancel_on_error(") == 4
    assert "asyncio.gather(" not in source.split("class Sensors", 1)[1]


@pytest.mark.parametrize("python", PYTHONS)
def test_success_path_identical(python):
    before, after = sections(PROGRAM, python)["succeeds"], sections(fixed(), python)["succeeds"]
    assert before == after
    assert [line for line in after if line.startswith("result")] == [
        "result ['b', 'c', 'x', 'y']",
        "result nothing to do",
        "result [0, 0, 1, 2]",
        "result ['x', 'y', 'z']",
        "result no entities",
        "result [('core', 'c'), ('info', 'i'), ('stats', 's')]",
    ]
    assert after.count("running []") == 6


@pytest.mark.parametrize("python", PYTHONS)
def test_a_failing_child_leaves_siblings_running_before_and_none_after(python):
    before, after = sections(PROGRAM, python)["fails"], sections(fixed(), python)["fails"]
    # the same outcome reaches the caller: the same exception (type and message), or results
    assert [line for line in before if not line.startswith(("running", "states"))] == [
        line for line in after if not line.startswith(("running", "states"))
    ] == [
        "caught ValueError boom pair b",
        "result nothing to do",
        "caught ValueError boom statuses",
        "caught ValueError boom update y",
        "result no entities",
        "caught ValueError boom core",
    ]
    # at that moment plain gather has left the siblings running; the fix has cancelled them all
    assert [line for line in before if line.startswith("running")] == [
        "running ['pair c', 'unpair x', 'unpair y']",
        "running []",
        "running ['bed 0', 'bed 1', 'bed 2']",
        "running ['update x', 'update z']",
        "running []",
        "running ['info', 'stats']",
    ]
    assert after.count("running []") == 6
    assert "states [('pair b', 'failed'), ('pair c', 'cancelled'), ('unpair x', 'cancelled'), ('unpair y', 'cancelled')]" in after
    assert "states [('core', 'failed'), ('info', 'cancelled'), ('stats', 'cancelled')]" in after
