"""Real test suites after tether: does anything that passed before fail after fixing?

    .venv/bin/python bench/project_suites.py                    # every project in PROJECTS
    .venv/bin/python bench/project_suites.py --project uvicorn  # just one
    .venv/bin/python bench/project_suites.py --variant safe     # just `tether fix`

For each project (a pinned release whose own test suite runs offline):

1. download its sdist from PyPI (``pip download --no-binary``: wheels carry no tests) and
   unpack it; create a virtual environment and install the project *editable* from the
   unpacked tree, with its test dependencies;
2. baseline: run its test suite and record the outcome of every test (by pytest node id);
3. for each variant (``tether fix``; ``--unsafe-fixes``; ``--unsafe-fixes --style
   taskgroup``): restore the pristine sources, run ``tether fix`` with those options on the
   project's package (not its tests), run the suite again and compare: a test that passed in
   the baseline and does not pass now is a regression. Regressions are re-run once, in the
   fixed tree *and* in the pristine one, to tell flaky tests from real breakage;
4. restore the pristine sources and print a markdown table.

Everything lives in ``--work`` (default ``~/.cache/tether-project-suites``); downloads and
environments are reused by later runs. tether itself runs with this interpreter
(``python -m tether``), so run the script with the environment tether is installed in.
Exit status: 0 when no variant has a confirmed regression (or tether crash), 1 otherwise. Not
part of CI: uvicorn and anyio take 3-5 minutes per run (four runs each), and the first set-up
needs PyPI. Baseline failures that come from this sandbox (anyio's tests that resolve
"localhost" over IPv6, discord.py's tests that open a .gitignore missing from its sdist) are
the same before and after and do not count.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Project:
    sdist: str  # pip requirement, pinned (the same release as the corpus where possible)
    install: tuple[str, ...]  # pip arguments; {src} is the unpacked sdist
    package_dirs: tuple[str, ...]  # what tether fixes, relative to the unpacked sdist
    pytest_args: tuple[str, ...] = ()
    why: str = ""


PROJECTS = {
    "uvicorn": Project(
        sdist="uvicorn==0.54.0",
        install=("-e", "{src}[standard]", "pytest", "pytest-mock", "trustme", "cryptography", "httpx", "httpx2",
                 "a2wsgi", "wsproto", "zttp"),
        package_dirs=("uvicorn",),
        # its addopts ask for pytest-xdist (-n 8); the benchmarks need pytest-codspeed
        pytest_args=("-o", "addopts=", "--ignore=tests/benchmarks", "-p", "no:cacheprovider"),
        why="ASGI server: lifespan task, protocol tasks, servers started and stopped in tests",
    ),
    "anyio": Project(
        sdist="anyio==4.16.0",
        install=("-e", "{src}[trio]", "blockbuster", "hypothesis", "psutil", "pytest>=9", "pytest-mock",
                 "pytest-timeout", "trustme", "truststore", "uvloop"),
        package_dirs=("src/anyio",),
        pytest_args=("-p", "no:cacheprovider"),
        why="structured-concurrency library on asyncio: task groups, cancel scopes, process pools",
    ),
    "discord_py": Project(
        sdist="discord.py==2.7.1",
        install=("-e", "{src}[test]"),
        package_dirs=("discord",),
        pytest_args=("-p", "no:cacheprovider"),
        why="Discord client: nine fire-and-forget create_task calls (timeouts, voice, webhooks)",
    ),
}

VARIANTS = {
    "safe": (),
    "unsafe": ("--unsafe-fixes",),
    "unsafe-taskgroup": ("--unsafe-fixes", "--style", "taskgroup"),
}

# A pytest plugin written next to the environments: records every test's outcome by node id.
OUTCOME_PLUGIN = '''
import json, os

_outcomes = {}

def pytest_runtest_logreport(report):
    previous = _outcomes.get(report.nodeid)
    if report.failed:
        _outcomes[report.nodeid] = "failed" if report.when == "call" else "error"
    elif report.skipped and previous is None:
        _outcomes[report.nodeid] = "xfailed" if hasattr(report, "wasxfail") else "skipped"
    elif report.passed and report.when == "call" and previous is None:
        _outcomes[report.nodeid] = "passed"

def pytest_sessionfinish(session):
    path = os.environ.get("TETHER_OUTCOMES")
    if path:
        with open(path, "w") as handle:
            json.dump(_outcomes, handle, indent=0, sort_keys=True)
'''


@dataclass
class SuiteRun:
    outcomes: dict[str, str]
    seconds: float
    returncode: int

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)


@dataclass
class Row:
    project: str
    variant: str
    files_changed: int = 0
    fixes: str = ""
    run: SuiteRun | None = None
    regressions: list[str] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)
    note: str = ""


def log(message: str) -> None:
    print(f"[project_suites {time.strftime('%H:%M:%S')}] {message}", flush=True)


def pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args], check=True)


def prepare(name: str, project: Project, work: Path, base_python: str) -> tuple[Path, Path, Path]:
    """(python of the venv, tree under test, pristine copy), reusing earlier downloads."""
    home = work / name
    pristine = home / "pristine"
    tree = home / "src"
    venv = home / "venv"
    if not pristine.is_dir():
        download = home / "download"
        download.mkdir(parents=True, exist_ok=True)
        log(f"{name}: downloading the sdist of {project.sdist}")
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                        "--disable-pip-version-check", "-d", str(download), project.sdist], check=True)
        (archive,) = list(download.glob("*.tar.gz"))
        unpacked = home / "unpacked"
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(unpacked)
        (root,) = list(unpacked.iterdir())
        shutil.move(str(root), pristine)
        shutil.rmtree(unpacked)
    if not tree.is_dir():
        shutil.copytree(pristine, tree, symlinks=True)
    python = venv / "bin" / "python"
    marker = venv / ".tether-installed"
    if not marker.exists():
        log(f"{name}: creating the environment and installing the test dependencies")
        subprocess.run([base_python, "-m", "venv", "--clear", str(venv)], check=True)
        pip(python, *(arg.replace("{src}", str(tree)) for arg in project.install))
        marker.write_text("ok\n")
    (home / "tether_outcomes.py").write_text(OUTCOME_PLUGIN)
    return python, tree, pristine


def restore(tree: Path, pristine: Path, project: Project) -> None:
    for relative in project.package_dirs:
        shutil.rmtree(tree / relative)
        shutil.copytree(pristine / relative, tree / relative, symlinks=True)


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.py"))}


def run_suite(python: Path, tree: Path, project: Project, home: Path, label: str, only: list[str] | None = None,
              timeout: int = 3600) -> SuiteRun:
    outcomes_file = home / f"outcomes-{label}.json"
    outcomes_file.unlink(missing_ok=True)
    env = {**os.environ, "TETHER_OUTCOMES": str(outcomes_file), "PYTHONPATH": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONHASHSEED", None)
    command = [str(python), "-m", "pytest", "-q", "-p", "tether_outcomes", *project.pytest_args, *(only or [])]
    started = time.monotonic()
    with open(home / f"pytest-{label}.log", "wb") as output:
        try:
            completed = subprocess.run(command, cwd=tree, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=timeout)
            returncode = completed.returncode
        except subprocess.TimeoutExpired:
            returncode = -1
    seconds = time.monotonic() - started
    outcomes = json.loads(outcomes_file.read_text()) if outcomes_file.exists() else {}
    return SuiteRun(outcomes, seconds, returncode)


def apply_tether(tree: Path, project: Project, options: tuple[str, ...]) -> tuple[int, str, str]:
    """(files changed, tether's summary line, error lines) for ``tether fix`` on the package."""
    before = digests(tree)
    completed = subprocess.run(
        [sys.executable, "-m", "tether", "fix", "--no-cache", *options, *project.package_dirs],
        cwd=tree, capture_output=True, text=True,
    )
    after = digests(tree)
    changed = sum(1 for path, digest in after.items() if before.get(path) != digest)
    summary = next((line for line in completed.stderr.splitlines() if line.startswith(("Fixed", "Would fix"))), "")
    errors = "; ".join(line for line in completed.stderr.splitlines() if line.startswith("error:"))
    if "Traceback" in completed.stderr or completed.returncode not in (0, 1, 2):
        errors += f" tether crashed (exit {completed.returncode}): {completed.stderr[-2000:]}"
    return changed, summary, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", action="append", choices=sorted(PROJECTS), help="only this project (repeatable)")
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="only this variant (repeatable)")
    parser.add_argument("--work", type=Path, default=Path(os.path.expanduser("~/.cache/tether-project-suites")))
    parser.add_argument("--python", default=None, help="interpreter for the projects' environments (default: python3.11 or this one)")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    options = parser.parse_args(argv)

    base_python = options.python or shutil.which("python3.11") or sys.executable
    names = options.project or list(PROJECTS)
    variants = options.variant or list(VARIANTS)
    rows: list[Row] = []
    for name in names:
        project = PROJECTS[name]
        python, tree, pristine = prepare(name, project, options.work, base_python)
        home = tree.parent
        restore(tree, pristine, project)
        log(f"{name}: baseline test run")
        baseline = run_suite(python, tree, project, home, "baseline")
        rows.append(Row(name, "baseline (no fix)", run=baseline))
        if not baseline.outcomes:
            rows[-1].note = f"no test outcomes recorded (exit {baseline.returncode}); see {home}/pytest-baseline.log"
            continue
        for variant in variants:
            restore(tree, pristine, project)
            changed, summary, errors = apply_tether(tree, project, VARIANTS[variant])
            row = Row(name, f"tether fix {' '.join(VARIANTS[variant])}".strip(), files_changed=changed,
                      fixes=summary.rstrip("."), note=errors)
            log(f"{name} {variant}: {summary or 'no summary'}; {changed} files changed; running the suite")
            row.run = run_suite(python, tree, project, home, variant)
            lost = sorted(test for test, outcome in baseline.outcomes.items()
                          if outcome == "passed" and row.run.outcomes.get(test) != "passed")
            if lost:
                log(f"{name} {variant}: {len(lost)} tests passed before and not after; re-running them in both trees")
                only = lost if len(lost) <= 300 else None  # very many: re-run the whole suite
                rerun_fixed = run_suite(python, tree, project, home, f"{variant}-rerun", only=only)
                restore(tree, pristine, project)
                rerun_pristine = run_suite(python, tree, project, home, f"{variant}-rerun-pristine", only=only)
                for test in lost:
                    fixed_ok = rerun_fixed.outcomes.get(test) == "passed"
                    pristine_ok = rerun_pristine.outcomes.get(test) == "passed"
                    if fixed_ok or not pristine_ok:
                        row.flaky.append(test)  # passes when re-run, or fails without tether too
                    else:
                        row.regressions.append(test)
            rows.append(row)
        restore(tree, pristine, project)

    print()
    print("| project | run | files changed | tether | passed | failed | errors | skipped | passed before, not after | time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        run = row.run
        counts = (run.count("passed"), run.count("failed"), run.count("error"), run.count("skipped") + run.count("xfailed")) if run else ("",) * 4
        lost = "" if row.variant.startswith("baseline") else (
            f"{len(row.regressions)}" + (f" (+{len(row.flaky)} flaky: pass on re-run)" if row.flaky else ""))
        seconds = f"{run.seconds:.0f} s" if run else ""
        print(f"| {row.project} | {row.variant} | {row.files_changed if not row.variant.startswith('baseline') else ''} | "
              f"{row.fixes} | {counts[0]} | {counts[1]} | {counts[2]} | {counts[3]} | {lost} | {seconds} |")
    for row in rows:
        if row.note:
            print(f"\nnote ({row.project}, {row.variant}): {row.note}")
        for test in row.regressions:
            print(f"REGRESSION ({row.project}, {row.variant}): {test}")
        for test in row.flaky:
            print(f"flaky, not counted ({row.project}, {row.variant}): {test}")
    if options.json:
        options.json.write_text(json.dumps([
            {"project": r.project, "run": r.variant, "files_changed": r.files_changed, "tether": r.fixes,
             "outcomes": {k: r.run.count(k) for k in ("passed", "failed", "error", "skipped", "xfailed")} if r.run else None,
             "regressions": r.regressions, "flaky": r.flaky, "note": r.note}
            for r in rows], indent=2))
    confirmed = any(row.regressions for row in rows)
    crashed = any("crashed" in row.note for row in rows)
    return 1 if confirmed or crashed else 0


if __name__ == "__main__":
    sys.exit(main())
