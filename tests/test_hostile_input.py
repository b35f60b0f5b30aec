"""Hostile and odd input: every case gets one clear line, the run goes on, nothing is lost.

Each test runs the real command line (in-process, so that failures of the operating system can
be simulated by monkeypatching) and checks three things: the message (one line naming the
file, no traceback), the exit code, and the bytes on disk (files that must not change are
compared byte for byte; files that must be fixed still compile).

The tests run as root here and in CI, and root can read and write any file whatever its mode.
Permission failures are therefore simulated by making the system call fail, and each such test
first asserts that the simulated failure was actually hit, so it cannot pass vacuously.
"""

from __future__ import annotations

import builtins
import os
import stat
import tempfile
from pathlib import Path

import pytest

import tether.engine
import tether.source

GOOD = b"import asyncio\n\n\nasync def main():\n    asyncio.create_task(work())\n"
FIXED_CALL = b"_keep_task(asyncio.create_task(work()))"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory isolated from the repository's own [tool.tether] settings."""
    (tmp_path / "pyproject.toml").write_text("[tool.tether]\n")
    return tmp_path


def run(cli, project: Path, *args):
    return cli([*args[:1], "--no-cache", *args[1:]], cwd=project)


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def assert_clean_errors(result, expected_count: int) -> list[str]:
    """Exactly ``expected_count`` one-line errors and no traceback anywhere."""
    assert "Traceback" not in result.output
    lines = error_lines(result)
    assert len(lines) == expected_count, result.stderr
    return lines


def compiles(data: bytes) -> None:
    compile(data, "<fixed>", "exec", dont_inherit=True)


# --- encodings -----------------------------------------------------------------------------


def test_undecodable_bytes_reported_and_untouched_others_fixed(cli, project):
    bad = project / "bad.py"
    bad.write_bytes(b"import asyncio\nname = '\xff\xfe caf\xe9'\nasync def f():\n    asyncio.create_task(g())\n")
    good = project / "good.py"
    good.write_bytes(GOOD)
    before = bad.read_bytes()
    result = run(cli, project, "fix", "bad.py", "good.py")
    assert result.exit_code == 2
    (line,) = assert_clean_errors(result, 1)
    assert "bad.py" in line and "cannot decode" in line
    assert bad.read_bytes() == before
    assert FIXED_CALL in good.read_bytes()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"# -*- coding: no-such-codec -*-\nimport asyncio\nasyncio.create_task(g())\n", id="unknown-codec"),
        pytest.param(b"\xef\xbb\xbf# coding: latin-1\nimport asyncio\nasyncio.create_task(g())\n", id="bom-with-latin1-cookie"),
        pytest.param(b"# coding: ascii\nimport asyncio\nx = '\xc3\xa9'\nasyncio.create_task(g())\n", id="non-ascii-in-ascii"),
    ],
)
def test_bad_encodings_are_one_line(cli, project, data):
    path = project / "enc.py"
    path.write_bytes(data)
    for command in ("check", "fix"):
        result = run(cli, project, command, "enc.py")
        assert result.exit_code == 2, result.output
        (line,) = assert_clean_errors(result, 1)
        assert "enc.py" in line and "cannot decode" in line
    assert path.read_bytes() == data


def test_utf16_file_is_left_alone(cli, project):
    """The byte prefilter sees no trigger name in UTF-16 (every other byte is NUL), so the file
    is never decoded: Python cannot run it either, so it holds no task to orphan. Untouched."""
    path = project / "wide.py"
    data = "import asyncio\nasyncio.create_task(g())\n".encode("utf-16")
    path.write_bytes(data)
    for command in ("check", "fix"):
        result = run(cli, project, command, "wide.py")
        assert result.exit_code == 0, result.output
        assert_clean_errors(result, 0)
    assert path.read_bytes() == data


def test_bom_is_kept(cli, project):
    path = project / "bom.py"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD)
    result = run(cli, project, "fix", "bom.py")
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
    assert FIXED_CALL in data
    compiles(data)


def test_latin1_cookie_is_kept_and_bytes_stay_latin1(cli, project):
    path = project / "latin.py"
    source = "# -*- coding: latin-1 -*-\nimport asyncio\nNAME = 'café'\n\n\nasync def main():\n    asyncio.create_task(work())\n"
    path.write_bytes(source.encode("latin-1"))
    result = run(cli, project, "fix", "latin.py")
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert b"NAME = 'caf\xe9'" in data  # still one latin-1 byte, not UTF-8's two
    assert FIXED_CALL in data
    compiles(data)


