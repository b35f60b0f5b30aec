"""Editor/formatter integration through stdin (`check -`, `diff -`, `fix -` with
--stdin-filename) and the pre-commit hooks."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_tether

DANGLING = b"import asyncio\n\n\nasync def main():\n    asyncio.create_task(main())\n"


def _two_projects(tmp_path: Path) -> Path:
    """tmp/pyproject.toml enables everything; tmp/quiet/pyproject.toml ignores TET101."""
    (tmp_path / "pyproject.toml").write_text("[tool.tether]\n")
    (tmp_path / "quiet").mkdir()
    (tmp_path / "quiet" / "pyproject.toml").write_text('[tool.tether]\nignore = ["TET101"]\n')
    return tmp_path


def test_settings_come_from_the_stdin_filename_directory(tmp_path):
    _two_projects(tmp_path)
    quiet = run_tether(["check", "-", "--stdin-filename", "quiet/app.py"], cwd=tmp_path, input=DANGLING)
    assert quiet.returncode == 0, quiet.stdout
    assert b"TET101" not in quiet.stdout
    loud = run_tether(["check", "-", "--stdin-filename", "loud/app.py", "--output-format", "concise"], cwd=tmp_path, input=DANGLING)
    assert loud.returncode == 1
    assert loud.stdout.startswith(b"loud/app.py:5:5: TET101 ")
    # and a fix through stdin honours them too: nothing to do in the quiet project
    unchanged = run_tether(["fix", "-", "--stdin-filename", "quiet/app.py"], cwd=tmp_path, input=DANGLING)
    assert unchanged.returncode == 0 and unchanged.stdout == DANGLING


def test_fix_stdin_writes_the_fixed_bytes_keeping_crlf_and_encoding(tmp_path):
    _two_projects(tmp_path)
    source = b"# -*- coding: latin-1 -*-\r\nimport asyncio\r\n\r\n\r\nasync def main():\r\n    s = '\xe9'\r\n    asyncio.create_task(main())\r\n"
    proc = run_tether(["fix", "-", "--stdin-filename", "svc/app.py"], cwd=tmp_path, input=source)
    assert proc.returncode == 0, proc.stderr
    assert b"    _keep_task(asyncio.create_task(main()))\r\n" in proc.stdout
    assert b"s = '\xe9'\r\n" in proc.stdout  # still latin-1, still CRLF
    assert b"\n" not in proc.stdout.replace(b"\r\n", b"")
    compile(proc.stdout, "app.py", "exec")
    again = run_tether(["fix", "-", "--stdin-filename", "svc/app.py"], cwd=tmp_path, input=proc.stdout)
    assert again.stdout == proc.stdout


def test_diff_and_errors_name_the_stdin_filename(tmp_path):
    _two_projects(tmp_path)
    diffed = run_tether(["diff", "-", "--stdin-filename", "svc/app.py"], cwd=tmp_path, input=DANGLING)
    assert diffed.returncode == 1
    assert diffed.stdout.startswith(b"--- a/svc/app.py\n+++ b/svc/app.py\n")
    broken = run_tether(["check", "-", "--stdin-filename", "svc/bad.py"], cwd=tmp_path, input=b"import asyncio\nasyncio.create_task(\n")
    assert broken.returncode == 2
    assert broken.stderr.decode().startswith("error: svc/bad.py:2:")
    assert b"cannot parse" in broken.stderr
    unnamed = run_tether(["check", "-", "--output-format", "concise"], cwd=tmp_path, input=DANGLING)
    assert unnamed.returncode == 1 and unnamed.stdout.startswith(b"-:5:5: TET101")


# -- pre-commit -------------------------------------------------------------------------


def _hooks() -> dict[str, dict]:
    import yaml  # PyYAML, in the test extra

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert isinstance(hooks, list)
    return {hook["id"]: hook for hook in hooks}


def test_pre_commit_hooks_are_well_formed():
    hooks = _hooks()
    assert set(hooks) == {"tether-check", "tether-fix"}
    for hook in hooks.values():
        assert {"id", "name", "entry", "language"} <= set(hook)  # pre-commit's required keys
        assert hook["language"] == "python"
        assert hook["types_or"] == ["python"]
        assert shlex.split(hook["entry"])[0] == "tether"
    if sys.version_info >= (3, 11):
        import tomllib

        scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
        assert scripts["tether"].startswith("tether.")  # `tether` is what pip installs into the hook env


@pytest.mark.parametrize("hook_id, exit_code, changed", [("tether-check", 1, False), ("tether-fix", 0, True)])
def test_pre_commit_hooks_run_their_command_on_the_staged_files(tmp_path, cli, hook_id, exit_code, changed):
    """pre-commit runs `entry` with the staged file names appended."""
    (tmp_path / "pyproject.toml").write_text("[tool.tether]\n")
    (tmp_path / "a.py").write_bytes(DANGLING)
    (tmp_path / "b.py").write_bytes(b"x = 1\n")
    argv = shlex.split(_hooks()[hook_id]["entry"])[1:] + ["a.py", "b.py"]
    result = cli(argv, cwd=tmp_path)
    assert result.exit_code == exit_code, result.output
    assert ((tmp_path / "a.py").read_bytes() != DANGLING) is changed
    assert (tmp_path / "b.py").read_bytes() == b"x = 1\n"
    if hook_id == "tether-check":
        assert "a.py:5:5: TET101" in result.output
