"""Which of a finding's fixes a run applies: the one rule shared by every reporter.

Kept apart from ``tether.model`` because the warm path of ``tether check``
(``tether.warm``) prints cached findings without importing ``dataclasses`` (~17 ms of a
run that otherwise takes ~50 ms), yet must mark fixable findings exactly as the command
line does. Anything with ``applicability`` and ``style`` attributes is a fix here.
"""

from __future__ import annotations

SAFE = "safe"
UNSAFE = "unsafe"


def choose_fix(fixes, unsafe_fixes: bool, style: str):
    """The first fix allowed under these options (rules list fixes in preference order)."""
    for fix in fixes:
        if fix.style not in (None, style):
            continue
        if fix.applicability == SAFE or unsafe_fixes:
            return fix
    return None


__all__ = ["SAFE", "UNSAFE", "choose_fix"]
