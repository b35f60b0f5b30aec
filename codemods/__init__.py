"""tether's rules: one module per rule, each a ruff-style rule page with its fixes.

Every rule module defines ``RULE`` (used by the tether engine) and, built lazily so that
importing a rule never imports libcst, a libcst codemod command, so each rule also runs
through libcst's own tool::

    python -m libcst.tool codemod dangling_task.DanglingTaskCommand src/

(with ``modules: ["codemods"]`` in ``.libcst.codemod.yaml``, or the full dotted path
``codemods.dangling_task.DanglingTaskCommand``).
"""
