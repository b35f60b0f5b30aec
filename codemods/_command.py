"""Adapts a tether rule to libcst's codemod framework (``python -m libcst.tool codemod``).

The command runs the same engine as ``tether fix`` on the module's code, restricted to its
one rule, so the two entry points can never disagree about what a rule rewrites.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from functools import lru_cache

import libcst as cst
from libcst.codemod import CodemodCommand, CodemodContext, SkipFile


@lru_cache(maxsize=None)
def command_for(rule, class_name: str) -> type:
    class RuleCommand(CodemodCommand):
        DESCRIPTION = f"{rule.code} {rule.name}: {rule.summary}"

        def __init__(self, context: CodemodContext, unsafe_fixes: bool = False, style: str = "guard") -> None:
            super().__init__(context)
            self.unsafe_fixes = unsafe_fixes
            self.style = style

        @staticmethod
        def add_args(arg_parser: argparse.ArgumentParser) -> None:
            arg_parser.add_argument("--unsafe-fixes", action="store_true", help="also apply unsafe fixes")
            arg_parser.add_argument("--style", choices=("guard", "taskgroup"), default="guard")

        def transform_module_impl(self, tree: cst.Module) -> cst.Module:
            from tether.config import Settings
            from tether.engine import fix_text

            settings = replace(
                Settings(), select=(rule.code,), unsafe_fixes=self.unsafe_fixes, style=self.style
            )
            result = fix_text(tree.code, self.context.filename or "<module>", settings)
            if result.error:
                raise SkipFile(result.error)
            if result.new_text is None or result.new_text == tree.code:
                return tree
            return cst.parse_module(result.new_text)

    RuleCommand.__name__ = RuleCommand.__qualname__ = class_name
    RuleCommand.__module__ = type(rule).__module__
    return RuleCommand
