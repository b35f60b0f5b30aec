"""TET301 details the fixture format cannot express: findings without a fix, what the
messages promise, and that a fix shared by several findings is applied once for all."""

from __future__ import annotations

import textwrap

import pytest
from dataclasses import replace

from tether.config import Settings
from tether.engine import check_text, fix_text

SETTINGS = replace(Settings(), select=("TET301",))
UNSAFE = replace(SETTINGS, unsafe_fixes=True)


def findings(source: str):
    result = check_text(textwrap.dedent(source), "case.py", SETTINGS)
    assert result.error is None
    return result.findings


def test_no_close_method_gives_a_finding_without_fix():
    (finding,) = findings(
        """
        import asyncio

        class Server:
            def start(self):
                self._task = asyncio.create_task(asyncio.sleep(1))
        """
    )
    assert finding.fixes == ()
    assert "no close method" in finding.message and "no fix" in finding.message
    assert (finding.line, finding.col) == (6, 22)


def test_sync_close_message_says_the_task_is_only_cancelled():
    (finding,) = findings(
        """
        import asyncio

        class Server:
            def start(self):
                self._task = asyncio.create_task(asyncio.sleep(1))

            def close(self):
                pass
        """
    )
    assert "synchronous" in finding.message and "cannot wait" in finding.message
    (fix,) = finding.fixes
    assert not fix.is_safe and "without waiting" in fix.title


def test_async_close_message_names_cancel_and_wait():
    (finding,) = findings(
        """
        import asyncio

        class Server:
            def start(self):
                self._task = asyncio.create_task(asyncio.sleep(1))

            def close(self):
                pass

            async def aclose(self):
                print("aclose")
        """
    )
    assert "cancel it and wait for it when `aclose()` ends" in finding.message


def test_default_fix_changes_nothing():
    source = textwrap.dedent(
        """
        import asyncio

        class Server:
            def start(self):
                self._task = asyncio.create_task(asyncio.sleep(1))

            async def close(self):
                pass
        """
    )
    result = fix_text(source, "case.py", SETTINGS)
    assert result.new_text == source
    assert len(result.remaining) == 1


def test_one_fix_for_many_tasks_counts_for_every_finding_and_converges():
    """Six tasks in one class share one fix: more than the engine's pass limit if each had
    its own overlapping rewrite."""
    spawns = "\n".join(f"        self._t{i} = asyncio.create_task(asyncio.sleep(1))" for i in range(6))
    source = f"import asyncio\n\n\nclass Server:\n    def start(self):\n{spawns}\n\n    async def close(self):\n        pass\n"
    result = fix_text(source, "case.py", UNSAFE)
    assert result.error is None
    assert len(result.applied) == 6 and result.remaining == ()
    arguments = ", ".join(f'getattr(self, "_t{i}", None)' for i in range(6))
    assert f"        await _cancel_owned({arguments})\n" in result.new_text
    again = fix_text(result.new_text, "case.py", UNSAFE)
    assert again.new_text == result.new_text and again.findings == ()


def test_close_method_of_the_class_wins_over_the_bases():
    source = textwrap.dedent(
        """
        import asyncio

        class Base:
            async def aclose(self):
                pass

        class Child(Base):
            def start(self):
                self._task = asyncio.create_task(asyncio.sleep(1))

            def close(self):
                print("own close")
        """
    )
    result = fix_text(source, "case.py", UNSAFE)
    assert '    def close(self):\n        try:\n            print("own close")\n        finally:\n            _cancel_owned_nowait(getattr(self, "_task", None))\n' in result.new_text


def test_stub_or_decorated_close_gives_no_fix():
    (finding,) = findings(
        """
        import abc
        import asyncio

        class Server(abc.ABC):
            def start(self):
                self._task = asyncio.create_task(asyncio.sleep(1))

            @abc.abstractmethod
            async def close(self):
                ...
        """
    )
    assert finding.fixes == ()


def test_other_objects_attribute_counts_but_unrelated_self_does_not():
    assert not findings(
        """
        import asyncio

        class Client:
            def start(self):
                self._task = asyncio.create_task(asyncio.sleep(1))

        class Manager:
            def stop(self, client):
                client._task.cancel()
        """
    )
    assert len(findings(
        """
        import asyncio

        class Client:
            def start(self):
                self._task = asyncio.create_task(asyncio.sleep(1))

        class Other:
            def stop(self):
                self._task.cancel()
        """
    )) == 1


