"""The corpus check (bench/corpus_check.py) on its CI subset: real projects, real CLI.

Marked slow (deselected by default; about two minutes with all rules): run it with
``python -m pytest -m slow tests/test_corpus.py``. The corpus is fetched by the shared fetch.sh
when missing (PyPI access needed); without it the test fails rather than skips, because a
reliability check that silently does not run proves nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def test_corpus_subset_fix_is_safe_and_idempotent(tmp_path: Path, capsys):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import corpus_check
    finally:
        sys.path.remove(str(ROOT / "bench"))
    report = tmp_path / "corpus.json"
    status = corpus_check.main(["--json", str(report)])
    printed = capsys.readouterr().out
    data = json.loads(report.read_text())
    assert data["files"] > 1000, printed  # the subset really ran
    assert data["problems"] == {}, printed
    assert status == 0, printed
    for variant in data["results"].values():
        assert variant["findings"] > 0, printed  # the rules saw real code, not an empty tree
