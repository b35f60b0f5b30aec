"""The warm path of ``tether check`` (tether/warm.py) against the command line it short-cuts.

The command line (``tether.cli``) is the reference: after a slow run has written its
snapshot, the warm path must print byte for byte what the command line prints, with the
same exit code, and must refuse (print nothing, so the command line runs) after any change
that could alter the answer: a new, deleted, renamed or edited file, a changed
.gitignore or configuration file, a re-pointed symbolic link, another tool version.

Both paths run in subprocesses, as users run them. ``RACY_SECONDS`` (how recent a change
must be for a stat not to be trusted) is set to 0 in those processes so that a snapshot
is written right after the tree is made; one test keeps the real value.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tether import warm

DANGLING = "import asyncio\n\n\nasync def job():\n    asyncio.create_task(job())\n    t = asyncio.ensure_future(job())\n"
CLEAN = "def add(a, b):\n    return a + b\n"
BROKEN = "import asyncio\ndef f(:\n    asyncio.create_task(x())\n"
REFUSED = 99  # exit code of WARM when the warm path declined

# the command line, with RACY_SECONDS from argv[1] (the slow path, which writes snapshots)
SLOW = """
import sys
import tether.cache
tether.cache.RACY_SECONDS = float(sys.argv.pop(1))
from tether.cli import main
main()
"""

# only the warm path: exit REFUSED when it declines, having printed nothing
WARM = f"""
import sys
from tether.warm import answer
code = answer(sys.argv[1:])
sys.exit({REFUSED} if code is None else code)
"""


def run(script: str, args, cwd: Path) -> tuple[int, bytes, bytes]:
    proc = subprocess.run(
        [sys.executable, "-c", script, *[str(a) for a in args]],
        cwd=cwd,
        capture_output=True,
        env={**os.environ, "CI": "1"},
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def slow(root: Path, *args, racy: float = 0.0):
    return run(SLOW, [str(racy), "check", *args], root)


def fast(root: Path, *args):
    return run(WARM, ["check", *args], root)


def make_tree(root: Path) -> Path:
    """A repository: findings, clean files, an unparsable file, a .gitignore'd folder."""
    (root / ".git").mkdir(parents=True)
    (root / ".gitignore").write_text("generated/\n")
    (root / "pyproject.toml").write_text("[tool.tether]\n")
    files = {
        "app.py": DANGLING,
        "pkg/__init__.py": "",
        "pkg/clean.py": CLEAN,
        "pkg/dangling.py": DANGLING,
        "pkg/sub/deep.py": DANGLING.replace("job", "deep"),
        "pkg/sub/broken.py": BROKEN,
        "generated/ignored.py": DANGLING,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def warmed(root: Path, *args):
    """Run the command line (writing the snapshot) and check the warm path answers alike."""
    reference = slow(root, *args)
    assert fast(root, *args) == reference
    return reference


def assert_refused_then_same(root: Path, *args):
    """After a change: the warm path refuses; the command line's new answer is replayed next."""
    assert fast(root, *args)[0] == REFUSED
    reference = slow(root, *args)
    assert fast(root, *args) == reference
    return reference


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "project")


# -- identical answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        (),
        (".",),
        (".", "--output-format", "concise"),
        (".", "--output-format=full"),
        ("pkg", "app.py", "--output-format", "concise"),
        ("pkg/sub",),
        ("pkg/clean.py",),
        ("pkg", "pkg/sub", "pkg/dangling.py"),  # overlapping paths: each file once
    ],
)
def test_warm_answer_is_the_command_lines(tree, args):
    code, out, err = warmed(tree, *args)
    assert code in (0, 1, 2)
    if args != ("pkg/clean.py",):
        assert b"TET101" in out


