"""Each rule also runs through libcst's own codemod tool, with the same result as tether fix."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import FIXTURES, ROOT


def test_libcst_tool_runs_the_rule_like_tether_fix(tmp_path):
    target = tmp_path / "service.py"
    shutil.copy(FIXTURES / "TET101" / "statement.before.py", target)
    proc = subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", "-x", "--no-format",
         "codemods.dangling_task.DanglingTaskCommand", str(target)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Transformed 1 files successfully" in proc.stderr
    assert target.read_bytes() == (FIXTURES / "TET101" / "statement.after.py").read_bytes()


def test_importing_a_rule_module_does_not_import_libcst():
    code = "import sys, codemods.dangling_task as m; assert 'libcst' not in sys.modules; print(m.RULE.code)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "TET101"


def test_rule_reference_is_up_to_date():
    from tether.docsgen import render

    assert (ROOT / "docs" / "rules.md").read_text() == render(), "run: python -m tether.docsgen"


def test_every_rule_page_has_the_sections_of_a_rule_page():
    from tether.registry import all_rules

    for rule in all_rules():
        for heading in ("## What it finds", "## Why is this bad?", "## Example", "## Fix safety"):
            assert heading in rule.documentation, f"{rule.code} lacks {heading!r}"


def test_every_rule_module_exposes_its_codemod_command():
    import importlib

    from libcst.codemod import CodemodCommand

    from tether.registry import RULE_MODULES

    for module_name in RULE_MODULES:
        module = importlib.import_module(module_name)
        class_name = "".join(part.title() for part in module.RULE.name.split("-")) + "Command"
        command = getattr(module, class_name)
        assert issubclass(command, CodemodCommand) and command.__name__ == class_name
        assert module.RULE.code in command.DESCRIPTION
