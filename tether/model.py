"""The plain data that flows between analysis, rendering, caching, workers and reporters.

Everything here is picklable and JSON-able on purpose: findings cross process boundaries
(``--jobs``), sit in the content-hash cache and feed the JSON/SARIF/LSP reporters, so a fix is
described as data (a *plan*) that the rule's renderer interprets later, only when a fix is
actually rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tether.fixchoice import SAFE, UNSAFE, choose_fix  # SAFE, UNSAFE: the rules import them from here


@dataclass(frozen=True)
class Fix:
    """One way to fix a finding.

    ``style`` is "guard" or "taskgroup" for fixes that only apply under that ``--style``, None
    for fixes that apply under any. ``lines`` is the (first, last) source line the rewrite
    touches, so fixes whose lines overlap are applied in separate passes. ``plan`` is rule
    data for the renderer.
    """

    applicability: str
    title: str
    plan: tuple[Any, ...]
    lines: tuple[int, int]
    style: str | None = None

    @property
    def is_safe(self) -> bool:
        return self.applicability == SAFE


@dataclass(frozen=True)
class Finding:
    """A rule violation; positions are 1-based lines and 1-based columns in characters."""

    code: str
    message: str
    line: int
    col: int
    end_line: int
    end_col: int
    fixes: tuple[Fix, ...] = field(default=())

    def choose_fix(self, unsafe_fixes: bool, style: str) -> Fix | None:
        """The fix a run with these options applies: the rule lists them in preference order."""
        return choose_fix(self.fixes, unsafe_fixes, style)

    def sort_key(self) -> tuple[int, int, str]:
        return (self.line, self.col, self.code)


@dataclass(frozen=True)
class FileResult:
    """What analysing one file produced; ``error`` is a one-line message when it failed."""

    path: str
    findings: tuple[Finding, ...] = ()
    error: str | None = None
    # filled by diff/fix runs only
    new_text: str | None = None
    old_text: str | None = None
    encoding: str | None = None
    applied: tuple[Finding, ...] = ()
    remaining: tuple[Finding, ...] = ()
    # helper kinds the new text imports from ``helpers-module`` (``tether fix`` provides them)
    helper_imports: tuple[str, ...] = ()
    # why a remaining finding's fix could not be applied: ((code, line, col), reason) pairs
    not_fixed: tuple[tuple[tuple[str, int, int], str], ...] = ()

    def is_clean(self) -> bool:
        """Nothing found, nothing failed, nothing to write: most files of any run."""
        return self == FileResult(self.path)
