"""The byte prefilter may reject a file only if no rule can fire on it."""

from __future__ import annotations

import pytest

from tether.config import Settings
from tether.engine import analyse, build_prefilter, passes_prefilter
from tether.prefilter import Prefilter, contains_token
from tether.rule import Rule


@pytest.mark.parametrize(
    "data, token, expected",
    [
        (b"asyncio.create_task(f())", b"create_task", True),
        (b"from asyncio import create_task as ct", b"create_task", True),
        (b"create_task", b"create_task", True),
        (b"hass.async_create_task(f())", b"create_task", False),
        (b"self.create_tasks()", b"create_task", False),
        (b"x = 1  # see async_create_task and create_task_later", b"create_task", False),
        (b"async_create_task(); loop.create_task(x)", b"create_task", True),
        (b"await x", b"wait", False),
        (b"asyncio.wait(x)", b"wait", True),
        (b"asyncio.Task(coro)", b"Task(", True),
        (b"MyTask(coro)", b"Task(", False),
        (b"(Task(coro))", b"Task(", True),
    ],
)
def test_triggers_match_whole_names(data, token, expected):
    assert contains_token(data, token) is expected
    assert contains_token(data.decode(), token.decode()) is expected


def test_non_ascii_neighbours_only_ever_let_more_through():
    assert contains_token("é.create_task(x)".encode(), b"create_task")


class _Fake(Rule):
    code = "TET999"
    triggers = (b"gather",)
    trigger_pattern = rb"\bgather\s*\("


class _Anywhere(Rule):
    code = "TET998"


def test_trigger_pattern_is_a_second_test():
    prefilter = Prefilter([_Fake()])
    assert prefilter(b"await asyncio.gather (a(), b())")
    assert not prefilter(b"from asyncio import gather")
    assert _Fake().may_fire_on(b"gather(x)") and not _Fake().may_fire_on(b"gathered(x)")


def test_a_rule_without_triggers_lets_every_file_through():
    assert Prefilter([_Fake(), _Anywhere()])(b"x = 1\n")


def test_extra_spawners_are_triggers():
    settings = Settings(extra_spawners=("app.tasks.spawn",))
    prefilter = build_prefilter(settings)
    assert passes_prefilter(b"from app.tasks import spawn\nspawn(job())\n", prefilter)
    assert not passes_prefilter(b"respawn(job())\n", prefilter)
    assert not passes_prefilter(b"x = 1\n", build_prefilter(Settings()))


def test_prefilter_survives_pickling_for_workers():
    import pickle

    prefilter = pickle.loads(pickle.dumps(Prefilter([_Fake()])))
    assert prefilter(b"gather(a)") and not prefilter(b"gathering")


def test_findings_do_not_depend_on_other_rules_letting_the_file_through():
    # the per-rule test on decoded text uses the same whole-name semantics as the byte test
    text = "import asyncio\n\nasync def f(hass):\n    hass.async_create_task(f(hass))\n"
    _, findings = analyse(text, "x.py", Settings())
    assert findings == []
