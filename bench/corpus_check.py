"""Corpus check: tether on real asyncio projects it has never seen must not break anything.

    .venv/bin/python bench/corpus_check.py              # the CI subset (see CI_SUBSET below)
    .venv/bin/python bench/corpus_check.py --all        # every project in the corpus
    .venv/bin/python bench/corpus_check.py --project uvicorn --project aiohttp

The corpus is the set of pinned releases unpacked by the shared fetch script
(``fetch.sh``, default location ``~/.cache/tether-corpus/src``; ``$TETHER_CORPUS`` overrides
the cache directory, ``--corpus`` the source directory). When it is missing the script runs
``fetch.sh`` if it can find it (``$TETHER_FETCH``, or ``../shared/corpus/fetch.sh`` next to
the repository).

The corpus itself is never modified: for each option set (``--unsafe-fixes`` and
``--unsafe-fixes --style taskgroup``) the selected projects are copied to a scratch directory
and the real command line is run on the copy:

1. ``tether check --output-format json``: findings per rule and per project;
2. ``tether diff``: the patch, applied with ``patch -p1`` to a second pristine copy;
3. ``tether fix``, then ``tether fix`` again.

Then it asserts, and prints a verdict for each:

* no crash: no traceback, no "internal error", no exit status other than 0/1/2, and every
  "cannot parse" error is for a file this Python really cannot compile (the corpus has
  Python 3.13-only files, e.g. in homeassistant; they are counted, not failed);
* every changed file compiles, and only files with findings changed;
* the second fix changes nothing (idempotence);
* every unchanged file is byte-identical to the corpus original;
* the diff, applied with ``patch``, gives exactly the files ``fix`` wrote.

tether runs with the interpreter running this script (``python -m tether``): run it from a
Python 3.13 environment to parse every file of the corpus (measured with all six rules: the
whole corpus, 9,240 files, takes about 4 minutes that way for both option sets; the CI subset
about 2 minutes under Python 3.11, on the loaded 2-core machine).

It works with whatever rules are registered (tether/registry.py). Exit status 0 when all
assertions hold, 1 otherwise; ``--json FILE`` writes the counts for other tools
(tests/test_corpus.py uses it).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# The CI subset: every project except the huge homeassistant wheel (8,000 files), of which a
# slice that exercises its core event-loop code is kept. Measured on the shared 2-core
# machine with all six rules: about 2 minutes for both option sets (tests/test_corpus.py).
CI_SUBSET = {
    "aiohttp": None,
    "aiokafka": None,
    "aio_pika": None,
    "aiormq": None,
    "anyio": None,
    "asyncpg": None,
    "discord_py": None,
    "httpx": None,
    "motor": None,
    "python_telegram_bot": None,
    "redis": None,
    "sanic": None,
    "starlette": None,
    "textual": None,
    "uvicorn": None,
    "websockets": None,
    # None = the whole project; otherwise the paths (inside the unpacked wheel) to keep
    "homeassistant": ["homeassistant/core.py", "homeassistant/helpers", "homeassistant/util", "homeassistant/runner.py"],
}

VARIANTS = {
    "unsafe": ["--unsafe-fixes"],
    "unsafe-taskgroup": ["--unsafe-fixes", "--style", "taskgroup"],
}

ERROR_LINE = re.compile(r"^error: (?P<path>.+?):(?:(?P<line>\d+):(?P<col>\d+):)? (?P<message>.*)$")


def project_name(directory: str) -> str:
    """``aiohttp-3.14.5-cp311-...`` -> ``aiohttp`` (wheel file names: name-version-...)."""
    return directory.split("-", 1)[0]


def default_corpus() -> Path:
    base = os.environ.get("TETHER_CORPUS") or os.path.expanduser("~/.cache/tether-corpus")
    return Path(base) / "src"


def find_fetch_script() -> Path | None:
    candidates = [os.environ.get("TETHER_FETCH"), REPO.parent / "shared/corpus/fetch.sh", REPO.parent.parent / "shared/corpus/fetch.sh"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def ensure_corpus(corpus: Path) -> None:
    if corpus.is_dir() and any(corpus.iterdir()):
        return
    script = find_fetch_script()
    if script is None:
        sys.exit(f"corpus_check: no corpus at {corpus} and no fetch.sh found (set TETHER_FETCH)")
    print(f"corpus_check: fetching the corpus with {script}", flush=True)
    subprocess.run(["bash", str(script), str(corpus.parent)], check=True)


def select_projects(corpus: Path, use_all: bool, names: list[str]) -> dict[str, tuple[Path, list[str] | None]]:
    """project name -> (unpacked directory, paths to keep or None for everything)."""
    available = {project_name(d.name): d for d in sorted(corpus.iterdir()) if d.is_dir()}
    if names:
        missing = [n for n in names if n not in available]
        if missing:
            sys.exit(f"corpus_check: not in the corpus: {', '.join(missing)} (have: {', '.join(available)})")
        return {n: (available[n], None) for n in names}
    if use_all:
        return {n: (d, None) for n, d in available.items()}
    chosen = {}
    for name, keep in CI_SUBSET.items():
        if name not in available:
            sys.exit(f"corpus_check: CI subset project {name!r} is missing from {corpus}; re-run fetch.sh")
        chosen[name] = (available[name], keep)
    return chosen


def copy_projects(projects, destination: Path) -> None:
    for name, (source, keep) in projects.items():
        target = destination / name
        if keep is None:
            shutil.copytree(source, target, symlinks=True)
            continue
        for relative in keep:
            origin = source / relative
            if origin.is_dir():
                shutil.copytree(origin, target / relative, symlinks=True)
            else:
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / relative)


def snapshot(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every .py file under root."""
    hashes = {}
    for path in sorted(root.rglob("*.py")):
        if path.is_file():
            hashes[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def tether(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tether", *args],
        cwd=cwd,
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": "0", "NO_COLOR": "1"},
    )


def compiles_here(path: Path) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


class Verdicts:
    def __init__(self) -> None:
        self.problems: dict[str, list[str]] = collections.defaultdict(list)
        self.expected_parse_errors: set[str] = set()

    def fail(self, kind: str, detail: str) -> None:
        self.problems[kind].append(detail)

    def classify_stderr(self, step: str, completed: subprocess.CompletedProcess, root: Path) -> None:
        """Crashes are tracebacks, internal errors, bad exit codes, or parse errors on files
        this Python compiles; "cannot parse" on newer-syntax files is expected."""
        stderr = completed.stderr.decode("utf-8", "replace")
        if completed.returncode not in (0, 1, 2):
            self.fail("crashes", f"{step}: exit status {completed.returncode}")
        if "Traceback (most recent call last)" in stderr:
            self.fail("crashes", f"{step}: traceback:\n{stderr[-3000:]}")
        for line in stderr.splitlines():
            if not line.startswith("error:"):
                continue
            match = ERROR_LINE.match(line)
            if "internal error" in line:
                self.fail("crashes", f"{step}: {line}")
            elif match and "cannot parse" in match.group("message"):
                path = match.group("path")
                if compiles_here(root / path):
                    self.fail("crashes", f"{step}: parse error on a file Python compiles: {line}")
                else:
                    self.expected_parse_errors.add(path)
            else:
                self.fail("errors", f"{step}: {line}")


def run_variant(label: str, options: list[str], projects, scratch: Path, verdicts: Verdicts, originals: dict[str, str]) -> dict:
    work = scratch / label / "fixed"
    pristine = scratch / label / "patched"
    copy_projects(projects, work)
    copy_projects(projects, pristine)
    (work / "pyproject.toml").write_text("[tool.tether]\n")  # isolate from any outer settings
    (pristine / "pyproject.toml").write_text("[tool.tether]\n")
    common = ["--no-cache", *options, "."]
    timings = {}

    started = time.monotonic()
    checked = tether(["check", "--output-format", "json", *common], work)
    timings["check"] = time.monotonic() - started
    verdicts.classify_stderr(f"{label} check", checked, work)
    try:
        findings = json.loads(checked.stdout or b"[]")
    except json.JSONDecodeError:
        verdicts.fail("crashes", f"{label} check: output is not JSON: {checked.stdout[:300]!r}")
        findings = []
    flagged_files = {Path(f["filename"]).resolve().relative_to(work.resolve()).as_posix() for f in findings}

    started = time.monotonic()
    diffed = tether(["diff", *common], work)
    timings["diff"] = time.monotonic() - started
    verdicts.classify_stderr(f"{label} diff", diffed, work)

    started = time.monotonic()
    fixed = tether(["fix", *common], work)
    timings["fix"] = time.monotonic() - started
    verdicts.classify_stderr(f"{label} fix", fixed, work)
    after_fix = snapshot(work)

    started = time.monotonic()
    again = tether(["fix", *common], work)
    timings["second fix"] = time.monotonic() - started
    verdicts.classify_stderr(f"{label} second fix", again, work)
    after_second = snapshot(work)

    changed = sorted(p for p in after_fix if after_fix[p] != originals.get(p))
    for path in changed:
        if not compiles_here(work / path):
            verdicts.fail("non-compiling", f"{label}: {path}")
        if path not in flagged_files:
            verdicts.fail("changed without a finding", f"{label}: {path}")
    if set(after_fix) != set(originals):
        verdicts.fail("files added or removed", f"{label}: {sorted(set(after_fix) ^ set(originals))[:10]}")
    for path, digest in after_second.items():
        if after_fix.get(path) != digest:
            verdicts.fail("non-idempotent", f"{label}: {path}")
    # byte-identical: every file fix did not report changing is exactly the corpus original
    # (a file changed here but missing from the fix's own diff would be a silent write)
    diff_files = set(re.findall(rb"^\+\+\+ b/(.+?)\r?\n", diffed.stdout, re.M))
    diff_files = {p.decode("utf-8", "replace") for p in diff_files}
    for path in changed:
        if path not in diff_files:
            verdicts.fail("changed but not in the diff", f"{label}: {path}")

    if diffed.stdout:
        patched = subprocess.run(
            ["patch", "-p1", "-s", "--no-backup-if-mismatch", "-d", str(pristine)],
            input=diffed.stdout,
            capture_output=True,
        )
        if patched.returncode != 0:
            verdicts.fail("diff does not apply", f"{label}: {patched.stdout.decode()[:500]}{patched.stderr.decode()[:500]}")
    if snapshot(pristine) != after_fix:
        different = [p for p, d in snapshot(pristine).items() if after_fix.get(p) != d]
        verdicts.fail("diff differs from fix", f"{label}: {different[:10]}")

    per_rule = collections.Counter(f["code"] for f in findings)
    per_project = collections.Counter(Path(f["filename"]).resolve().relative_to(work.resolve()).parts[0] for f in findings)
    return {
        "findings": len(findings),
        "per_rule": dict(per_rule),
        "per_project": dict(per_project),
        "changed_files": len(changed),
        "timings": timings,
    }


def print_table(title: str, rows: list[tuple[str, ...]]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  " + "  ".join(str(cell).ljust(widths[i]) if i == 0 else str(cell).rjust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("  " + "  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=None, help="unpacked sources (default: ~/.cache/tether-corpus/src)")
    parser.add_argument("--all", action="store_true", help="every project, not just the CI subset")
    parser.add_argument("--project", action="append", default=[], help="only this project (repeatable)")
    parser.add_argument("--keep", type=Path, help="do the work in this directory and keep it (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    options = parser.parse_args(argv)

    corpus = options.corpus or default_corpus()
    ensure_corpus(corpus)
    projects = select_projects(corpus, options.all, options.project)
    started = time.monotonic()
    scratch_holder = None
    if options.keep:
        scratch = options.keep
        if scratch.exists():
            shutil.rmtree(scratch)
        scratch.mkdir(parents=True)
    else:
        scratch_holder = tempfile.TemporaryDirectory(prefix="tether-corpus-")
        scratch = Path(scratch_holder.name)

    reference = scratch / "reference"
    copy_projects(projects, reference)
    originals = snapshot(reference)
    print(f"corpus_check: {len(projects)} projects, {len(originals)} Python files from {corpus}", flush=True)

    verdicts = Verdicts()
    results = {}
    for label, variant_options in VARIANTS.items():
        results[label] = run_variant(label, variant_options, projects, scratch, verdicts, originals)
        timing = ", ".join(f"{k} {v:.1f} s" for k, v in results[label]["timings"].items())
        print(f"  {' '.join(variant_options)}: {results[label]['findings']} findings, "
              f"{results[label]['changed_files']} files changed ({timing})", flush=True)

    labels = list(VARIANTS)
    codes = sorted({c for r in results.values() for c in r["per_rule"]})
    print_table("Findings per rule", [("rule", *labels)] + [(c, *(results[l]["per_rule"].get(c, 0) for l in labels)) for c in codes] or [("(none)",)])
    print_table("Findings per project", [("project", *labels)] + [(p, *(results[l]["per_project"].get(p, 0) for l in labels)) for p in projects])

    checks = ["crashes", "non-compiling", "non-idempotent", "changed without a finding", "changed but not in the diff",
              "files added or removed", "diff does not apply", "diff differs from fix", "errors"]
    print("\nVerdicts")
    for kind in checks:
        items = verdicts.problems.get(kind, [])
        print(f"  {len(items)} {kind}")
        for item in items[:20]:
            print(f"      {item}")
    print(f"  ({len(verdicts.expected_parse_errors)} files need a newer Python to parse: counted, not failed)")
    elapsed = time.monotonic() - started
    print(f"\ncorpus_check: {'OK' if not verdicts.problems else 'FAILED'} in {elapsed:.0f} s")

    if options.json:
        options.json.write_text(json.dumps({
            "projects": list(projects),
            "files": len(originals),
            "results": results,
            "problems": verdicts.problems,
            "expected_parse_errors": sorted(verdicts.expected_parse_errors),
            "seconds": elapsed,
        }, indent=2))
    if scratch_holder is not None:
        scratch_holder.cleanup()
    return 0 if not verdicts.problems else 1


if __name__ == "__main__":
    sys.exit(main())
