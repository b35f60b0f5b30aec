"""The byte prefilter may reject a file only if no rule can fire on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tether.analysis import ModuleInfo, parse_module
from tether.config import Settings
from tether.engine import analyse, build_prefilter, passes_prefilter, rule_may_fire
from tether.registry import all_rules
from tether.source import decode_bytes
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


class _NeedsAsyncio(Rule):
    code = "TET997"
    triggers = (b"create_task", b"gather")
    asyncio_triggers = (b"gather",)


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"from db import gather\nawait gather(q)\n", False),  # somebody else's gather
        (b"import asyncio\nawait asyncio.gather(a(), b())\n", True),
        (b"from asyncio import gather as g\nawait g(a())\n", True),
        (b"self._loop.create_task(job())\n", True),  # needs no import of asyncio
    ],
)
def test_asyncio_triggers_count_only_where_asyncio_is_named(data, expected):
    assert Prefilter([_NeedsAsyncio()])(data) is expected
    assert rule_may_fire(_NeedsAsyncio(), data.decode(), Settings()) is expected


def test_rules_sharing_triggers_are_searched_once():
    from tether.engine import enabled_rules

    prefilter = build_prefilter(Settings())
    assert len(prefilter.groups) == len(set(prefilter.groups)) < len(enabled_rules(Settings()))


def _before_files():
    root = Path(__file__).resolve().parent.parent / "fixtures"
    return sorted(root.glob("TET*/*.before.py"))


@pytest.mark.parametrize("path", _before_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_prefilter_lets_through_every_fixture_a_rule_reports_on(path):
    """Soundness against every fixture: run each rule with no prefilter at all, and wherever
    it reports something, both the byte prefilter and the per-rule test must have said yes."""
    data = path.read_bytes()
    text = decode_bytes(data, str(path)).text
    settings = Settings()
    module = ModuleInfo(text, parse_module(text, str(path)))
    reported = False
    for rule in all_rules():
        if list(rule.check(module, settings)):
            reported = True
            assert rule.may_fire_on(data), rule.code
            assert rule_may_fire(rule, text, settings), rule.code
    if reported:
        assert passes_prefilter(data, build_prefilter(settings))