def test_null_bytes_reported_without_traceback(cli, project):
    path = project / "nul.py"
    path.write_bytes(b"import asyncio\nasync def f():\n    asyncio.create_task(g())\x00\n")
    before = path.read_bytes()
    for command in ("check", "diff", "fix"):
        result = run(cli, project, command, "nul.py")
        assert result.exit_code == 2
        (line,) = assert_clean_errors(result, 1)
        assert "nul.py" in line and "null bytes" in line
        assert "All checks passed" not in result.output  # the file was not checked
    assert path.read_bytes() == before


# --- whitespace and size -------------------------------------------------------------------


def test_tab_indentation(cli, project):
    path = project / "tabs.py"
    source = b"import asyncio\n\n\nclass C:\n\tasync def main(self):\n\t\tif True:\n\t\t\tasyncio.create_task(work())\n\t\treturn 1\n"
    path.write_bytes(source)
    result = run(cli, project, "fix", "tabs.py")
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert b"\t\t\t" + FIXED_CALL + b"\n" in data
    assert b"\t\treturn 1\n" in data
    compiles(data)


def test_form_feeds_keep_line_numbers(cli, project):
    path = project / "ff.py"
    source = b"import asyncio\n\x0c\n\nasync def main():\n    x = 1 \x0c\n\x0c\n    asyncio.create_task(work())\n"
    path.write_bytes(source)
    checked = run(cli, project, "check", "--output-format", "concise", "ff.py")
    assert checked.exit_code == 1
    assert "ff.py:7:5: TET101" in checked.stdout  # a form feed is not a line break
    result = run(cli, project, "fix", "ff.py")
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert b"\nasync def main():\n    x = 1 \x0c\n\x0c\n    " + FIXED_CALL + b"\n" in data
    compiles(data)


def test_form_feed_that_libcst_would_drop_blocks_the_fix(cli, project):
    """libcst loses a form feed that opens a statement's line: no fix rather than a lost byte."""
    path = project / "ff.py"
    source = b"import asyncio\n\n\x0casync def main():\n    asyncio.create_task(work())\n"
    path.write_bytes(source)
    result = run(cli, project, "fix", "ff.py")
    assert result.exit_code == 1  # the finding remains
    assert "ff.py:4:5: TET101" in result.stdout
    assert "not fixed: libcst would not reproduce this statement byte for byte" in result.stdout
    assert path.read_bytes() == source


def test_very_long_line(cli, project):
    path = project / "long.py"
    long_line = b"DATA = '" + b"x" * 300_000 + b"'\n"
    path.write_bytes(b"import asyncio\n" + long_line + b"\n\nasync def main():\n    asyncio.create_task(work())\n")
    result = run(cli, project, "fix", "long.py")
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert long_line in data and FIXED_CALL in data
    compiles(data)


def test_fifty_thousand_lines(cli, project):
    path = project / "big.py"
    # Mostly comments: the point is line handling at this size; statement-heavy files of this
    # length take ~20 s to fix on the 2-core CI machine (seven full ast walks per analysis).
    filler = b"".join(b"def f%d(x):\n    return x + %d\n" % (i, i) if i % 10 == 0 else b"# line %d\n" % i for i in range(50_000))
    source = b"import asyncio\n" + filler + b"\n\nasync def main():\n    asyncio.create_task(work())\n"
    assert source.count(b"\n") > 50_000
    path.write_bytes(source)
    result = run(cli, project, "fix", "big.py")
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert filler in data  # every untouched line is still there, byte for byte
    assert data.endswith(b"async def main():\n    " + FIXED_CALL + b"\n")
    compiles(data)


def test_empty_and_trivial_files(cli, project):
    files = {
        "empty.py": b"",
        "blank.py": b"\n\n   \n",
        "comment.py": b"# asyncio.create_task(work()) is only mentioned here\n",
        "no_newline.py": b"x = 'create_task'",
    }
    for name, data in files.items():
        (project / name).write_bytes(data)
    for command in ("check", "fix"):
        result = run(cli, project, command, *files)
        assert result.exit_code == 0, result.output
        assert_clean_errors(result, 0)
    for name, data in files.items():
        assert (project / name).read_bytes() == data


