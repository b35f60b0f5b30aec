"""The language server's pieces without a client: positions, edits, code actions, noqa."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from lsprotocol import types as lsp

from lsp_support import apply_edits, edits_of
from tether.config import Settings
from tether.lsp import features
from tether.lsp.edits import line_edits
from tether.lsp.positions import end_of_document, from_lsp, text_lines, to_lsp
from tether.model import UNSAFE, Fix

ENCODINGS = ("utf-8", "utf-16", "utf-32")
DANGLING = "import asyncio\n\n\nasync def main():\n    asyncio.create_task(main())\n"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_positions_round_trip_over_non_bmp_and_crlf(encoding):
    text = "a = '😀𝄞é'\r\nb = '中'  # x\rc\n"
    lines = text_lines(text)
    assert len(lines) == 3  # \r alone ends a line for Python and for LSP
    for row, line in enumerate(lines, start=1):
        for col in range(1, len(line.rstrip("\r\n")) + 2):
            assert from_lsp(lines, *to_lsp(lines, row, col, encoding), encoding) == (row, col)
    width = {"utf-8": 4, "utf-16": 2, "utf-32": 1}[encoding]
    assert to_lsp(lines, 1, 6, encoding) == (0, 5)  # the emoji: all ASCII before it
    assert to_lsp(lines, 1, 7, encoding) == (0, 5 + width)
    assert to_lsp(lines, 1, 8, encoding) == (0, 5 + 2 * width)  # 𝄞 is outside the BMP too
    assert end_of_document(lines, encoding) == (3, 0)
    assert end_of_document(text_lines("x = '😀'"), encoding) == (0, 6 + width)


LINES = st.sampled_from(["x = 1\n", "y = '😀'\n", "\n", "    pass\r\n", "z = '中é'\n", "tail", "w\r"])


@hsettings(max_examples=200, deadline=None)
@given(old=st.lists(LINES, max_size=8), new=st.lists(LINES, max_size=8), encoding=st.sampled_from(ENCODINGS))
def test_line_edits_turn_old_into_new(old, new, encoding):
    # "tail" (no newline) is only valid as a last line
    old_text = "".join(l if l != "tail" or i == len(old) - 1 else "tail\n" for i, l in enumerate(old))
    new_text = "".join(l if l != "tail" or i == len(new) - 1 else "tail\n" for i, l in enumerate(new))
    edits = [
        lsp.TextEdit(range=lsp.Range(lsp.Position(*e.start), lsp.Position(*e.end)), new_text=e.new_text)
        for e in line_edits(old_text, new_text, encoding)
    ]
    assert apply_edits(old_text, edits, encoding) == new_text


def _analysis(text=DANGLING, settings=Settings()):
    return features.analyse_document(text, "app.py", settings)


def test_half_typed_text_has_no_findings_and_no_actions():
    analysis = _analysis("async def main(:\n    asyncio.create_task(")
    assert analysis.findings is None
    assert features.diagnostics(analysis) == []
    context = lsp.CodeActionContext(diagnostics=[])
    everything = lsp.Range(lsp.Position(0, 0), lsp.Position(9, 0))
    assert features.code_actions(analysis, "app.py", Settings(), features.Target("file:///app.py", 1), everything, context) == []


def test_the_unsafe_alternative_is_a_second_action_that_says_what_it_changes():
    settings = Settings()
    analysis = _analysis()
    (finding,) = analysis.findings
    (safe,) = finding.fixes
    # TET101's companion-task TaskGroup form: the same plan rendered as the unsafe alternative
    taskgroup = Fix(UNSAFE, "Run it in an `asyncio.TaskGroup`", safe.plan, safe.lines, style="taskgroup")
    finding = replace(finding, fixes=(taskgroup, safe))
    target = features.Target("file:///app.py", 3)
    actions = features.quick_fixes(analysis, "app.py", settings, target, finding)
    assert [a.title for a in actions] == [
        "Keep a strong reference with `_keep_task(...)` (TET101)",
        "Run it in an `asyncio.TaskGroup` (TET101; unsafe: a failure is raised as an ExceptionGroup, "
        "so `except` clauses around it stop matching)",
        "Disable TET101 for this line",
    ]
    assert [a.is_preferred for a in actions] == [True, False, None]
    assert all(a.kind == lsp.CodeActionKind.QuickFix and a.diagnostics[0].code == "TET101" for a in actions)
    assert actions[0].edit.document_changes[0].text_document.version == 3
    # with --unsafe-fixes and the taskgroup style, the TaskGroup form is the one `tether fix` applies
    chosen = features.quick_fixes(analysis, "app.py", replace(settings, unsafe_fixes=True, style="taskgroup"), target, finding)
    assert [a.is_preferred for a in chosen[:2]] == [False, True]
    guard = Fix(UNSAFE, "Cancel it when the scope ends", safe.plan, safe.lines, style="guard")
    (_, cancelling, _) = features.quick_fixes(analysis, "app.py", settings, target, replace(finding, fixes=(safe, guard)))
    assert cancelling.title.endswith("(TET101; unsafe: cancels tasks that the original code left running)")
    # a rule whose title already explains the change is not explained twice
    explained = replace(guard, title="Cancel it when the scope ends (unsafe: cancels the heartbeat)")
    (_, own, _) = features.quick_fixes(analysis, "app.py", settings, target, replace(finding, fixes=(safe, explained)))
    assert own.title == "Cancel it when the scope ends (unsafe: cancels the heartbeat) (TET101)"


def test_edits_are_unversioned_changes_for_clients_without_document_changes():
    analysis = _analysis()
    target = features.Target("file:///app.py", 3, versioned=False)
    (fix, _) = features.quick_fixes(analysis, "app.py", Settings(), target, analysis.findings[0])
    fixed = apply_edits(DANGLING, edits_of(fix.edit, "file:///app.py"))
    assert "    _keep_task(asyncio.create_task(main()))\n" in fixed
    compile(fixed, "app.py", "exec")


@pytest.mark.parametrize(
    "line, expected",
    [
        ("    asyncio.create_task(main())", "    asyncio.create_task(main())  # noqa: TET101"),
        ("    asyncio.create_task(main())   ", "    asyncio.create_task(main())  # noqa: TET101"),
        ("    asyncio.create_task(main())  # why", "    asyncio.create_task(main())  # why  # noqa: TET101"),
        ("    asyncio.create_task(main())  # noqa: E501 (long)", "    asyncio.create_task(main())  # noqa: E501, TET101 (long)"),
    ],
)
def test_noqa_edit(line, expected):
    text = DANGLING.replace("    asyncio.create_task(main())", line)
    analysis = _analysis(text)
    edit = features.noqa_edit(text, analysis.lines, analysis.findings[0])
    as_lsp = lsp.TextEdit(range=lsp.Range(lsp.Position(*edit.start), lsp.Position(*edit.end)), new_text=edit.new_text)
    fixed = apply_edits(text, [as_lsp])
    assert fixed.splitlines()[4] == expected
    assert _analysis(fixed).findings == []


@pytest.mark.parametrize(
    "line",
    [
        '    asyncio.create_task(say("""multi\nline"""))',  # a comment would land inside the string
        "    asyncio.create_task(main(1, \\\n        2))",  # nor after a line continuation
    ],
)
def test_no_noqa_action_where_a_comment_cannot_go(line):
    text = DANGLING.replace("    asyncio.create_task(main())", line)
    analysis = _analysis(text)
    (finding,) = analysis.findings
    assert features.noqa_edit(text, analysis.lines, finding) is None


def test_kind_filter_follows_the_lsp_hierarchy():
    assert features.kind_wanted("source.fixAll.tether", ["source"])
    assert features.kind_wanted("source.fixAll.tether", ["source.fixAll"])
    assert not features.kind_wanted("source.fixAll.tether", ["source.fix"])
    assert not features.kind_wanted("quickfix", ["source.fixAll"])
    assert features.kind_wanted("quickfix", None)


def test_pygls_is_imported_only_by_the_lsp_command():
    import subprocess
    import sys

    code = "import sys, tether.cli, tether.lsp.features; print('pygls' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