def test_warm_answer_with_absolute_paths_and_from_another_directory(tree, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code, out, err = warmed(elsewhere, str(tree / "pkg"), "--output-format", "concise")
    assert code == 2 and b"broken.py" in err and str(tree).encode() in out


def test_warm_answer_follows_unsafe_fixes_and_style_from_the_config(tree):
    (tree / "pyproject.toml").write_text('[tool.tether]\nunsafe-fixes = true\nstyle = "taskgroup"\n')
    code, out, err = warmed(tree, "--output-format", "full")
    assert code == 2 and b"[*]" in out


def test_clean_tree_warm_answer(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.tether]\n")
    (tmp_path / "a.py").write_text(CLEAN)
    assert warmed(tmp_path) == (0, b"All checks passed!\n", b"")
    assert warmed(tmp_path, "--output-format", "concise") == (0, b"", b"")


def test_the_real_tether_command_uses_the_warm_path_without_click_or_dataclasses(tree):
    """(``full`` output reads the lines of files with findings, which needs tether.source.)"""
    slow(tree, ".", "--output-format", "concise")
    probe = (
        "import sys\nsys.argv = ['tether', 'check', '.', '--output-format', 'concise']\nfrom tether._entry import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(code, sorted(m for m in ('click', 'dataclasses', 'typing', 'tether.model', 'tether.cli') if m in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=tree, capture_output=True, env={**os.environ, "CI": "1"})
    assert proc.stderr.decode().splitlines()[-1] == "2 []"
    assert proc.stdout == slow(tree, ".", "--output-format", "concise")[1]


# -- what the warm path leaves to the command line ----------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--select", "TET101"],
        ["check", ".", "--no-cache"],
        ["check", "-"],
        ["check", ".", "--output-format", "json"],
        ["check", ".", "--output-format", "sarif"],
        ["check", ".", "--output-format"],
        ["check", "--", "x.py"],
        ["check", ".", "--jobs", "2"],
        ["diff", "."],
        ["check", ".", "--help"],
    ],
)
def test_only_plain_check_invocations_are_recognised(argv):
    assert warm.parse_check(argv) is None


def test_plain_check_invocations_are_recognised():
    assert warm.parse_check(["check"]) == ((".",), "full")
    assert warm.parse_check(["check", "a", "--output-format", "concise", "b"]) == (("a", "b"), "concise")
    assert warm.parse_check(["check", "--output-format=concise", "--output-format", "full"]) == ((".",), "full")


def test_options_that_change_settings_write_no_snapshot(tree):
    slow(tree, ".", "--select", "TET102")  # finds nothing: must not be replayed for a plain check
    assert fast(tree, ".")[0] == REFUSED
    slow(tree, ".", "--no-cache")
    assert fast(tree, ".")[0] == REFUSED
    warmed(tree, ".")


def test_no_warm_answer_without_a_snapshot_or_with_a_discovery_error(tree):
    assert fast(tree, ".")[0] == REFUSED
    slow(tree, ".", "missing.py")  # "no such file or directory": not replayed
    assert fast(tree, ".", "missing.py")[0] == REFUSED


def test_recent_changes_are_not_trusted(tree):
    """With the real RACY_SECONDS, a tree changed just now gets no snapshot: a change in
    the same clock tick would not move any mtime."""
    slow(tree, ".", racy=2.0)
    assert fast(tree, ".")[0] == REFUSED
    assert not list((tree / ".tether_cache").glob("warm-*"))


def test_snapshots_are_pruned(tree):
    for index in range(warm.MAX_SNAPSHOTS + 3):
        (tree / f"m{index}.py").write_text(CLEAN)
    for index in range(warm.MAX_SNAPSHOTS + 3):
        slow(tree, f"m{index}.py")
    assert len(list((tree / ".tether_cache").glob("warm-*"))) == warm.MAX_SNAPSHOTS


# -- invalidation: each change that can alter the answer ------------------------------------------


def test_new_file(tree):
    before = warmed(tree, ".", "--output-format", "concise")
    (tree / "pkg" / "sub" / "new.py").write_text(DANGLING)
    after = assert_refused_then_same(tree, ".", "--output-format", "concise")
    assert b"new.py" in after[1] and after != before


def test_new_directory(tree):
    warmed(tree)
    (tree / "pkg" / "fresh").mkdir()
    (tree / "pkg" / "fresh" / "mod.py").write_text(DANGLING)
    assert b"fresh" in assert_refused_then_same(tree)[1]


def test_deleted_file(tree):
    warmed(tree, "--output-format", "concise")
    (tree / "pkg" / "dangling.py").unlink()
    assert b"pkg/dangling.py" not in assert_refused_then_same(tree, "--output-format", "concise")[1]