def test_mixed_line_endings(cli, project):
    path = project / "mixed.py"
    source = b"import asyncio\r\n\r\n\r\nasync def main():\n    x = 1\r\n    asyncio.create_task(work())\n    return x\r\n"
    path.write_bytes(source)
    result = run(cli, project, "fix", "mixed.py")
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert b"async def main():\n    x = 1\r\n    " + FIXED_CALL + b"\n    return x\r\n" in data
    compiles(data)
    again = run(cli, project, "fix", "mixed.py")
    assert again.exit_code == 0 and path.read_bytes() == data


# --- files that do not parse ---------------------------------------------------------------


def test_unparsable_file_among_good_ones(cli, project):
    (project / "a.py").write_bytes(GOOD)
    bad = project / "b.py"
    bad.write_bytes(b"import asyncio\nasync def f(:\n    asyncio.create_task(g())\n")
    (project / "c.py").write_bytes(GOOD)
    result = run(cli, project, "fix", ".")
    assert result.exit_code == 2
    (line,) = assert_clean_errors(result, 1)
    assert line.startswith("error: ") and "b.py:2:" in line and "cannot parse" in line
    assert bad.read_bytes() == b"import asyncio\nasync def f(:\n    asyncio.create_task(g())\n"
    assert FIXED_CALL in (project / "a.py").read_bytes()
    assert FIXED_CALL in (project / "c.py").read_bytes()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"x = " + b"-" * 50_000 + b"1\n", id="50000-unary-minus"),  # MemoryError in the parser
        pytest.param(b"x = " + b"+".join([b"a"] * 100_000) + b"\n", id="100000-term-sum"),  # RecursionError
        pytest.param(b"".join(b"    " * i + b"if x:\n" for i in range(120)) + b"    " * 120 + b"pass\n", id="120-indents"),
        pytest.param(b"x = " + b"[" * 1000 + b"]" * 1000 + b"\n", id="1000-brackets"),
    ],
)
def test_deep_nesting_is_one_line(cli, project, body):
    path = project / "deep.py"
    source = b"import asyncio\nasync def f():\n    asyncio.create_task(g())\n" + body
    path.write_bytes(source)
    for command in ("check", "fix"):
        result = run(cli, project, command, "deep.py")
        assert result.exit_code == 2
        (line,) = assert_clean_errors(result, 1)
        assert "deep.py" in line
    assert path.read_bytes() == source


def test_internal_error_is_one_line_and_run_continues(cli, project, monkeypatch):
    from codemods import dangling_task

    calls = []

    def broken_check(module, settings):
        calls.append(module)
        if "boom" in module.text:
            raise KeyError("simulated bug")
        return original(module, settings)

    original = dangling_task.RULE.check
    monkeypatch.setattr(dangling_task.RULE, "check", broken_check)
    (project / "a_boom.py").write_bytes(GOOD + b"# boom\n")
    (project / "b.py").write_bytes(GOOD)
    result = run(cli, project, "fix", ".")
    assert len(calls) >= 2
    assert result.exit_code == 2
    (line,) = assert_clean_errors(result, 1)
    assert "a_boom.py: internal error: KeyError" in line and "left untouched" in line
    assert (project / "a_boom.py").read_bytes() == GOOD + b"# boom\n"
    assert FIXED_CALL in (project / "b.py").read_bytes()


# --- symlinks ------------------------------------------------------------------------------


def test_walk_never_writes_through_symlinks_leaving_the_tree(cli, project):
    outside = project / "outside"
    outside.mkdir()
    victim = outside / "victim.py"
    victim.write_bytes(GOOD)
    tree = project / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "linked_file.py").symlink_to(victim)
    (tree / "linked_dir").symlink_to(outside, target_is_directory=True)
    (tree / "own.py").write_bytes(GOOD)
    result = run(cli, project, "fix", "tree")
    assert result.exit_code == 0, result.output
    assert victim.read_bytes() == GOOD
    assert FIXED_CALL in (tree / "own.py").read_bytes()
    checked = run(cli, project, "check", "--output-format", "concise", "tree")
    assert "victim" not in checked.output and "linked" not in checked.output


def test_symlink_inside_the_tree_is_fixed_once_and_stays_a_link(cli, project):
    tree = project / "tree"
    tree.mkdir()
    (tree / "real.py").write_bytes(GOOD)
    (tree / "alias.py").symlink_to("real.py")
    checked = run(cli, project, "check", "--output-format", "concise", "tree")
    assert checked.stdout.count("TET101") == 1
    result = run(cli, project, "fix", "tree")
    assert result.exit_code == 0, result.output
    assert (tree / "alias.py").is_symlink()
    assert (tree / "real.py").read_bytes().count(FIXED_CALL) == 1


