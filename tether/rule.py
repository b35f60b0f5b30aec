"""The contract every rule module in ``codemods/`` fulfils.

A rule finds on the ``ast`` (fast, no libcst import) and renders its fixes with libcst (only
when a fix is shown or applied). Keeping both halves in one module means a rule reads like a
ruff rule page from top to bottom, and the engine, CLI, LSP and cache never need to know any
rule's details.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Iterable, Sequence

from tether.analysis import ModuleInfo
from tether.model import Finding, Fix

if TYPE_CHECKING:  # pragma: no cover
    from tether.config import Settings
    from tether.render import Edit, RenderContext

DOCS_URL = "https://github.com/tether-dev/tether/blob/main/docs/rules.md#{code}"


class Rule:
    """Base class: set the class attributes, implement ``check`` and ``render``."""

    code: str = ""
    name: str = ""
    summary: str = ""  # one line, shown by `tether rules`
    # The byte prefilter (tether/prefilter.py): the rule can only fire on files that contain
    # one of these names as a whole identifier (``create_task`` does not match
    # ``async_create_task``). No triggers: the rule may fire on any file.
    triggers: Sequence[bytes] = ()
    # The triggers that only ever reach asyncio's API through an import spelling ``asyncio``
    # (``gather``, ``ensure_future``): they count only in files that also contain
    # ``asyncio``, which nine files in ten of a real tree do not.
    asyncio_triggers: Sequence[bytes] = ()
    # Optional stricter test, a bytes regex that a file holding a trigger must also match
    # (e.g. ``rb"\bgather\s*\("``); it only runs on files that passed ``triggers``.
    trigger_pattern: bytes | None = None

    def may_fire_on(self, data: bytes) -> bool:
        """The rule's own prefilter on raw bytes (False: the file cannot hold a finding)."""
        from tether.prefilter import Prefilter

        return Prefilter([self])(data)

    def check(self, module: ModuleInfo, settings: "Settings") -> Iterable[Finding]:
        """Findings for ``module``. They must depend only on the source and on the settings
        in ``Settings.cache_key()`` (not on the file's path or other files): the result
        cache is keyed by content, so the same bytes anywhere get the same findings. Use
        ``module.nodes`` (``ast.walk`` order, computed once) rather than a new walk."""
        raise NotImplementedError

    def render(self, fix: Fix, ctx: "RenderContext") -> list["Edit"]:
        """libcst edits that carry out ``fix``; may raise render.FixNotApplicable."""
        raise NotImplementedError

    @property
    def documentation(self) -> str:
        """The rule module's docstring: what, why, example, fix, fix safety."""
        module = inspect.getmodule(type(self))
        return inspect.cleandoc(module.__doc__ or "") if module else ""

    @property
    def url(self) -> str:
        return DOCS_URL.format(code=self.code.lower())

    def finding(
        self,
        module: ModuleInfo,
        node,
        message: str,
        fixes: Sequence[Fix] = (),
    ) -> Finding:
        line, col, end_line, end_col = module.span(node)
        return Finding(self.code, message, line, col, end_line, end_col, tuple(fixes))


def lazy_codemod_command(rule: Rule, class_name: str):
    """A module ``__getattr__`` exposing ``class_name``, the libcst codemod command for ``rule``.

    ``python -m libcst.tool codemod module.ClassName`` looks the class up with getattr; building
    it on that lookup keeps libcst out of every import of the rule module.
    """

    def __getattr__(name: str):
        if name == class_name:
            from codemods._command import command_for

            return command_for(rule, class_name)
        raise AttributeError(name)

    return __getattr__
