"""Shared test helpers: running the CLI in-process and in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


@pytest.fixture
def cli():
    """Invoke ``tether`` in-process: cli(args, input=bytes) -> click Result (exit_code, stdout_bytes)."""
    from tether.cli import main

    def invoke(args, input=None, cwd=None):
        runner = CliRunner()
        old = os.getcwd()
        if cwd is not None:
            os.chdir(cwd)
        try:
            return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
        finally:
            os.chdir(old)

    return invoke


def run_tether(args, cwd=None, input=None, env=None) -> subprocess.CompletedProcess:
    """Invoke ``python -m tether`` in a subprocess (for exit codes, stdin, imports)."""
    return subprocess.run(
        [sys.executable, "-m", "tether", *[str(a) for a in args]],
        cwd=cwd,
        input=input,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
