"""The run pipeline of SPEC section 6 must never change what is found: workers, cache, shards.

Every test compares findings of differently configured runs over one small generated tree
(no timings are asserted anywhere: speed is measured by bench/, not by tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_tether

import tether.runner as runner
from tether.config import Settings
from tether.discovery import discover

DANGLING = "import asyncio\n\n\nasync def job_{i}():\n    asyncio.create_task(job_{i}())\n    t = asyncio.ensure_future(job_{i}())\n"
KEPT = "import asyncio\n\nTASKS = set()\n\n\nasync def keep_{i}():\n    TASKS.add(asyncio.create_task(keep_{i}()))\n"
LOOKALIKE = "async def helper_{i}(hass):\n    hass.async_create_task(helper_{i}(hass))\n"
PLAIN = "def add_{i}(a, b):\n    return a + b\n"
BROKEN = "import asyncio\ndef f(:\n    asyncio.create_task(x())\n"


def make_tree(root: Path, count: int = 48) -> Path:
    """A project with findings, clean files, look-alike names and one unparsable file."""
    (root / "pyproject.toml").write_text("[tool.tether]\n")
    kinds = [DANGLING, KEPT, LOOKALIKE, PLAIN]
    for i in range(count):
        path = root / f"pkg{i % 3}" / f"mod_{i:03d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(kinds[i % len(kinds)].format(i=i))
    (root / "pkg0" / "zz_broken.py").write_text(BROKEN)
    return root


def check_json(root: Path, *args: str) -> tuple[list[dict], str]:
    proc = run_tether(["check", ".", "--output-format", "json", *args], cwd=root)
    assert proc.returncode in (1, 2), proc.stderr
    return json.loads(proc.stdout), proc.stderr.decode()


def key(record: dict) -> tuple:
    return (record["filename"], record["location"]["row"], record["location"]["column"], record["code"], record["message"])


def test_findings_identical_for_jobs_cache_and_shards(tmp_path):
    root = make_tree(tmp_path)
    serial, serial_errors = check_json(root, "--jobs", "1", "--no-cache")
    assert len(serial) == 24  # 12 DANGLING files, two findings each
    assert "zz_broken.py:2:" in serial_errors

    parallel, parallel_errors = check_json(root, "--jobs", "2", "--no-cache")
    assert parallel == serial  # same records in the same order
    assert parallel_errors == serial_errors

    cold, _ = check_json(root, "--jobs", "2")  # fills .tether_cache/
    assert list((root / ".tether_cache").glob("check-*.marshal"))
    warm, warm_errors = check_json(root, "--jobs", "2")
    assert cold == serial and warm == serial
    assert warm_errors == serial_errors  # the cached parse error names the file again

    shards = []
    for k in (1, 2, 3):
        records, _ = check_json(root, "--jobs", "2", "--no-cache", "--shard", f"{k}/3")
        shards.append(records)
    assert all(shards), "every shard of this tree holds findings"
    concatenated = [r for records in shards for r in records]
    assert sorted(concatenated, key=key) == sorted(serial, key=key)
    files_per_shard = [{r["filename"] for r in records} for records in shards]
    assert not (files_per_shard[0] & files_per_shard[1] or files_per_shard[1] & files_per_shard[2] or files_per_shard[0] & files_per_shard[2])


def test_worker_pool_really_runs_and_keeps_input_order(tmp_path):
    root = make_tree(tmp_path, count=80)
    files, _ = discover([str(root)], (), str(root))
    settings = Settings(project_root=str(root))
    serial = runner.run_files(files, settings, "check", jobs=1, use_cache=False)
    parallel = runner.run_files(files, settings, "check", jobs=2, use_cache=False)
    assert [r.path for r in parallel] == files
    assert parallel == serial
    candidates = [(p, Path(p).read_bytes()) for p in files if "create_task" in Path(p).read_text()]
    assert runner.worker_count(2, candidates) == 2  # so the pool was used above


def test_workers_that_scan_their_own_files_find_the_same(tmp_path, monkeypatch):
    """A large run hands paths, not bytes, to workers: each reads, looks up the cache,
    prefilters and parses its own files. Nothing about the answer may change."""
    root = make_tree(tmp_path, count=80)
    files, _ = discover([str(root)], (), str(root))
    settings = Settings(project_root=str(root))
    serial = runner.run_files(files, settings, "check", jobs=1, use_cache=False)
    serial_diff = runner.run_files(files, settings, "diff", jobs=1, use_cache=False)
    assert runner.scan_worker_count(2, len(files)) == 1  # 81 files: the parent scans

    monkeypatch.setattr(runner, "SCAN_IN_WORKERS", 16)
    monkeypatch.setattr(runner, "SCAN_CHUNK", 4)
    assert runner.scan_worker_count(2, len(files)) == 2
    assert runner.scan_worker_count(1, len(files)) == 1  # --jobs 1 is obeyed
    assert runner.run_files(files, settings, "check", jobs=2, use_cache=False) == serial
    assert runner.run_files(files, settings, "diff", jobs=2, use_cache=False) == serial_diff

    old = 1_600_000_000
    for path in files:
        os.utime(path, (old, old))
    assert runner.run_files(files, settings, "check", jobs=2) == serial  # fills the cache
    for path in files:
        os.utime(path, (old + 10, old + 10))  # stat index misses: workers hit by content
    with monkeypatch.context() as patch:
        _forbid_analysis(patch)
        assert runner.run_files(files, settings, "check", jobs=2) == serial
        assert runner.run_files(files, settings, "check", jobs=2) == serial  # now by stat


def test_command_line_scans_in_workers_with_identical_output(tmp_path):
    root = make_tree(tmp_path, count=runner.SCAN_IN_WORKERS + 8)
    serial, serial_errors = check_json(root, "--jobs", "1", "--no-cache")
    parallel, parallel_errors = check_json(root, "--jobs", "2", "--no-cache")
    assert len(serial) == 2 * len(range(0, runner.SCAN_IN_WORKERS + 8, 4))
    assert (parallel, parallel_errors) == (serial, serial_errors)


def test_default_worker_count_follows_the_amount_of_source(monkeypatch):
    monkeypatch.setattr(runner, "default_jobs", lambda: 4)
    small = [("a.py", b"x" * 1000)] * 10
    large = [("a.py", b"x" * runner.MIN_BYTES_PER_WORKER)] * 10
    assert runner.worker_count(None, small) == 1
    assert runner.worker_count(None, large) == 4
    assert runner.worker_count(None, large[:2]) == 2
    assert runner.worker_count(3, small) == 3  # --jobs is obeyed
    assert runner.worker_count(8, small[:2]) == 2


def _forbid_analysis(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a cached file was analysed again")

    monkeypatch.setattr(runner, "process_loaded", fail)


def test_warm_cache_answers_without_analysing_even_after_touch(tmp_path, monkeypatch):
    root = make_tree(tmp_path)
    files, _ = discover([str(root)], (), str(root))
    settings = Settings(project_root=str(root))
    old = 1_600_000_000
    for path in files:
        os.utime(path, (old, old))  # not "racily clean": the stat index may be used
    cold = runner.run_files(files, settings, "check", jobs=1)
    with monkeypatch.context() as patch:
        _forbid_analysis(patch)
        assert runner.run_files(files, settings, "check", jobs=1) == cold  # by (mtime, size)
        for path in files:
            os.utime(path, (old + 10, old + 10))
        assert runner.run_files(files, settings, "check", jobs=1) == cold  # by content hash
    # an edited file is analysed again and its new finding shows
    edited = next(p for p in files if p.endswith("mod_003.py"))  # a PLAIN file
    Path(edited).write_text(DANGLING.format(i=999))
    again = runner.run_files(files, settings, "check", jobs=1)
    changed = [i for i, (a, b) in enumerate(zip(cold, again)) if a != b]
    assert [files[i] for i in changed] == [edited]
    assert [f.code for f in again[changed[0]].findings] == ["TET101", "TET101"]


def test_corrupt_cache_is_ignored_and_rewritten(tmp_path):
    root = make_tree(tmp_path)
    files, _ = discover([str(root)], (), str(root))
    settings = Settings(project_root=str(root))
    expected = runner.run_files(files, settings, "check", jobs=1, use_cache=False)
    runner.run_files(files, settings, "check", jobs=1)
    (cache_file,) = (root / ".tether_cache").glob("check-*.marshal")
    import marshal

    wrong_shapes = [
        marshal.dumps({"format": 2, "paths": ["a"], "mtimes": "x", "sizes": [1], "digests": b"0" * 16, "results": {}, "clean": b""}),
        marshal.dumps({"format": 2, "paths": [str(p) for p in files], "mtimes": [0] * len(files), "sizes": [0] * len(files), "digests": b"", "results": {}, "clean": b""}),
        marshal.dumps({"format": 2, "paths": [], "mtimes": [], "sizes": [], "digests": b"", "results": {b"0" * 16: ("bad",)}, "clean": b"1"}),
        marshal.dumps([1, 2, 3]),
    ]
    for garbage in (b"", b"\x00garbage", cache_file.read_bytes()[:100], *wrong_shapes):
        cache_file.write_bytes(garbage)
        assert runner.run_files(files, settings, "check", jobs=1) == expected
    assert runner.run_files(files, settings, "check", jobs=1) == expected


def test_unwritable_cache_is_skipped_silently(tmp_path):
    root = make_tree(tmp_path)
    (root / ".tether_cache").write_text("not a directory")
    proc = run_tether(["check", ".", "--output-format", "concise"], cwd=root)
    assert proc.returncode == 2  # the broken file; no other error
    errors = [line for line in proc.stderr.decode().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "zz_broken.py" in errors[0]
    assert b"Traceback" not in proc.stderr


def test_cache_is_per_settings(tmp_path):
    root = make_tree(tmp_path)
    everything, _ = check_json(root, "--jobs", "1")
    nothing = run_tether(["check", ".", "--select", "TET2", "--output-format", "json"], cwd=root)
    assert json.loads(nothing.stdout) == []
    again, _ = check_json(root, "--jobs", "1")
    assert again == everything


@pytest.mark.parametrize("value", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_bad_shard_is_a_usage_error(tmp_path, value):
    make_tree(tmp_path, count=4)
    proc = run_tether(["check", ".", "--shard", value], cwd=tmp_path)
    assert proc.returncode == 2
    assert b"--shard" in proc.stderr and b"Traceback" not in proc.stderr


def test_shards_partition_the_files_stably():
    files = [f"src/pkg/mod_{i}.py" for i in range(200)]
    parts = [runner.select_shard(files, (k, 4), ".") for k in (1, 2, 3, 4)]
    assert sorted(p for part in parts for p in part) == sorted(files)
    assert all(parts)
    # adding a file moves no other file to another shard
    grown = [runner.select_shard([*files, "src/new.py"], (k, 4), ".") for k in (1, 2, 3, 4)]
    assert [[p for p in part if p != "src/new.py"] for part in grown] == parts


LAZY_PROBE = """
import sys
from tether.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in ("libcst", "rich", "pygls", "lsprotocol") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


