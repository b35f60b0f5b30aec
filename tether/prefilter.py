"""The byte prefilter: decide from raw bytes, before decoding or parsing, that a file is clean.

On a real code base 90% of the files mention no task-creating name at all, and parsing is
the dominant cost of a run (SPEC section 6), so this test decides most of a run's speed.
It must never reject a file a rule would report on: it only says "this rule cannot fire".

Semantics, for every rule (``Rule.triggers``, ``Rule.trigger_pattern``):

* A trigger is a *name token*. It matches only where it is not part of a longer identifier:
  ``create_task`` matches ``loop.create_task(`` and ``from asyncio import create_task`` but
  not ``hass.async_create_task(`` or ``create_task_later``; ``wait`` does not match
  ``await``. The boundary is checked only on a side where the trigger itself begins or ends
  with an identifier character, so ``Task(`` must not follow a name character but may be
  anything after the parenthesis. Any Python construct that reaches a name has to spell it
  as a whole identifier (an import, an attribute, an alias), so this is as safe as a plain
  substring test and rejects far more files.
* ``asyncio_triggers`` (optional, a subset of ``triggers``) are names that can only reach
  asyncio's API through an import that spells ``asyncio`` (``gather``, ``ensure_future``):
  they count only in files that also contain the bytes ``asyncio``. Only one file in ten
  of a real tree does, so one fast search answers for most files, and a file that has its
  own ``gather`` (a database's, a test helper's) is not parsed for nothing. ``create_task``
  is not among them: ``self._loop.create_task(...)`` needs no import.
* ``trigger_pattern`` (optional, a bytes regular expression) is a second, stricter test for
  files that contain one of the rule's triggers; it only runs on those few files, so it may
  be slow-ish (for example: ``rb"\\bwait\\s*\\("``).
* A rule without triggers can fire anywhere: the prefilter then lets every file through.
* Configured ``extra-spawners`` add the last component of each dotted name as a trigger.

The test uses ``bytes.find`` (a fast C search) and checks the bytes around each hit; a
regular expression with look-behind would be about 30 times slower over a large tree.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence, Tuple


def _is_name_byte(value: int) -> bool:
    # ASCII letters, digits and "_"; non-ASCII bytes count as boundaries, which only ever lets
    # more files through (safe).
    return value == 95 or 48 <= value <= 57 or 65 <= value <= 90 or 97 <= value <= 122


def _is_name_char(char: str) -> bool:
    return char == "_" or char.isalnum()


def contains_token(haystack, token) -> bool:
    """Whether ``token`` occurs in ``haystack`` (both bytes or both str) as a name token."""
    if not token:
        return True
    if isinstance(haystack, bytes):
        is_name = _is_name_byte
        left_bounded = is_name(token[0])
        right_bounded = is_name(token[-1])
    else:
        is_name = _is_name_char
        left_bounded = is_name(token[0])
        right_bounded = is_name(token[-1])
    size = len(token)
    end = len(haystack)
    start = haystack.find(token)
    while start >= 0:
        after = start + size
        if (not left_bounded or start == 0 or not is_name(haystack[start - 1])) and (
            not right_bounded or after >= end or not is_name(haystack[after])
        ):
            return True
        start = haystack.find(token, start + 1)
    return False


ASYNCIO = b"asyncio"

# (triggers that count anywhere, triggers that count only next to "asyncio", pattern or None)
Group = Tuple[Tuple[bytes, ...], Tuple[bytes, ...], Optional[bytes]]


def trigger_group(rule) -> Group:
    """A rule's prefilter as plain data: its triggers split by whether they need ``asyncio``."""
    needing = set(getattr(rule, "asyncio_triggers", ()))
    triggers = tuple(rule.triggers)
    anywhere = tuple(t for t in triggers if t not in needing)
    return anywhere, tuple(t for t in triggers if t in needing), getattr(rule, "trigger_pattern", None)


def tokens_match(group: Group, haystack, has_asyncio: bool | None = None) -> bool:
    """Whether ``haystack`` (bytes; or str, for the per-rule test on decoded text) holds a
    trigger of ``group``, before its pattern; ``has_asyncio`` if the caller already knows."""
    anywhere, needing, _ = group
    if isinstance(haystack, str):
        anywhere = tuple(t.decode("utf-8") for t in anywhere)
        needing = tuple(t.decode("utf-8") for t in needing)
    if any(contains_token(haystack, token) for token in anywhere):
        return True
    if not needing:
        return False
    if has_asyncio is None:
        has_asyncio = (ASYNCIO if isinstance(haystack, bytes) else "asyncio") in haystack
    return has_asyncio and any(contains_token(haystack, token) for token in needing)


class Prefilter:
    """The combined prefilter of a run's enabled rules (and configured spawners).

    Built once per run and handed to every file (it is picklable, so worker processes get
    it too). ``prefilter(data)`` is True when some rule may fire on ``data``.
    """

    def __init__(self, rules: Iterable, extra_spawners: Sequence[str] = ()) -> None:
        self.pass_all = False
        groups: list[Group] = []
        for rule in rules:
            if not rule.triggers:
                self.pass_all = True
            group = trigger_group(rule)
            if group not in groups:  # TET101, TET102 and TET301 share theirs: search once
                groups.append(group)
        spawner_tokens = tuple(name.rsplit(".", 1)[-1].encode() for name in extra_spawners)
        if spawner_tokens:
            groups.append((spawner_tokens, (), None))
        self.groups = tuple(groups)
        self._compiled: dict[bytes, re.Pattern[bytes]] = {}

    def __getstate__(self):
        return {"pass_all": self.pass_all, "groups": self.groups}

    def __setstate__(self, state) -> None:
        self.pass_all = state["pass_all"]
        self.groups = state["groups"]
        self._compiled = {}

    def _pattern(self, source: bytes) -> re.Pattern[bytes]:
        compiled = self._compiled.get(source)
        if compiled is None:
            compiled = self._compiled[source] = re.compile(source)
        return compiled

    def __call__(self, data: bytes) -> bool:
        if self.pass_all:
            return True
        has_asyncio = None  # searched at most once, and only if some group needs to know
        for group in self.groups:
            if group[1] and has_asyncio is None:
                has_asyncio = ASYNCIO in data
            if tokens_match(group, data, has_asyncio):
                pattern = group[2]
                if pattern is None or self._pattern(pattern).search(data) is not None:
                    return True
        return False


__all__ = ["Prefilter", "contains_token", "tokens_match", "trigger_group"]