def test_inspecting_uses_do_not_hide_the_finding():
    (finding,) = findings(
        """
        import asyncio

        class Client:
            def start(self):
                if self._task is None or self._task.done():
                    t = asyncio.create_task(asyncio.sleep(1))
                    t.add_done_callback(print)
                    self._task = t

            def status(self):
                task = self._task
                return f"running={not task.done()} {self._task!r}" if task else "idle"
        """
    )
    assert finding.line == 7


def test_task_stored_as_a_key_elsewhere_may_be_cancelled_from_there():
    assert not findings(
        """
        import asyncio

        class Client:
            def start(self, registry):
                self._task = asyncio.create_task(asyncio.sleep(1))
                registry[self._task] = "client"

            async def close(self):
                pass
        """
    )


def test_close_method_called_by_the_others_is_chosen():
    source = textwrap.dedent(
        """
        import asyncio

        class Client:
            def start(self):
                self.__task = asyncio.create_task(asyncio.sleep(1))

            async def __aexit__(self, *exc_info):
                await self.aclose()

            async def aclose(self):
                self.close()

            def close(self):
                print("closed")
        """
    )
    (finding,) = check_text(source, "case.py", SETTINGS).findings
    assert finding.fixes[0].title == "Cancel (without waiting for) `self.__task` when `close()` ends"
    result = fix_text(source, "case.py", UNSAFE)
    assert 'print("closed")\n        finally:\n            _cancel_owned_nowait(getattr(self, "_Client__task", None))\n' in result.new_text


def test_async_close_preferred_when_no_close_method_calls_another():
    source = textwrap.dedent(
        """
        import asyncio

        class Client:
            def start(self):
                self._task = asyncio.create_task(asyncio.sleep(1))

            async def __aexit__(self, *exc_info):
                print("exit")

            def close(self):
                print("closed")
        """
    )
    (finding,) = check_text(source, "case.py", SETTINGS).findings
    assert "`__aexit__()`" in finding.fixes[0].title


SINGLE = """
import asyncio
from contextlib import suppress

class Client:
    async def start(self):
        self._task = asyncio.create_task(asyncio.sleep(1))

    async def close(self):
        pass

    async def elsewhere(self, helper):
{body}
"""
CONTAINER = SINGLE.replace("self._task = asyncio.create_task(asyncio.sleep(1))", "self._tasks.add(asyncio.create_task(asyncio.sleep(1)))")

CANCELS_SINGLE = [
    "self._task.cancel()",
    "if self._task and not self._task.done():\n    self._task.cancel()",
    "self._task and self._task.cancel()",
    "task = self._task\nself._task = None\ntask.cancel()",
    "t, self._task = self._task, None\nif t is not None:\n    t.cancel()",
    "if (t := self._task) is not None:\n    t.cancel()",
    "await helper(self._task)",
    "with suppress(asyncio.CancelledError):\n    await self._task",
    "await asyncio.wait_for(self._task, 1)",
    "asyncio.get_running_loop().call_soon(self._task.cancel)",
    "return self._task",
    'getattr(self, "_task").cancel()',
    'task = getattr(self, "_task", None)\nif task:\n    task.cancel()',
    "for task in (self._task,):\n    task.cancel()",
    "self.supervisor.adopt(task=self._task)",
    "yield self._task",
]
CANCELS_CONTAINER = [
    "for t in self._tasks:\n    t.cancel()",
    "for t in list(self._tasks):\n    t.cancel()",
    "for name, t in sorted(self._tasks.items()):\n    t.cancel()",
    "await asyncio.gather(*self._tasks, return_exceptions=True)",
    "await asyncio.wait(self._tasks)",
    "while self._tasks:\n    self._tasks.pop().cancel()",
    "[t.cancel() for t in self._tasks]",
    "self._tasks[0].cancel()",
    "tasks, self._tasks = self._tasks, set()\nfor t in tasks:\n    t.cancel()",
    "any(t.cancel() for t in self._tasks.values())",
    "return [t for t in self._tasks]",
    "await self._tasks.shutdown()",
    "for t in self._tasks.tasks:\n    print(t)",
]


def _indent(body: str) -> str:
    return "\n".join("        " + line for line in body.splitlines())


@pytest.mark.parametrize("body", CANCELS_SINGLE)
def test_no_finding_when_any_method_may_end_the_task(body):
    assert not findings(SINGLE.format(body=_indent(body)))


@pytest.mark.parametrize("body", CANCELS_CONTAINER)
def test_no_finding_when_any_method_may_end_the_tasks_in_the_container(body):
    assert not findings(CONTAINER.format(body=_indent(body)))


