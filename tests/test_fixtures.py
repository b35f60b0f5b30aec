"""Every before/after pair in fixtures/ through check, diff (applied with patch), fix and a
second fix. A ``.before.py`` without an ``.after.py`` is a case the tool must leave alone.

The first line of a fixture may carry options for its run:
``# tether-options: --unsafe-fixes --style taskgroup --target-version py311``.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import FIXTURES

CASES = sorted(FIXTURES.glob("TET*/*.before.py"))


def _options(before: bytes) -> list[str]:
    for line in before.splitlines()[:3]:
        text = line.decode("latin-1")
        if text.startswith("# tether-options:"):
            return shlex.split(text.split(":", 1)[1])
    return []


def _case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name[: -len('.before.py')]}"


@pytest.mark.parametrize("before_path", CASES, ids=[_case_id(c) for c in CASES])
def test_fixture(before_path: Path, tmp_path: Path, cli):
    after_path = before_path.with_name(before_path.name.replace(".before.py", ".after.py"))
    before = before_path.read_bytes()
    options = _options(before)
    code = before_path.parent.name
    work = tmp_path / "case.py"
    work.write_bytes(before)
    (tmp_path / "pyproject.toml").write_text("[tool.tether]\n")  # isolate from the repo's settings
    case_config = before_path.with_name(before_path.name.replace(".before.py", ".toml"))
    if case_config.exists():
        (tmp_path / "tether.toml").write_bytes(case_config.read_bytes())
        options = [*options, "--config", str(tmp_path / "tether.toml")]

    checked = cli(["check", "--no-cache", "--output-format", "concise", *options, work], cwd=tmp_path)
    if not after_path.exists():
        assert checked.exit_code == 0, checked.output
        assert code not in checked.output
        fixed = cli(["fix", "--no-cache", *options, work], cwd=tmp_path)
        assert fixed.exit_code == 0, fixed.output
        assert work.read_bytes() == before, "a file without findings must stay byte-identical"
        return

    expected = after_path.read_bytes()
    assert checked.exit_code == 1, checked.output
    assert f"case.py:" in checked.output and code in checked.output

    diffed = cli(["diff", "--no-cache", *options, "case.py"], cwd=tmp_path)
    assert diffed.exit_code == 1, diffed.output
    assert work.read_bytes() == before, "diff must not change the file"
    patch_file = tmp_path / "fix.patch"
    patch_file.write_bytes(diffed.stdout_bytes)
    patched = tmp_path / "patched"
    patched.mkdir()
    shutil.copy(work, patched / "case.py")
    subprocess.run(["patch", "-s", "-p1", "-i", str(patch_file)], cwd=patched, check=True)
    assert (patched / "case.py").read_bytes() == expected, "the diff, applied with patch, must give the after file"

    fixed = cli(["fix", "--no-cache", *options, work], cwd=tmp_path)
    assert fixed.exit_code in (0, 1), fixed.output
    assert work.read_bytes() == expected
    compile(expected, str(after_path), "exec", dont_inherit=True)

    again = cli(["fix", "--no-cache", *options, work], cwd=tmp_path)
    assert work.read_bytes() == expected, "a second fix must change nothing"
    assert "Fixed 0 findings" in again.stderr
