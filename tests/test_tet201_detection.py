"""TET201 detection details that fixtures cannot show: findings reported without a fix
(children possibly shared with other code), and the fix forms and messages offered per target."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest

from tether.config import Settings
from tether.engine import analyse

TASKGROUP = replace(Settings(), style="taskgroup", unsafe_fixes=True, target_version=(3, 11))


def findings(body: str, settings: Settings = Settings()):
    source = "import asyncio\n\n\nasync def f(): ...\n\n\n" + textwrap.dedent(body)
    _, found = analyse(source, "case.py", settings)
    return [f for f in found if f.code == "TET201"]


@pytest.mark.parametrize(
    "body, shared",
    [
        ("class C:\n    async def run(self):\n        await asyncio.gather(self.reader, f())\n", "self.reader"),
        ("async def run(task):\n    await asyncio.gather(task, f())\n", "task"),
        ("async def run(tasks):\n    await asyncio.gather(*tasks)\n", "tasks"),
        ("async def run(futures):\n    await asyncio.gather(futures[0], f())\n", "futures[0]"),
        ("async def run(futures):\n    await asyncio.gather(futures.get('a'), f())\n", "futures.get('a')"),
        ("class C:\n    async def run(self):\n        await asyncio.gather(self._pending.pop(), f())\n", "self._pending.pop()"),
        ("async def run(fut):\n    await asyncio.gather(fut.result(), f())\n", "fut.result()"),
        ("async def run(d):\n    await asyncio.gather(*d.values())\n", "d.values()"),
        ("async def run(fut):\n    await asyncio.gather(asyncio.ensure_future(fut), f())\n", "fut"),
        ("async def run(pending):\n    await asyncio.gather(*[t for t in pending])\n", "t"),
        ("async def run():\n    await asyncio.gather(*map(asyncio.ensure_future, FUTS))\n", "map(asyncio.ensure_future, FUTS)"),
        ("WORKER = None\n\nasync def run():\n    await asyncio.gather(WORKER, f())\n", "WORKER"),
        (  # a task also awaited elsewhere
            "async def run():\n    t = asyncio.create_task(f())\n    await asyncio.gather(t, f())\n    print(t.result())\n",
            "t",
        ),
        (  # a task list also handed to someone else
            "async def run(registry):\n    tasks = []\n    tasks.append(asyncio.create_task(f()))\n"
            "    registry.track(tasks)\n    await asyncio.gather(*tasks)\n",
            "tasks",
        ),
        (  # a task list with a shared element
            "async def run(other):\n    tasks = [asyncio.create_task(f())]\n    tasks.append(other)\n"
            "    await asyncio.gather(*tasks)\n",
            "tasks",
        ),
        (  # rebound from somewhere else
            "async def run(make):\n    t = asyncio.create_task(f())\n    for t in make():\n        pass\n"
            "    await asyncio.gather(t, f())\n",
            "t",
        ),
        ("async def run():\n    await asyncio.gather(*TASKS)\n", "TASKS"),
        # an owned list whose truth is tested stays shared once any other read can hand it on
        ("async def run(xs, log):\n    tasks = [f() for x in xs]\n    if tasks:\n        log(tasks)\n"
         "        await asyncio.gather(*tasks)\n", "tasks"),
        ("async def run(xs):\n    tasks = [f() for x in xs]\n    while tasks:\n        await asyncio.gather(*tasks)\n"
         "        tasks = []\n", "tasks"),
        ("async def run(xs):\n    tasks = [f() for x in xs]\n    kept = tasks or None\n    if kept:\n"
         "        await asyncio.gather(*tasks)\n", "tasks"),
        ("async def run(xs):\n    tasks = [f() for x in xs]\n    if tasks and tasks[0]:\n"
         "        await asyncio.gather(*tasks)\n", "tasks"),
        ("async def run(xs, pending):\n    tasks = [f() for x in xs]\n    tasks += pending\n"
         "    await asyncio.gather(*tasks)\n", "tasks"),
        ("async def run(xs):\n    tasks = [f() for x in xs]\n    tasks *= 2\n    await asyncio.gather(*tasks)\n", "tasks"),
        ("async def run(pending):\n    tasks = [f()] + pending\n    await asyncio.gather(*tasks)\n", "tasks"),
        ("async def run(xs):\n    keep = (tasks := [f() for x in xs])\n    await asyncio.gather(*tasks)\n"
         "    return keep\n", "tasks"),
        ("async def run(x, pending):\n    await asyncio.gather(f() if x else pending, f())\n", "pending"),
        ("async def run(xs):\n    d = {x: f() for x in xs}\n    await asyncio.gather(*d.values())\n    return d['a']\n",
         "d.values()"),
        ("async def run(xs):\n    d = {x: f() for x in xs}\n    await asyncio.gather(*d.values())\n"
         "    return list(d.items())\n", "d.values()"),
        ("async def run(pending):\n    d = {'a': f(), **pending}\n    await asyncio.gather(*d.values())\n", "d.values()"),
        ("async def run(xs, t):\n    d = {x: f() for x in xs}\n    d['t'] = t\n    await asyncio.gather(*d.values())\n",
         "d.values()"),
        ("async def run(xs):\n    t = asyncio.ensure_future(f())\n    d = {t: f()}\n    d['x'] = t\n"
         "    await asyncio.gather(*d.values())\n", "d.values()"),
        ("async def run(xs, other):\n    d = {x: f() for x in xs}\n    other in d in other\n"
         "    await asyncio.gather(*d.values())\n", "d.values()"),
    ],
)
def test_shared_children_are_reported_without_a_fix(body, shared):
    (finding,) = findings(body, TASKGROUP)
    assert finding.fixes == ()
    assert f"`{shared}` may be shared with other code" in finding.message


def test_an_unknown_keyword_is_reported_without_a_fix():
    (finding,) = findings("async def run(loop):\n    await asyncio.gather(f(), f(), loop=loop)\n")
    assert finding.fixes == () and "`loop=`" in finding.message


@pytest.mark.parametrize(
    "body",
    [
        "async def run():\n    t = asyncio.create_task(f())\n    await asyncio.gather(t, f())\n",
        "async def run():\n    c = f()\n    await asyncio.gather(c, c)\n",
        "async def run(xs):\n    tasks = []\n    for x in xs:\n        tasks.append(f())\n    print(len(tasks))\n    await asyncio.gather(*tasks)\n",
        "async def run(xs):\n    coros = [f() for x in xs]\n    await asyncio.gather(*coros[:10])\n    await asyncio.gather(*coros[10:])\n",
        "async def run(xs):\n    await asyncio.gather(*[asyncio.ensure_future(f()) for x in xs])\n",
        "async def run(xs):\n    await asyncio.gather(*[f(), f()])\n",
        "async def run(client, urls):\n    await asyncio.gather(*[client.get(url) for url in urls])\n",
        # owned lists read only for their truth or size, grown by +=, concatenated, walrus-bound
        "async def run(xs):\n    tasks = [f() for x in xs]\n    if tasks:\n        await asyncio.gather(*tasks)\n",
        "async def run(xs):\n    tasks = []\n    for x in xs:\n        tasks.append(f())\n    if not tasks:\n"
        "        return\n    await asyncio.gather(*tasks)\n",
        "async def run(xs):\n    tasks = [f() for x in xs]\n    if len(tasks) > 1 or not (xs and tasks):\n"
        "        await asyncio.gather(*tasks)\n",
        "async def run(xs):\n    tasks = [f() for x in xs]\n    tasks += [f()]\n    tasks += (f() for x in xs)\n"
        "    await asyncio.gather(*tasks)\n",
        "async def run(xs):\n    tasks = [f()] + [f() for x in xs] + [f()]\n    await asyncio.gather(*tasks)\n",
        "async def run(xs):\n    if tasks := [f() for x in xs]:\n        await asyncio.gather(*tasks)\n",
        "async def run(xs, ys):\n    a = [f() for x in xs]\n    b = [f() for y in ys]\n    if a or b:\n"
        "        await asyncio.gather(*a, *b)\n",
        "async def run(xs):\n    await asyncio.gather(*[f() if x else f() for x in xs])\n",
        # a local dict of fresh calls gathered by its values, otherwise read only for its keys
        "async def run(xs):\n    d = {'a': f(), 'b': f()}\n    if xs:\n        d['c'] = f()\n"
        "    results = await asyncio.gather(*d.values())\n    return dict(zip(d, results, strict=True))\n",
        "async def run(xs):\n    d = {x: f() for x in xs}\n    if d and 'a' in d and len(d) > 1:\n"
        "        await asyncio.gather(*d.values())\n    for k in d.keys():\n        print(k)\n"
        "    return [k for k in d]\n",
    ],
)
def test_fresh_children_get_the_safe_helper_fix(body):
    found = findings(body)
    assert found
    for finding in found:
        chosen = finding.choose_fix(False, "guard")
        assert chosen is not None and chosen.is_safe and chosen.plan[0] == "helper"
        assert "_gather_cancel_on_error" in finding.message


def test_taskgroup_fix_is_offered_first_and_named_in_the_message_with_the_bug_warning():
    (finding,) = findings("async def run():\n    x = await asyncio.gather(f(), f())\n", TASKGROUP)
    taskgroup, helper = finding.fixes
    assert (taskgroup.applicability, taskgroup.style, helper.applicability) == ("unsafe", "taskgroup", "safe")
    assert "ExceptionGroup" in taskgroup.title and "3.11/3.12 has known bugs" in taskgroup.title
    assert "TaskGroup" in finding.message and "ExceptionGroup" in finding.message and "3.11/3.12" in finding.message
    assert finding.choose_fix(False, "taskgroup") is helper  # without --unsafe-fixes the helper applies


def test_taskgroup_on_313_has_no_bug_warning_and_is_not_offered_before_311():
    body = "async def run():\n    x = await asyncio.gather(f(), f())\n"
    (finding,) = findings(body, replace(TASKGROUP, target_version=(3, 13)))
    assert "ExceptionGroup" in finding.fixes[0].title and "known bugs" not in finding.fixes[0].title
    assert "known bugs" not in finding.message
    (finding,) = findings(body, replace(TASKGROUP, target_version=(3, 10)))
    assert [fix.is_safe for fix in finding.fixes] == [True]


def test_guard_style_message_names_the_helper_even_when_taskgroup_is_possible():
    (finding,) = findings("async def run():\n    x = await asyncio.gather(f(), f())\n")
    assert "_gather_cancel_on_error" in finding.message and "TaskGroup" not in finding.message


def test_a_task_bound_to_a_name_and_appended_is_fresh():
    body = (
        "async def run(loop):\n    tasks = []\n    for i in range(3):\n        task = loop.create_task(f())\n"
        "        tasks.append(task)\n    await asyncio.gather(*tasks)\n"
    )
    (finding,) = findings(body)
    assert finding.choose_fix(False, "guard").is_safe
    (finding,) = findings(body.replace("    await asyncio.gather", "    task.cancel()\n    await asyncio.gather"))
    assert finding.fixes == ()  # the last task is also used on its own