@pytest.mark.parametrize(
    "body",
    ["print(self._task.done())", "if self._task is None:\n    return", "self._task.add_done_callback(print)", "self._task = None"],
)
def test_inspecting_the_task_is_still_a_finding(body):
    assert len(findings(SINGLE.format(body=_indent(body)))) == 1


@pytest.mark.parametrize(
    "body", ["print(len(self._tasks))", "self._tasks.clear()", "self._tasks.discard(None)", "for t in self._tasks:\n    print(t.done())"]
)
def test_inspecting_the_container_is_still_a_finding(body):
    assert len(findings(CONTAINER.format(body=_indent(body)))) == 1


def test_task_started_lazily_by_a_property_is_owned():
    (finding,) = findings(
        """
        import asyncio

        class Client:
            @property
            def poller(self):
                if getattr(self, "_poller", None) is None:
                    self._poller = asyncio.ensure_future(asyncio.sleep(1))
                return "started"

            @classmethod
            def make(cls):
                cls._shared = asyncio.ensure_future(asyncio.sleep(1))
        """
    )
    assert "`self._poller`" in finding.message


@pytest.mark.parametrize(
    "close, expected",
    [
        ("def close(self): pass", 'def close(self):\n        _cancel_owned_nowait(getattr(self, "_t", None))\n'),
        (
            "def close(self): pass  # nothing to do",
            "def close(self):\n        try:\n            pass  # nothing to do\n"
            '        finally:\n            _cancel_owned_nowait(getattr(self, "_t", None))\n',
        ),
        (
            'def close(self): """Close."""; pass',
            'def close(self):\n        """Close."""\n        _cancel_owned_nowait(getattr(self, "_t", None))\n',
        ),
        (
            'def close(self): "Close."; print(1); print(2)  # c',
            'def close(self):\n        "Close."\n        try:\n            print(1); print(2)  # c\n'
            '        finally:\n            _cancel_owned_nowait(getattr(self, "_t", None))\n',
        ),
    ],
)
def test_one_line_close_bodies(close, expected):
    source = f"import asyncio\n\n\nclass C:\n    def start(self):\n        self._t = asyncio.create_task(asyncio.sleep(1))\n\n    {close}\n"
    result = fix_text(source, "case.py", UNSAFE)
    assert result.error is None and result.remaining == ()
    assert result.new_text.endswith("    " + expected)


BRANCH_CLASS = """
import asyncio

class Client:
    def start(self, a, b, items):
{body}

    async def close(self):
        pass
"""


@pytest.mark.parametrize(
    "body, reported",
    [
        # one binding per arm, the store after the `if`: every spawn is a task `_t` may hold
        ("if a:\n    t = asyncio.create_task(asyncio.sleep(1))\nelse:\n    t = asyncio.create_task(asyncio.sleep(2))\nself._t = t", 2),
        (
            "if a:\n    t = asyncio.create_task(asyncio.sleep(1))\nelif b:\n    t = asyncio.ensure_future(asyncio.sleep(2))\n"
            "else:\n    t = asyncio.create_task(asyncio.sleep(3))\nself._t = t",
            3,
        ),
        (
            "for x in items:\n    if a:\n        t = asyncio.create_task(asyncio.sleep(x))\n    else:\n"
            "        t = asyncio.create_task(asyncio.sleep(0))\n    self._t[x] = t",
            2,
        ),
        # the same arm twice, a binding after the store, a store inside one arm: not every
        # spawn reaches the attribute, so none is reported
        ("if a:\n    t = asyncio.create_task(asyncio.sleep(1))\n    t = asyncio.create_task(asyncio.sleep(2))\nself._t = t", 0),
        ("t = asyncio.create_task(asyncio.sleep(1))\nself._t = t\nif a:\n    t = asyncio.create_task(asyncio.sleep(2))", 0),
        ("if a:\n    t = asyncio.create_task(asyncio.sleep(1))\n    self._t = t\nelse:\n    t = asyncio.create_task(asyncio.sleep(2))", 0),
        ("if a:\n    t = asyncio.create_task(asyncio.sleep(1))\nelse:\n    t = items.pop()\nself._t = t", 0),
        ("if a:\n    t = asyncio.create_task(asyncio.sleep(1))\nelse:\n    t = asyncio.create_task(asyncio.sleep(2))\nself._t = t\nreturn t", 0),
    ],
)
def test_local_bound_once_per_branch(body, reported):
    assert len(findings(BRANCH_CLASS.format(body=textwrap.indent(body, "        ")))) == reported