def test_renamed_file(tree):
    warmed(tree, "--output-format", "concise")
    (tree / "pkg" / "dangling.py").rename(tree / "pkg" / "renamed.py")
    out = assert_refused_then_same(tree, "--output-format", "concise")[1]
    assert b"renamed.py" in out and b"pkg/dangling.py" not in out


def test_edited_file_same_size(tree):
    before = warmed(tree, "--output-format", "full")
    path = tree / "pkg" / "dangling.py"
    time.sleep(0.05)  # ordering: the edit gets a later mtime than the snapshot saw
    path.write_text(DANGLING.replace("job", "bob"))  # same size, new content
    after = assert_refused_then_same(tree, "--output-format", "full")
    assert b"bob" in after[1] and after != before


def test_edited_file_fixed(tree):
    warmed(tree, "app.py")
    (tree / "app.py").write_text(CLEAN)
    assert assert_refused_then_same(tree, "app.py")[0] == 0


def test_edited_gitignore(tree):
    warmed(tree, "--output-format", "concise")
    (tree / ".gitignore").write_text("generated/\npkg/sub/\n")
    out = assert_refused_then_same(tree, "--output-format", "concise")
    assert b"deep" not in out[1] and b"broken" not in out[2]


def test_new_gitignore_in_a_subdirectory(tree):
    warmed(tree, "--output-format", "concise")
    (tree / "pkg" / ".gitignore").write_text("dangling.py\n")
    assert b"pkg/dangling.py" not in assert_refused_then_same(tree, "--output-format", "concise")[1]


def test_gitignore_above_the_path_checked(tree):
    """`tether check pkg` honours the repository's .gitignore above pkg."""
    warmed(tree, "pkg", "--output-format", "concise")
    (tree / ".gitignore").write_text("generated/\nsub/\n")
    assert b"deep" not in assert_refused_then_same(tree, "pkg", "--output-format", "concise")[1]


def test_repository_root_marker(tree):
    """Without .git, the .gitignore above the path checked no longer applies."""
    (tree / ".gitignore").write_text("generated/\nsub/\n")
    assert b"deep" not in warmed(tree, "pkg", "--output-format", "concise")[1]
    (tree / ".git").rmdir()
    assert b"deep" in assert_refused_then_same(tree, "pkg", "--output-format", "concise")[1]


def test_changed_config(tree):
    warmed(tree, "--output-format", "concise")
    (tree / "pyproject.toml").write_text('[tool.tether]\nignore = ["TET101"]\n')
    assert b"TET101" not in assert_refused_then_same(tree, "--output-format", "concise")[1]


def test_changed_config_exclude(tree):
    warmed(tree, "--output-format", "concise")
    (tree / "pyproject.toml").write_text('[tool.tether]\nexclude = ["pkg/"]\n')
    assert b"pkg/" not in assert_refused_then_same(tree, "--output-format", "concise")[1]


def test_changed_config_report_settings(tree):
    warmed(tree, "--output-format", "full")
    (tree / "pyproject.toml").write_text('[tool.tether]\nunsafe-fixes = true\nstyle = "taskgroup"\n')
    assert_refused_then_same(tree, "--output-format", "full")


def test_new_config_file_nearer_the_path(tree):
    warmed(tree, "pkg", "--output-format", "concise")
    (tree / "pkg" / "tether.toml").write_text('ignore = ["TET1"]\n')
    out = assert_refused_then_same(tree, "pkg", "--output-format", "concise")
    assert b"TET101" not in out[1]


def test_deleted_config_file(tree):
    (tree / "pkg" / "tether.toml").write_text('ignore = ["TET1"]\n')
    assert b"TET101" not in warmed(tree, "pkg", "--output-format", "concise")[1]
    (tree / "pkg" / "tether.toml").unlink()
    assert b"TET101" in assert_refused_then_same(tree, "pkg", "--output-format", "concise")[1]


