"""Running a program before and after ``tether fix`` to prove a fix by what it does.

A fixture pins the text of a rewrite; only running the code shows that the rewrite keeps
results, exception types and ordering, and that the orphaned work is really gone. Each
behaviour test writes a small asyncio program that prints what it observes (results, which
tasks are still running, which files are still open), runs it in a fresh interpreter, fixes
it with the real CLI, runs it again and compares the two transcripts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Run:
    stdout: str
    stderr: str
    returncode: int

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def other_pythons() -> list[str]:
    """Interpreters besides the current one (pyenv's 3.8+), one per minor version."""
    found: dict[str, str] = {}
    roots = [Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"]
    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for root in roots:
        if not root.is_dir():
            continue
        for candidate in sorted(root.iterdir()):
            match = re.fullmatch(r"3\.(\d+)\.\d+", candidate.name)
            exe = candidate / "bin" / "python3"
            if match and int(match.group(1)) >= 8 and exe.exists():
                minor = f"3.{match.group(1)}"
                if minor != current:
                    found.setdefault(minor, str(exe))
    return [found[k] for k in sorted(found, key=lambda v: int(v.split(".")[1]))]


def run_program(source: str, python: str = sys.executable, timeout: float = 60) -> Run:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "program.py"
        path.write_text(source)
        proc = subprocess.run(
            [python, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp,
            env={**os.environ, "PYTHONASYNCIODEBUG": "0", "PYTHONDONTWRITEBYTECODE": "1"},
        )
    return Run(proc.stdout, proc.stderr, proc.returncode)


def fix_source(source: str, *options: str) -> str:
    """``source`` after ``tether fix OPTIONS`` (run with this checkout's code)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "program.py"
        path.write_text(source)
        (Path(tmp) / "pyproject.toml").write_text("[tool.tether]\n")
        proc = subprocess.run(
            [sys.executable, "-m", "tether", "fix", "--no-cache", *options, str(path)],
            capture_output=True,
            text=True,
            cwd=tmp,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
        )
        if proc.returncode == 2:
            raise AssertionError(f"tether fix failed: {proc.stderr}")
        return path.read_text()


def before_after(source: str, *options: str, python: str = sys.executable) -> tuple[Run, Run, str]:
    """Run ``source``, fix it, run the fixed program; the fix must have changed something."""
    source = textwrap.dedent(source)
    fixed = fix_source(source, *options)
    assert fixed != source, "tether fix changed nothing"
    return run_program(source, python), run_program(fixed, python), fixed