def heavy_imports(args, cwd) -> str:
    proc = subprocess.run([sys.executable, "-c", LAZY_PROBE, *args], cwd=cwd, capture_output=True, env={**os.environ, "CI": ""})
    line = [l for l in proc.stderr.decode().splitlines() if l.startswith("HEAVY=")]
    assert line, proc.stderr
    return line[-1][len("HEAVY=") :]


def test_version_help_and_clean_trees_do_not_import_libcst_rich_or_pygls(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.tether]\n")
    for i in range(40):
        (tmp_path / f"plain_{i}.py").write_text(PLAIN.format(i=i) + "# hass.async_create_task(x)\n")
    assert heavy_imports(["--version"], tmp_path) == ""
    assert heavy_imports(["--help"], tmp_path) == ""
    assert heavy_imports(["check", "."], tmp_path) == ""
    assert heavy_imports(["check", ".", "--jobs", "2", "--no-cache"], tmp_path) == ""
    # a tree with findings is still reported without libcst (rendering is for diff/fix/json)
    (tmp_path / "dangling.py").write_text(DANGLING.format(i=1))
    assert heavy_imports(["check", ".", "--output-format", "concise"], tmp_path) == ""


def test_fast_version_answer_matches_the_command_line(cli):
    proc = run_tether(["--version"])
    assert proc.returncode == 0
    assert proc.stdout.decode() == cli(["--version"]).stdout


