"""What TET202/TET203 decide that a fixture cannot show: findings that carry no fix, which
safety class a loop gets, and how the two rules share their helper in one module."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest

from tether.config import Settings
from tether.engine import analyse, fix_text
from tether.model import SAFE, UNSAFE

SETTINGS = Settings()


def findings(source: str, code: str, settings: Settings = SETTINGS):
    _, found = analyse(textwrap.dedent(source), "case.py", settings)
    return [f for f in found if f.code == code]


def only(source: str, code: str):
    found = findings(source, code)
    assert len(found) == 1, found
    return found[0]


LOOP = """
import asyncio


async def run(jobs, flag):
    for fut in asyncio.as_completed([job() for job in jobs]{extra}):
{body}
"""


def loop_finding(body: str, extra: str = ""):
    return only(LOOP.format(extra=extra, body=textwrap.indent(textwrap.dedent(body), " " * 8)), "TET203")


@pytest.mark.parametrize(
    "body, extra, applicability",
    [
        ("print(await fut)", "", SAFE),
        ("value = await fut\nif value is None:\n    raise LookupError(value)", "", SAFE),
        ("try:\n    print(await fut)\nexcept KeyError:\n    pass", "", SAFE),
        ("print('next')\nx = await fut", "", SAFE),
        ("print(await fut)", ", timeout=3", SAFE),
        ("print(await fut)\nif flag:\n    break", "", UNSAFE),
        ("if await fut:\n    return 1", "", UNSAFE),
        ("if flag:\n    continue\nprint(await fut)", "", UNSAFE),
        ("print(flag and await fut)", "", UNSAFE),
        ("try:\n    print(await fut)\nexcept Exception:\n    pass\nif flag:\n    break", "", UNSAFE),
        # the TimeoutError is caught in the loop: the loop can end normally with tasks pending
        ("try:\n    print(await fut)\nexcept asyncio.TimeoutError:\n    pass", ", timeout=3", UNSAFE),
    ],
)
def test_tet203_safety_class(body, extra, applicability):
    finding = loop_finding(body, extra)
    assert [fix.applicability for fix in finding.fixes] == [applicability]


def test_tet203_break_in_inner_loop_is_not_an_exit():
    finding = loop_finding("print(await fut)\nfor x in flag:\n    break")
    assert [fix.applicability for fix in finding.fixes] == [SAFE]


def test_tet203_break_in_inner_loop_else_is_an_exit():
    finding = loop_finding("print(await fut)\nfor x in flag:\n    pass\nelse:\n    break")
    assert [fix.applicability for fix in finding.fixes] == [UNSAFE]
    assert "`break`" in finding.message


def test_tet203_no_finding_when_every_failure_is_caught_and_nothing_exits():
    assert findings(LOOP.format(extra="", body="        try:\n            await fut\n        except BaseException:\n            pass\n"), "TET203") == []


def test_tet203_task_list_used_after_the_loop_gets_no_fix():
    finding = only(
        """
        import asyncio


        async def run(jobs):
            tasks = [asyncio.create_task(job()) for job in jobs]
            for fut in asyncio.as_completed(tasks):
                print(await fut)
            return tasks
        """,
        "TET203",
    )
    assert finding.fixes == ()
    assert "`tasks` is used again after `as_completed` took it" in finding.message


def test_tet203_loop_that_yields_gets_no_fix():
    finding = only(
        """
        import asyncio


        async def stream(jobs):
            for fut in asyncio.as_completed([job() for job in jobs]):
                yield await fut
        """,
        "TET203",
    )
    assert finding.fixes == ()
    assert "yields" in finding.message


def test_tet203_async_generator_loop_without_yield_is_fixed():
    finding = only(
        """
        import asyncio


        async def stream(jobs):
            results = []
            for fut in asyncio.as_completed([job() for job in jobs]):
                results.append(await fut)
            yield results
        """,
        "TET203",
    )
    assert [fix.applicability for fix in finding.fixes] == [SAFE]


def test_tet202_generator_argument_is_reported_without_fix():
    finding = only(
        """
        import asyncio


        async def run(jobs):
            done, _ = await asyncio.wait((asyncio.create_task(j()) for j in jobs), timeout=1)
            return done
        """,
        "TET202",
    )
    assert finding.fixes == ()


def test_tet202_fix_is_always_unsafe_and_names_the_reason():
    finding = only(
        """
        import asyncio


        async def run(a, b):
            done, pending = await asyncio.wait([asyncio.create_task(a()), asyncio.create_task(b())], timeout=1, return_when=asyncio.FIRST_EXCEPTION)
            return done
        """,
        "TET202",
    )
    assert [fix.applicability for fix in finding.fixes] == [UNSAFE]
    assert "a `timeout` and `return_when=FIRST_EXCEPTION`" in finding.message  # in argument order
    assert "`pending` is never used" in finding.message


def test_tet202_pending_read_in_a_nested_function_counts_as_used():
    assert (
        findings(
            """
            import asyncio


            async def run(a, b):
                done, pending = await asyncio.wait([asyncio.create_task(a()), asyncio.create_task(b())], timeout=1)

                def later():
                    return pending

                return later
            """,
            "TET202",
        )
        == []
    )


BOTH = """
import asyncio


async def race(a, b):
    done, _ = await asyncio.wait([asyncio.create_task(a()), asyncio.create_task(b())], timeout=1)
    return done


async def collect(jobs):
    for fut in asyncio.as_completed([job() for job in jobs]):
        print(await fut)
"""


def test_both_rules_share_one_cancel_pending_helper():
    result = fix_text(BOTH, "case.py", replace(SETTINGS, unsafe_fixes=True))
    assert result.error is None
    text = result.new_text
    assert text.count("# tether helper cancel_pending:") == 1
    assert text.count("# tether helper wait_cancel_pending:") == 1
    assert text.count("async def _cancel_pending(") == 1
    again = fix_text(text, "case.py", replace(SETTINGS, unsafe_fixes=True))
    assert again.new_text == text and not again.applied


def test_wait_helper_reuses_an_existing_cancel_pending_helper():
    first = fix_text(BOTH, "case.py", SETTINGS).new_text  # safe only: TET203, adds cancel_pending
    assert "# tether helper wait_cancel_pending:" not in first
    second = fix_text(first, "case.py", replace(SETTINGS, unsafe_fixes=True)).new_text
    assert second.count("async def _cancel_pending(") == 1
    assert "await _cancel_pending(tasks)" in second.split("async def race")[0]  # the wait helper calls it
