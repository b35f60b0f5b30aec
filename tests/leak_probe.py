"""A prelude for behaviour programs that shows leaked work: tasks still running, files open.

Each child holds a "file" for its lifetime and needs some time to close it (like a real
``async with``), records when it is cancelled and when its cleanup is interrupted, and
``report()`` prints what is still running or open at the moment the caller looks: exactly
what an orphaned task leaves behind. ``fixed_once`` caches the fixed text of a program, so a
test run on several interpreters fixes it only once.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
import textwrap

from behaviour import Run, fix_source, other_pythons, run_program

PRELUDE = '''\
import asyncio

open_files = set()
events = []


class File:
    def __init__(self, name):
        self.name = name

    async def __aenter__(self):
        open_files.add(self.name)
        return self

    async def __aexit__(self, *exc_info):
        try:
            await asyncio.sleep(0.05)  # closing takes time: cleanup must be awaited
        except asyncio.CancelledError:
            events.append(self.name + " cleanup interrupted")
            raise
        open_files.discard(self.name)


async def child(name, delay, fail=None, fail_on_cancel=False):
    async with File(name):
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            events.append(name + " cancelled")
            if fail_on_cancel:
                raise RuntimeError(name + " failed while cancelled")
            raise
        if fail:
            raise fail(name + " failed")
        return name


def report(label="after"):
    running = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    print(label, "running:", len(running), "open:", sorted(open_files), "events:", events)
'''

CLEAN = re.compile(r"^after running: 0 open: \[\] events: (\[.*\])$")


@functools.lru_cache(maxsize=None)
def fixed_once(program: str, *options: str) -> str:
    return fix_source(program, *options)


def program(body: str) -> str:
    return PRELUDE + "\n\n" + textwrap.dedent(body).lstrip("\n")


def before_after(body: str, *options: str, python: str = sys.executable) -> tuple[Run, Run, str]:
    source = program(body)
    fixed = fixed_once(source, *options)
    assert fixed != source, "tether fix changed nothing"
    return run_program(source, python), run_program(fixed, python), fixed


def leftover_free(run: Run) -> list[str] | None:
    """The events list if nothing was running or open at the report, else None."""
    for line in run.lines:
        match = CLEAN.match(line)
        if match:
            return ast.literal_eval(match.group(1))
    return None


def pythons_from(minor: int) -> list[str]:
    """This interpreter and the other local CPythons whose version is 3.<minor> or later."""
    found = [sys.executable] if sys.version_info >= (3, minor) else []
    for exe in other_pythons():
        match = re.search(r"/3\.(\d+)\.\d+/", exe)
        if match and int(match.group(1)) >= minor:
            found.append(exe)
    return found