def test_explicit_symlink_is_followed_and_stays_a_link(cli, project):
    """A symlink the user names is their choice of file: its target is fixed, the link kept."""
    target = project / "target.py"
    target.write_bytes(GOOD)
    link = project / "link.py"
    link.symlink_to(target)
    mode = stat.S_IMODE(target.stat().st_mode)
    result = run(cli, project, "fix", "link.py")
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert FIXED_CALL in target.read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_symlink_loop_terminates(cli, project):
    tree = project / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "up").symlink_to("..", target_is_directory=True)
    (tree / "a" / "m.py").write_bytes(GOOD)
    result = run(cli, project, "check", "--output-format", "concise", "tree")
    assert result.exit_code == 1
    assert result.stdout.count("TET101") == 1


def test_broken_symlink_named_explicitly(cli, project):
    (project / "dangling.py").symlink_to(project / "missing.py")
    (project / "good.py").write_bytes(GOOD)
    result = run(cli, project, "fix", "dangling.py", "good.py")
    assert result.exit_code == 2
    (line,) = assert_clean_errors(result, 1)
    assert "dangling.py" in line and "broken symbolic link" in line
    assert FIXED_CALL in (project / "good.py").read_bytes()


# --- permissions and races -----------------------------------------------------------------


def test_read_only_file_reported_untouched_and_run_continues(cli, project):
    read_only = project / "ro.py"
    read_only.write_bytes(GOOD)
    read_only.chmod(0o444)
    (project / "rw.py").write_bytes(GOOD)
    try:
        result = run(cli, project, "fix", "ro.py", "rw.py")
        assert result.exit_code == 2
        (line,) = assert_clean_errors(result, 1)
        assert "ro.py" in line and "read-only" in line
        assert read_only.read_bytes() == GOOD
        assert stat.S_IMODE(read_only.stat().st_mode) == 0o444
        assert FIXED_CALL in (project / "rw.py").read_bytes()
        # check and diff only read: a read-only file is no error for them
        assert run(cli, project, "diff", "ro.py").exit_code == 1
    finally:
        read_only.chmod(0o644)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can create files owned by someone else")
def test_owner_and_mode_are_kept(cli, project):
    path = project / "theirs.py"
    path.write_bytes(GOOD)
    os.chown(path, 1234, 2345)
    path.chmod(0o751)
    result = run(cli, project, "fix", "theirs.py")
    assert result.exit_code == 0, result.output
    assert FIXED_CALL in path.read_bytes()
    status = path.stat()
    assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (1234, 2345, 0o751)


def test_read_only_file_system(project):
    """A real read-only bind mount, in a private mount namespace (needs root: unshare -m)."""
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a private read-only bind mount; simulated below")
    path = project / "m.py"
    path.write_bytes(GOOD)
    script = (
        f"mount --bind {project} {project} && mount -o remount,bind,ro {project} && "
        f"exec {sys.executable} -m tether fix --no-cache m.py"
    )
    completed = subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=project, capture_output=True, text=True)
    if "mount:" in completed.stderr or "unshare:" in completed.stderr:
        pytest.skip(f"no private mounts here: {completed.stderr.strip()}")
    assert completed.returncode == 2, completed.stderr
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "m.py" in errors[0] and "read-only" in errors[0], completed.stderr
    assert "Traceback" not in completed.stderr
    assert path.read_bytes() == GOOD


def test_file_changed_between_read_and_write_is_skipped(cli, project, monkeypatch):
    path = project / "racy.py"
    path.write_bytes(GOOD)
    edited = GOOD + b"# an edit saved by the user while tether was working\n"
    original = tether.engine.process_data
    raced = []

    def process_then_edit(data, name, *args, **kwargs):
        outcome = original(data, name, *args, **kwargs)
        if name.endswith("racy.py"):
            Path(name).write_bytes(edited)  # the user saves after tether read the file
            raced.append(name)
        return outcome

    monkeypatch.setattr(tether.engine, "process_data", process_then_edit)
    (project / "calm.py").write_bytes(GOOD)
    result = run(cli, project, "fix", "racy.py", "calm.py")
    assert raced
    assert result.exit_code == 2
    (line,) = assert_clean_errors(result, 1)
    assert "racy.py" in line and "changed on disk" in line
    assert path.read_bytes() == edited  # the user's edit is not lost
    assert FIXED_CALL in (project / "calm.py").read_bytes()
    assert not list(project.glob(".tether-*"))


