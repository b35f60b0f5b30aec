"""`tether fix --interactive`, driven by answers on stdin like `git add -p`."""

from __future__ import annotations

import io
import os
import stat

from tether.diffs import apply_hunks, render_diff, split_hunks
from tether.interactive import merge_by_fix

TWO_FAR_APART = (
    "import asyncio\n\n\nasync def main():\n    asyncio.create_task(main())\n"
    + "".join(f"    x{i} = {i}\n" for i in range(8))
    + "    asyncio.ensure_future(main())\n"
)
FIRST = "    _keep_task(asyncio.create_task(main()))\n"
SECOND = "    _keep_task(asyncio.ensure_future(main()))\n"


def _project(tmp_path, **files):
    (tmp_path / "pyproject.toml").write_text("[tool.tether]\n")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def test_only_accepted_hunks_are_written_with_the_helper_they_need(tmp_path, cli):
    _project(tmp_path, **{"app.py": TWO_FAR_APART})
    result = cli(["fix", "-i", "app.py"], input="n\ny\n", cwd=tmp_path)
    assert result.exit_code == 1  # the declined finding remains
    out = result.output
    assert out.count("Apply this hunk to app.py [y,n,a,q,?]?") == 2
    assert "-    asyncio.create_task(main())\n+" + FIRST in out  # each hunk is shown before its question
    assert "also adding `_background_tasks`, `_keep_task`" in out
    assert "app.py:15:5: TET101" in out  # what remains is reported (line after the helper)
    fixed = (tmp_path / "app.py").read_text()
    assert SECOND in fixed and FIRST not in fixed and "    asyncio.create_task(main())\n" in fixed
    assert fixed.count("def _keep_task(") == 1
    compile(fixed, "app.py", "exec")
    # the declined fix is still offered by the next run, reusing the helper
    again = cli(["fix", "app.py"], cwd=tmp_path)
    assert again.exit_code == 0
    assert (tmp_path / "app.py").read_text().count("def _keep_task(") == 1


def test_a_applies_the_rest_and_matches_a_plain_fix(tmp_path, cli):
    _project(tmp_path, **{"app.py": TWO_FAR_APART, "plain.py": TWO_FAR_APART})
    result = cli(["fix", "-i", "app.py"], input="a\n", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.count("[y,n,a,q,?]?") == 1  # not asked again after "a"
    assert cli(["fix", "plain.py"], cwd=tmp_path).exit_code == 0
    assert (tmp_path / "app.py").read_bytes() == (tmp_path / "plain.py").read_bytes()


def test_declining_everything_leaves_the_file_byte_identical(tmp_path, cli):
    _project(tmp_path, **{"app.py": TWO_FAR_APART})
    result = cli(["fix", "-i", "app.py"], input="n\nn\n", cwd=tmp_path)
    assert result.exit_code == 1
    assert "also adding" not in result.output
    assert (tmp_path / "app.py").read_text() == TWO_FAR_APART


def test_q_stops_everything_but_keeps_what_was_accepted(tmp_path, cli):
    _project(tmp_path, **{"a.py": TWO_FAR_APART, "b.py": TWO_FAR_APART})
    result = cli(["fix", "-i", "a.py", "b.py"], input="y\nq\n", cwd=tmp_path)
    assert result.exit_code == 1
    assert "Apply this hunk to b.py" not in result.output  # never asked about the second file
    a = (tmp_path / "a.py").read_text()
    assert FIRST in a and SECOND not in a
    assert (tmp_path / "b.py").read_text() == TWO_FAR_APART


def test_end_of_input_counts_as_q(tmp_path, cli):
    _project(tmp_path, **{"app.py": TWO_FAR_APART})
    result = cli(["fix", "-i", "app.py"], input="y\n", cwd=tmp_path)
    assert result.exit_code == 1
    fixed = (tmp_path / "app.py").read_text()
    assert FIRST in fixed and SECOND not in fixed


def test_unknown_answers_print_the_help_and_ask_again(tmp_path, cli):
    _project(tmp_path, **{"app.py": TWO_FAR_APART})
    result = cli(["fix", "-i", "app.py"], input="maybe\n?\ny\ny\n", cwd=tmp_path)
    assert result.exit_code == 0
    assert result.output.count("a - apply this hunk and all later hunks in the file") == 2
    fixed = (tmp_path / "app.py").read_text()
    assert FIRST in fixed and SECOND in fixed


def test_the_write_is_atomic_and_keeps_the_file_mode_and_crlf(tmp_path, cli):
    _project(tmp_path)
    path = tmp_path / "app.py"
    path.write_bytes(TWO_FAR_APART.replace("\n", "\r\n").encode())
    path.chmod(0o755)
    result = cli(["fix", "-i", "app.py"], input="y\ny\n", cwd=tmp_path)
    assert result.exit_code == 0
    data = path.read_bytes()
    assert FIRST.replace("\n", "\r\n").encode() in data and b"\n" not in data.replace(b"\r\n", b"")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tether-")]  # no temporary left over


def test_interactive_cannot_read_the_file_from_stdin(tmp_path, cli):
    _project(tmp_path)
    result = cli(["fix", "-i", "-"], input=TWO_FAR_APART, cwd=tmp_path)
    assert result.exit_code == 2
    assert "cannot fix '-'" in result.output


def test_hunks_are_coloured_on_a_terminal():
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard", width=200)
    render_diff("@@ -1 +1 @@\n-old\n+new\n", console)
    text = buffer.getvalue()
    assert "\x1b[31m-old" in text and "\x1b[32m+new" in text and "\x1b[36m@@" in text


def test_hunks_of_one_fix_are_one_question_and_any_subset_applies():
    lines = [f"line {i}\n" for i in range(20)]
    old = "".join(lines)
    new = "".join("two\n" if i == 2 else "fifteen\n" if i == 15 else l for i, l in enumerate(lines))
    hunks = split_hunks(old, new, context=0)
    assert len(hunks) == 2
    assert apply_hunks(old, hunks[1:]) == old.replace("line 15\n", "fifteen\n")
    assert [len(g) for g in merge_by_fix(hunks, [])] == [1, 1]
    assert [len(g) for g in merge_by_fix(hunks, [(3, 16)])] == [2]  # a fix spanning lines 3..16