def test_path_changing_kind(tree):
    (tree / "target").mkdir()
    (tree / "target" / "m.py").write_text(DANGLING)
    warmed(tree, "target", "--output-format", "concise")
    (tree / "target" / "m.py").unlink()
    (tree / "target").rmdir()
    (tree / "target").write_text(CLEAN)  # now a file (not *.py, but named: checked anyway)
    assert assert_refused_then_same(tree, "target", "--output-format", "concise")[0] == 0


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="symbolic links")
def test_repointed_symbolic_link(tree):
    (tree / "pkg" / "link.py").symlink_to(tree / "pkg" / "clean.py")
    warmed(tree, "--output-format", "concise")
    (tree / "pkg" / "link.py").unlink()
    (tree / "pkg" / "link.py").symlink_to(tree / "generated" / "ignored.py")  # not seen by another path
    assert b"pkg/link.py" in assert_refused_then_same(tree, "--output-format", "concise")[1]


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="symbolic links")
def test_dangling_symbolic_link_whose_target_appears(tree):
    """The target lies in an always-skipped folder the walk does not list: only the link's
    own record can notice the target appearing."""
    (tree / "build").mkdir()
    (tree / "pkg" / "later.py").symlink_to(tree / "build" / "later.py")
    assert b"later" not in warmed(tree, "--output-format", "concise")[1]
    (tree / "build" / "later.py").write_text(DANGLING)  # changes the mtime of build/ only
    assert b"pkg/later.py" in assert_refused_then_same(tree, "--output-format", "concise")[1]


def test_other_tool_version(tree, monkeypatch):
    """The snapshot's name holds the tool fingerprint (version, Python, tether's code)."""
    warmed(tree)
    monkeypatch.chdir(tree)
    import tether.cache

    real = tether.cache.tool_fingerprint()
    name = warm.snapshot_name(os.getcwd(), (".",))
    assert (tree / ".tether_cache" / name).is_file()
    monkeypatch.setattr(tether.cache, "_FINGERPRINT", ["another-version"])
    assert warm.snapshot_name(os.getcwd(), (".",)) != name
    assert warm.answer(["check"]) is None
    monkeypatch.setattr(tether.cache, "_FINGERPRINT", [real])
    assert warm.snapshot_name(os.getcwd(), (".",)) == name


def test_corrupt_snapshot_is_refused(tree):
    warmed(tree)
    for snapshot in (tree / ".tether_cache").glob("warm-*"):
        snapshot.write_bytes(b"\x00garbage")
    assert assert_refused_then_same(tree)[0] == 2


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="symbolic links")
def test_named_file_becoming_a_link_to_another_named_file(tree):
    """Files named on the command line are de-duplicated by real path. A copy replaced by a
    link to its original keeps the (mtime, size) the snapshot saw, yet is now reported once."""
    original, copy = tree / "app.py", tree / "copy.py"
    copy.write_text(original.read_text())
    st = original.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert warmed(tree, "app.py", "copy.py", "--output-format", "concise")[1].count(b"TET101") == 4
    copy.unlink()
    copy.symlink_to(original)
    out = assert_refused_then_same(tree, "app.py", "copy.py", "--output-format", "concise")[1]
    assert out.count(b"TET101") == 2


def test_closed_pipe_exits_1_quietly_like_the_command_line(tree):
    """`tether check | head -0`: both paths stop at the broken pipe with exit code 1."""
    slow(tree, "--output-format", "concise")

    def closed_stdout(script, args):
        read, write = os.pipe()
        os.close(read)  # nobody will read: the first write fails with EPIPE
        try:
            proc = subprocess.run([sys.executable, "-c", script, *args], cwd=tree, stdout=write, stderr=subprocess.PIPE, env={**os.environ, "CI": "1"}, timeout=120)
        finally:
            os.close(write)
        return proc.returncode, proc.stderr.count(b"Traceback")

    assert closed_stdout(WARM, ["check", "pkg/dangling.py", "--output-format", "concise"]) == (REFUSED, 0)  # no snapshot yet
    slow(tree, "pkg/dangling.py", "--output-format", "concise")
    assert closed_stdout(WARM, ["check", "pkg/dangling.py", "--output-format", "concise"]) == (1, 0)
    assert closed_stdout(SLOW, ["0", "check", "pkg/dangling.py", "--output-format", "concise"]) == (1, 0)
