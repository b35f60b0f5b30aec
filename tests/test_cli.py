"""The command-line contract of SPEC section 1: exit codes, messages, output formats, stdin."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import run_tether

DANGLING = b"import asyncio\n\n\nasync def main():\n    asyncio.create_task(main())\n"
CLEAN = b"import asyncio\n\n\nasync def main():\n    await asyncio.sleep(0)\n"


def _tree(tmp_path: Path, files: dict[str, bytes]) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.tether]\n")
    for name, data in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return tmp_path


def test_check_names_file_line_col_and_exits_1(tmp_path):
    _tree(tmp_path, {"app.py": DANGLING})
    proc = run_tether(["check", "app.py"], cwd=tmp_path)
    assert proc.returncode == 1
    assert b"app.py:5:5: TET101" in proc.stdout
    assert b"Found 1 finding." in proc.stdout


def test_check_clean_file_exits_0(tmp_path):
    _tree(tmp_path, {"app.py": CLEAN})
    proc = run_tether(["check", "app.py"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert b"All checks passed!" in proc.stdout


def test_unparsable_file_is_named_in_one_line_left_untouched_and_the_rest_is_processed(tmp_path):
    broken = b"import asyncio\ndef f(:\n    asyncio.create_task(x())\n"
    _tree(tmp_path, {"a_broken.py": broken, "b_app.py": DANGLING})
    for command in ("check", "fix"):
        proc = run_tether([command, "."], cwd=tmp_path)
        assert proc.returncode == 2
        errors = [line for line in proc.stderr.decode().splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "a_broken.py:2:" in errors[0] and "cannot parse" in errors[0]
        assert b"Traceback" not in proc.stderr
        assert (tmp_path / "a_broken.py").read_bytes() == broken
    assert b"_keep_task(asyncio.create_task(main()))" in (tmp_path / "b_app.py").read_bytes()


def test_diff_prints_a_patch_that_applies_and_changes_nothing(tmp_path):
    _tree(tmp_path, {"pkg/app.py": DANGLING})
    proc = run_tether(["diff", "."], cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.startswith(b"--- a/pkg/app.py\n+++ b/pkg/app.py\n")
    assert (tmp_path / "pkg/app.py").read_bytes() == DANGLING
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "apply", "--check", "-"], cwd=tmp_path, input=proc.stdout, check=True)
    subprocess.run(["patch", "-p1", "-s"], cwd=tmp_path, input=proc.stdout, check=True)
    patched = (tmp_path / "pkg/app.py").read_bytes()
    (tmp_path / "pkg/app.py").write_bytes(DANGLING)
    fixed = run_tether(["fix", "."], cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert (tmp_path / "pkg/app.py").read_bytes() == patched
    again = run_tether(["diff", "."], cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == b""


def test_fix_keeps_crlf_and_file_mode(tmp_path):
    crlf = DANGLING.replace(b"\n", b"\r\n")
    _tree(tmp_path, {"app.py": crlf})
    (tmp_path / "app.py").chmod(0o754)
    proc = run_tether(["fix", "app.py"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = (tmp_path / "app.py").read_bytes()
    assert b"_keep_task(" in data
    assert data.count(b"\r\n") == data.count(b"\n"), "every line ending stays CRLF"
    assert (tmp_path / "app.py").stat().st_mode & 0o777 == 0o754


def test_fix_exits_1_when_findings_remain(tmp_path):
    source = DANGLING.replace(b"main())\n", b"main())  # keep me\n")
    _tree(tmp_path, {"app.py": source, "other.py": CLEAN})
    proc = run_tether(["fix", "--ignore", "TET", "."], cwd=tmp_path)
    assert proc.returncode == 0
    proc = run_tether(["fix", "."], cwd=tmp_path)
    assert proc.returncode == 0
    assert b"Fixed 1 finding in 1 file." in proc.stderr


def test_select_ignore_prefixes(tmp_path):
    _tree(tmp_path, {"app.py": DANGLING})
    assert run_tether(["check", "--select", "TET1", "app.py"], cwd=tmp_path).returncode == 1
    assert run_tether(["check", "--ignore", "TET101", "app.py"], cwd=tmp_path).returncode == 0
    assert run_tether(["check", "--select", "TET9", "app.py"], cwd=tmp_path).returncode == 0
    bad = run_tether(["check", "--select", "E501", "app.py"], cwd=tmp_path)
    assert bad.returncode == 2 and b"E501" in bad.stderr and b"Traceback" not in bad.stderr


def test_json_output_is_ruff_shaped_with_exact_edits(tmp_path):
    _tree(tmp_path, {"app.py": DANGLING})
    proc = run_tether(["check", "--output-format", "json", "app.py"], cwd=tmp_path)
    assert proc.returncode == 1
    [record] = json.loads(proc.stdout)
    assert record["code"] == "TET101"
    assert record["filename"] == str(tmp_path / "app.py")
    assert record["location"] == {"row": 5, "column": 5}
    assert record["end_location"] == {"row": 5, "column": 32}
    assert record["fix"]["applicability"] == "safe"
    assert record["url"].endswith("#tet101")
    # applying the edits bottom-up reproduces what `tether fix` writes
    lines = DANGLING.decode().splitlines(keepends=True)
    for edit in sorted(record["fix"]["edits"], key=lambda e: e["location"]["row"], reverse=True):
        assert edit["location"]["column"] == edit["end_location"]["column"] == 1
        lines[edit["location"]["row"] - 1 : edit["end_location"]["row"] - 1] = [edit["content"]]
    run_tether(["fix", "app.py"], cwd=tmp_path)
    assert "".join(lines).encode() == (tmp_path / "app.py").read_bytes()


def test_concise_and_github_formats(tmp_path):
    _tree(tmp_path, {"app.py": DANGLING})
    concise = run_tether(["check", "--output-format", "concise", "app.py"], cwd=tmp_path).stdout.decode()
    assert concise.splitlines()[0].startswith("app.py:5:5: TET101 [*] `asyncio.create_task(...)`")
    github = run_tether(["check", "--output-format", "github", "app.py"], cwd=tmp_path).stdout.decode()
    assert github.startswith("::error title=tether (TET101),file=app.py,line=5,col=5,endLine=5,endColumn=32::")


def test_stdin_modes(tmp_path):
    _tree(tmp_path, {})
    fixed = run_tether(["fix", "-", "--stdin-filename", "svc/app.py"], cwd=tmp_path, input=DANGLING)
    assert fixed.returncode == 0
    assert b"_keep_task(asyncio.create_task(main()))" in fixed.stdout
    checked = run_tether(["check", "-", "--stdin-filename", "svc/app.py", "--output-format", "concise"], cwd=tmp_path, input=DANGLING)
    assert checked.returncode == 1 and checked.stdout.startswith(b"svc/app.py:5:5: TET101")
    untouched = run_tether(["fix", "-"], cwd=tmp_path, input=CLEAN)
    assert untouched.returncode == 0 and untouched.stdout == CLEAN
    diffed = run_tether(["diff", "-", "--stdin-filename", "app.py"], cwd=tmp_path, input=DANGLING)
    assert diffed.returncode == 1 and b"+    _keep_task(" in diffed.stdout


def test_rules_catalogue_and_explanation(tmp_path):
    listing = run_tether(["rules"], cwd=tmp_path)
    assert listing.returncode == 0 and b"TET101  dangling-task" in listing.stdout
    explained = run_tether(["rules", "TET101"], cwd=tmp_path).stdout.decode()
    for heading in ("## What it finds", "## Why is this bad?", "## Example", "## Fix safety"):
        assert heading in explained
    unknown = run_tether(["rules", "TET999"], cwd=tmp_path)
    assert unknown.returncode == 2 and b"unknown rule" in unknown.stderr


def test_version(tmp_path):
    proc = run_tether(["--version"], cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith(b"tether 0.")


def test_missing_path_is_an_error_and_the_run_goes_on(tmp_path):
    _tree(tmp_path, {"app.py": DANGLING})
    proc = run_tether(["check", "nope.py", "app.py"], cwd=tmp_path)
    assert proc.returncode == 2
    assert b"nope.py: no such file or directory" in proc.stderr
    assert b"app.py:5:5: TET101" in proc.stdout


def test_noqa_suppresses_only_the_named_code(tmp_path):
    source = DANGLING.replace(b"main())\n", b"main())  # noqa: TET999\n")
    _tree(tmp_path, {"a.py": source, "b.py": DANGLING.replace(b"main())\n", b"main())  # NOQA:TET101\n")})
    proc = run_tether(["check", "--output-format", "concise", "."], cwd=tmp_path)
    assert b"a.py:5:5: TET101" in proc.stdout
    assert b"b.py" not in proc.stdout


def test_file_with_syntax_newer_than_the_running_python_says_so(tmp_path):
    import sys

    newer = b"import asyncio\n\ntype Pair = tuple[int, int]\n\n\nasync def main():\n    asyncio.create_task(main())\n"
    broken = b"import asyncio\ndef f(:\n    asyncio.create_task(x())\n"
    _tree(tmp_path, {"newer.py": newer, "broken.py": broken})
    proc = run_tether(["check", "."], cwd=tmp_path)
    assert proc.returncode == 2
    lines = {line.split(":", 2)[1].strip(): line for line in proc.stderr.decode().splitlines() if line.startswith("error:")}
    if sys.version_info >= (3, 12):  # PEP 695 is this interpreter's own syntax: analysed normally
        assert "newer.py" not in lines and b"newer.py:7:5: TET101" in proc.stdout
    else:
        assert "syntax newer than Python" in lines["newer.py"] and "3.11" in lines["newer.py"]
    assert "syntax newer than Python" not in lines["broken.py"]