def test_unreadable_file(cli, project, monkeypatch):
    (project / "secret.py").write_bytes(GOOD)
    (project / "open.py").write_bytes(GOOD)
    real_open = builtins.open
    denied = []

    def guarded_open(file, *args, **kwargs):
        if str(file).endswith("secret.py"):
            denied.append(file)
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    result = run(cli, project, "fix", ".")
    assert denied
    assert result.exit_code == 2
    (line,) = assert_clean_errors(result, 1)
    assert "secret.py" in line and "cannot read: Permission denied" in line
    assert FIXED_CALL in (project / "open.py").read_bytes()
    monkeypatch.undo()
    assert (project / "secret.py").read_bytes() == GOOD


def test_unreadable_directory_is_reported(cli, project, monkeypatch):
    (project / "locked").mkdir()
    (project / "locked" / "m.py").write_bytes(GOOD)
    (project / "m.py").write_bytes(GOOD)
    real_scandir = os.scandir
    denied = []

    def guarded_scandir(path="."):
        if str(path).endswith("locked"):
            denied.append(path)
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", guarded_scandir)
    result = run(cli, project, "check", "--output-format", "concise", ".")
    assert denied
    assert result.exit_code == 2
    (line,) = assert_clean_errors(result, 1)
    assert "locked" in line and "cannot read directory: Permission denied" in line
    assert "m.py:5:5: TET101" in result.stdout


def test_directory_not_writable(cli, project, monkeypatch):
    path = project / "m.py"
    path.write_bytes(GOOD)
    denied = []

    def no_temp_file(*args, **kwargs):
        denied.append(kwargs.get("dir"))
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", no_temp_file)
    result = run(cli, project, "fix", "m.py")
    assert denied
    assert result.exit_code == 2
    (line,) = assert_clean_errors(result, 1)
    assert "m.py" in line and "cannot write in" in line and "Permission denied" in line
    assert path.read_bytes() == GOOD


def test_failed_replace_leaves_original_and_no_temporary_file(cli, project, monkeypatch):
    path = project / "m.py"
    path.write_bytes(GOOD)
    failed = []

    def failing_replace(src, dst):
        failed.append(dst)
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tether.source.os, "replace", failing_replace)
    result = run(cli, project, "fix", "m.py")
    assert failed
    assert result.exit_code == 2
    (line,) = assert_clean_errors(result, 1)
    assert "m.py: cannot write: Read-only file system" in line
    assert path.read_bytes() == GOOD
    assert sorted(p.name for p in project.iterdir()) == ["m.py", "pyproject.toml"]


# --- paths of the wrong kind ---------------------------------------------------------------


def test_directory_passed_as_config_file(cli, project):
    (project / "conf").mkdir()
    (project / "m.py").write_bytes(GOOD)
    result = run(cli, project, "check", "--config", "conf", "m.py")
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "is a directory" in result.output
    assert (project / "m.py").read_bytes() == GOOD


def test_directory_where_a_file_was_found(project):
    """A file that became a directory between discovery and reading (process_path's race)."""
    from tether.config import Settings

    (project / "pkg.py").mkdir()
    result = tether.engine.process_path(str(project / "pkg.py"), Settings(), "fix", write=True)
    assert result.error is not None and "is a directory, expected a Python file" in result.error


def test_directory_named_like_a_module_is_walked(cli, project):
    (project / "odd.py").mkdir()
    (project / "odd.py" / "inner.py").write_bytes(GOOD)
    result = run(cli, project, "fix", "odd.py")
    assert result.exit_code == 0, result.output
    assert FIXED_CALL in (project / "odd.py" / "inner.py").read_bytes()


def test_missing_path(cli, project):
    (project / "m.py").write_bytes(GOOD)
    result = run(cli, project, "check", "--output-format", "concise", "nope.py", "m.py")
    assert result.exit_code == 2
    (line,) = assert_clean_errors(result, 1)
    assert "nope.py" in line and "no such file or directory" in line
    assert "m.py:5:5: TET101" in result.stdout


def test_stdin_with_undecodable_bytes(cli, project):
    data = b"import asyncio\nx = '\xff'\nasync def f():\n    asyncio.create_task(g())\n"
    result = cli(["fix", "--no-cache", "-"], input=data, cwd=project)
    assert result.exit_code == 2
    assert result.stdout_bytes == data  # the editor gets its text back unchanged
    (line,) = assert_clean_errors(result, 1)
    assert "cannot decode" in line