def test_progress_bar_only_for_humans_on_a_terminal(monkeypatch):
    from tether import progress

    class Terminal:
        def isatty(self):
            return True

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("TETHER_NO_PROGRESS", raising=False)
    monkeypatch.setattr(sys, "stdout", Terminal())
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert progress.wanted("full") and progress.wanted("concise") and progress.wanted(None)
    assert not any(progress.wanted(fmt) for fmt in ("json", "sarif", "github"))
    monkeypatch.setenv("CI", "true")
    assert not progress.wanted("full")
    monkeypatch.delenv("CI")
    import io

    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert not progress.wanted("full")  # piped output


def test_diff_identical_with_workers(tmp_path):
    root = make_tree(tmp_path)
    serial = run_tether(["diff", ".", "--jobs", "1"], cwd=root)
    parallel = run_tether(["diff", ".", "--jobs", "2"], cwd=root)
    assert serial.returncode == parallel.returncode == 2  # the broken file
    assert serial.stdout.count(b"+++ b/") == 12
    assert parallel.stdout == serial.stdout and parallel.stderr == serial.stderr


def test_fix_in_workers_writes_the_same_files(tmp_path):
    (tmp_path / "serial").mkdir()
    (tmp_path / "parallel").mkdir()
    trees = [make_tree(tmp_path / name) for name in ("serial", "parallel")]
    for root, jobs in zip(trees, ("1", "2")):
        proc = run_tether(["fix", ".", "--jobs", jobs], cwd=root)
        assert proc.returncode == 2  # the broken file
    serial = {p.relative_to(trees[0]): p.read_bytes() for p in sorted(trees[0].rglob("*.py"))}
    parallel = {p.relative_to(trees[1]): p.read_bytes() for p in sorted(trees[1].rglob("*.py"))}
    assert parallel == serial
    assert sum(b"_keep_task(" in data for data in serial.values()) == 12
