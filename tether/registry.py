"""The rule catalogue: the modules in ``codemods/`` that define a rule, loaded on demand.

Rule modules never import libcst at import time, so loading the catalogue is cheap; the
catalogue itself is only loaded once a file passes the byte prefilter or a command needs it.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from tether.rule import Rule

RULE_MODULES = (
    "codemods.dangling_task",
    "codemods.unguarded_task_await",
    "codemods.gather_orphans_siblings",
    "codemods.wait_leaves_pending",
    "codemods.as_completed_leaves_pending",
    "codemods.owned_task_never_cancelled",
)


@lru_cache(maxsize=None)
def all_rules() -> tuple[Rule, ...]:
    rules = []
    for module_name in RULE_MODULES:
        module = importlib.import_module(module_name)
        rules.append(module.RULE)
    return tuple(sorted(rules, key=lambda rule: rule.code))


def rule_by_code(code: str) -> Rule | None:
    for rule in all_rules():
        if rule.code == code.upper() or rule.name == code.lower():
            return rule
    return None
