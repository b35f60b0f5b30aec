#!/usr/bin/env python3
"""tether's benchmark: ratios against ruff, flake8-async and libcst on one real corpus.

Usage (from the repository root)::

    python bench/run.py                 # everything, writes bench/RESULTS.md
    python bench/run.py --rounds 7      # more alternating rounds for the fast measurements
    python bench/run.py --skip-slow     # no flake8-async / libcst runs (minutes each)
    python bench/run.py --only-lsp      # just the editor latency, printed (RESULTS.md untouched)
    python bench/run.py --ruff-only     # only tether vs ruff, cold and warm: updates those
                                        # two rows of bench/RESULTS.md, keeps the others

What it does, in ONE run on ONE machine (ratios only mean something within a run):

1. fetches the corpus with ``../shared/corpus/fetch.sh`` (17 asyncio projects, 9,240
   files, 1.6 million lines; idempotent) or uses ``--corpus DIR``;
2. re-runs itself in a private venv ``bench/.venv`` (created on demand, git-ignored) holding
   ``ruff``, ``flake8-async`` and tether installed from this checkout as users get it (a
   regular install, rebuilt every run); they are never project dependencies. ``--here``
   uses the running Python's tools instead;
3. measures, alternating the commands within each round and taking the median over rounds:
   ``tether check`` cold (``--no-cache``) and warm (cache filled by a priming run) against
   ``ruff check --select RUF006`` cold (``--no-cache``) and warm; ``tether --version``;
   flake8-async ``--enable=ASYNC300`` against ``tether check`` on aiohttp; a no-op
   ``python -m libcst.tool codemod`` against ``tether check`` on a fixed sample of the corpus;
   the editor latency (see ``lsp_latency``); the peak memory of each command;
4. prints the ratios and writes ``bench/RESULTS.md`` (date, machine, table) that README's
   "Performance" section quotes.

The machine may be shared: the load average at the start and end is recorded, and every
number is a median. No test asserts a timing; this script reports, it does not judge.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
PEERS = ("ruff", "flake8-async")
LSP_LINES = 2000


# -- set-up ------------------------------------------------------------------------------------


def find_fetch_script(explicit: str | None) -> Path | None:
    candidates = [explicit] if explicit else []
    candidates += [os.environ.get("TETHER_CORPUS_FETCH")]
    candidates += [str(REPO.parent / "shared/corpus/fetch.sh"), str(REPO.parent.parent / "shared/corpus/fetch.sh")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def fetch_corpus(args) -> Path:
    if args.corpus:
        return Path(args.corpus).expanduser().resolve()
    dest = Path(os.environ.get("TETHER_CORPUS", Path.home() / ".cache/tether-corpus"))
    script = find_fetch_script(args.fetch_script)
    if script is None:
        if (dest / "src").is_dir():
            print(f"bench: fetch.sh not found; using the existing corpus {dest / 'src'}", file=sys.stderr)
            return dest / "src"
        sys.exit("bench: cannot find ../shared/corpus/fetch.sh; pass --fetch-script or --corpus")
    subprocess.run(["bash", str(script), str(dest)], check=True)
    return dest / "src"


def tool(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


def ensure_peers(args) -> None:
    """Re-run inside bench/.venv: tether installed from this checkout like a user gets it
    (a regular, not an editable, install: the editable finder alone costs ~30 ms of start-up)
    plus ruff and flake8-async. They are never project dependencies. ``--here`` skips this
    and uses the Python running the script, which must have all three."""
    if args.here or os.environ.get("TETHER_BENCH_CHILD"):
        needed = ("tether",) if args.only_lsp else (*PEERS, "tether")
        missing = [name for name in needed if not tool(name)]
        if missing:
            sys.exit(f"bench: {', '.join(missing)} missing next to {sys.executable}")
        return
    venv = BENCH / ".venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS], check=True)
    # the current checkout, freshly built (not editable), every run
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(REPO)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"{REPO}[lsp]"], check=True)  # its dependencies, with the language server's
    env = {**os.environ, "TETHER_BENCH_CHILD": "1"}
    os.execve(str(python), [str(python), __file__, *sys.argv[1:]], env)


# -- measuring ---------------------------------------------------------------------------------


class Sample:
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.peak_kb: list[int] = []

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_mb(self) -> float:
        return max(self.peak_kb) / 1024 if self.peak_kb else float("nan")


def timed(command: list[str], cwd: Path, env: dict | None = None, any_exit: bool = False) -> tuple[float, int]:
    """Wall seconds and peak RSS (kB, the largest process of the tree) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1, 2) and not any_exit:  # 2: tether names files it cannot parse
        raise SystemExit(f"bench: {' '.join(command)} failed with exit code {proc.returncode}")
    return elapsed, usage.ru_maxrss


def run_rounds(commands: dict[str, tuple[list[str], Path]], rounds: int, env: dict, label: str) -> dict[str, Sample]:
    samples = {name: Sample() for name in commands}
    names = list(commands)
    for index in range(rounds):
        order = names[:] if index % 2 == 0 else names[::-1]  # alternate, so drift hits all alike
        for name in order:
            command, cwd = commands[name]
            seconds, peak = timed(command, cwd, env, any_exit=name.startswith("libcst"))
            samples[name].seconds.append(seconds)
            samples[name].peak_kb.append(peak)
        print(f"bench: {label} round {index + 1}/{rounds} done", file=sys.stderr)
    return samples


def python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if p.is_file())


def copy_sample(files: list[Path], root: Path, dest: Path) -> Path:
    for path in files:
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return dest


# -- editor latency ----------------------------------------------------------------------------


def two_thousand_line_file(corpus: Path) -> str:
    """A real-looking 2,000-line module: corpus files holding create_task, concatenated."""
    lines: list[str] = ["import asyncio\n"]
    for path in python_files(corpus):
        data = path.read_bytes()
        if b"create_task" not in data:
            continue
        try:
            text = data.decode("utf-8")
            compile(text, str(path), "exec", dont_inherit=True)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        lines.extend(text.splitlines(keepends=True))
        if len(lines) >= LSP_LINES:
            break
    for end in range(min(LSP_LINES, len(lines)), 0, -1):  # the longest prefix that compiles
        candidate = "".join(lines[:end])
        try:
            compile(candidate, "lsp.py", "exec", dont_inherit=True)
        except SyntaxError:
            continue
        return candidate + "".join(f"_pad_{i} = {i}\n" for i in range(LSP_LINES - end))
    return "".join(f"_pad_{i} = {i}\n" for i in range(LSP_LINES))


def lsp_latency(text: str, rounds: int) -> tuple[float, str]:
    """Seconds from a change to its diagnostics on ``text``, and how it was measured.

    When ``tether lsp`` exists, this drives the real server over stdio (initialize, didOpen,
    then a full-text didChange and wait for the publishDiagnostics of that version), so the
    number includes the transport, JSON and the analysis. The server's debounce (250 ms by
    default: while the user types it waits for a pause, on purpose) is set to 0 through the
    ``debounceMs`` initialization option, so the number is the work a change costs, not a
    wait we chose. Without ``tether lsp``, it times the work the server does on a change:
    ``engine.check_text`` on the changed text, in a warm process. Set
    ``TETHER_BENCH_LSP=engine`` to force the second way, or ``TETHER_BENCH_LSP_COMMAND`` to
    the command line of another server to drive.
    """
    if os.environ.get("TETHER_BENCH_LSP") != "engine" and _has_lsp():
        try:
            return _real_lsp_latency(text, rounds), "`tether lsp` over stdio: full-text didChange to publishDiagnostics, debounceMs 0 (the default 250 ms pause-wait comes on top while typing)"
        except Exception as exc:  # report, then fall back rather than lose the whole run
            print(f"bench: real LSP measurement failed ({exc!r}); timing the engine instead", file=sys.stderr)
    return _engine_latency(text, rounds), "engine `check_text` on the changed text (no `tether lsp` on this branch)"


def _lsp_command() -> list[str]:
    custom = os.environ.get("TETHER_BENCH_LSP_COMMAND")
    return custom.split() if custom else [tool("tether") or "tether", "lsp"]


def _has_lsp() -> bool:
    if os.environ.get("TETHER_BENCH_LSP_COMMAND"):
        return True
    proc = subprocess.run([*_lsp_command(), "--help"], capture_output=True)
    return proc.returncode == 0


def _engine_latency(text: str, rounds: int) -> float:
    from tether.config import Settings
    from tether.engine import check_text

    settings = Settings()
    check_text(text, "lsp.py", settings)  # warm: imports and rule catalogue, as in a running server
    times = []
    for index in range(max(rounds, 15)):
        changed = text + f"_edit_{index} = {index}\n"
        start = time.perf_counter()
        check_text(changed, "lsp.py", settings)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _real_lsp_latency(text: str, rounds: int) -> float:
    import json

    proc = subprocess.Popen(_lsp_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin and proc.stdout

    def send(message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        proc.stdin.flush()

    def receive() -> dict:
        length = 0
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the server closed its output")
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(proc.stdout.read(length))

    def until(predicate) -> dict:
        while True:
            message = receive()
            if "id" in message and "method" in message:  # a request from the server: answer null
                send({"id": message["id"], "result": None})
                continue
            if predicate(message):
                return message

    with tempfile.TemporaryDirectory() as workspace:
        uri = Path(workspace, "lsp.py").as_uri()
        Path(workspace, "lsp.py").write_text(text)
        # no pull capability: the server pushes; debounceMs 0: measure the work, not the pause-wait
        initialize = {"processId": os.getpid(), "rootUri": Path(workspace).as_uri(), "capabilities": {}, "initializationOptions": {"debounceMs": 0}}
        send({"id": 1, "method": "initialize", "params": initialize})
        until(lambda m: m.get("id") == 1)
        send({"method": "initialized", "params": {}})
        send({"method": "textDocument/didOpen", "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}}})
        until(lambda m: m.get("method") == "textDocument/publishDiagnostics")
        times = []
        for index in range(max(rounds, 10)):
            changed = text + f"_edit_{index} = {index}\n"
            version = index + 2
            start = time.perf_counter()
            send({"method": "textDocument/didChange", "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": changed}]}})
            until(lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"].get("version", version) == version)
            times.append(time.perf_counter() - start)
        send({"id": 2, "method": "shutdown"})
        until(lambda m: m.get("id") == 2)
        send({"method": "exit"})
        proc.wait(timeout=10)
    return statistics.median(times)


# -- report ------------------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return f"{model}, {cores} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def version_of(command: list[str]) -> str:
    proc = subprocess.run(command, capture_output=True, text=True)
    return (proc.stdout or proc.stderr).strip().splitlines()[0] if (proc.stdout or proc.stderr).strip() else "?"


def tool_versions(tether: str, ruff: str) -> dict[str, str]:
    return {"tether": version_of([tether, "--version"]), "ruff": version_of([ruff, "--version"])}


def ruff_rows(s: dict[str, Sample]) -> list[tuple[str, str, str, str]]:
    """The two rows comparing tether with ruff on the whole corpus, cold and warm."""
    return [
        ("`check` cold, whole corpus", f"{s['tether cold'].median:.2f} s", f"ruff {s['ruff cold'].median:.2f} s", f"{s['tether cold'].median / s['ruff cold'].median:.2f}x (target <= 2.0x)"),
        ("`check` warm (cache), whole corpus", f"{s['tether warm'].median:.2f} s", f"ruff {s['ruff warm'].median:.2f} s", f"{s['tether warm'].median / s['ruff warm'].median:.2f}x (target <= 1.0x)"),
    ]


def update_ruff_rows(output: Path, samples: dict[str, Sample], rounds: int, load_start, load_end, versions: dict[str, str]) -> None:
    """``--ruff-only``: replace the two ruff rows of an existing results file and say so."""
    rows = ruff_rows(samples)
    lines = output.read_text().splitlines() if output.exists() else ["# tether benchmark results", "", "| measurement | tether | peer | ratio |", "|---|---|---|---|"]
    for row in rows:
        text = f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} |"
        index = next((i for i, line in enumerate(lines) if line.startswith(f"| {row[0]} |")), None)
        if index is None:
            index = max(i for i, line in enumerate(lines) if line.startswith("|")) + 1
            lines.insert(index, text)
        else:
            lines[index] = text
    lines = [line for line in lines if not line.startswith("Note: the two ruff rows")]
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    peaks = ", ".join(f"{name} {sample.peak_mb:.0f} MB" for name, sample in samples.items() if sample.peak_kb)
    lines.append("")
    lines.append(
        f"Note: the two ruff rows were re-measured by `python bench/run.py --ruff-only` on {now} "
        f"({', '.join(versions.values())}; medians over {rounds} alternating rounds; load average "
        f"{load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end; peak memory: {peaks}); the other rows are from the run above."
    )
    text = "\n".join(lines).rstrip() + "\n"
    output.write_text(text.replace("\n\n\n", "\n\n"))
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds for the fast measurements (default 5)")
    parser.add_argument("--slow-rounds", type=int, default=1, help="rounds for flake8-async and libcst (default 1: minutes each)")
    parser.add_argument("--skip-slow", action="store_true", help="skip flake8-async and the libcst codemod")
    parser.add_argument("--corpus", help="use this directory instead of fetching the corpus")
    parser.add_argument("--fetch-script", help="path of fetch.sh (default: ../shared/corpus/fetch.sh)")
    parser.add_argument("--sample-every", type=int, default=50, help="libcst sample: every N-th corpus file (default 50)")
    parser.add_argument("--output", default=str(BENCH / "RESULTS.md"))
    parser.add_argument("--here", action="store_true", help="use this Python's tether, ruff and flake8-async instead of bench/.venv")
    parser.add_argument("--only-lsp", action="store_true", help="measure only the editor latency and print it (RESULTS.md untouched)")
    parser.add_argument("--ruff-only", action="store_true", help="only the cold/warm comparison with ruff; rewrite just those rows of --output")
    args = parser.parse_args()

    ensure_peers(args)
    corpus = fetch_corpus(args)
    if args.only_lsp:
        latency, how = lsp_latency(two_thousand_line_file(corpus), args.rounds)
        print(f"editor: change to diagnostics, 2,000-line file: {latency * 1000:.1f} ms (target <= 50 ms; {how})")
        return
    tether, ruff, flake8_async = tool("tether"), tool("ruff"), tool("flake8-async")
    files = python_files(corpus)
    lines = sum(p.read_bytes().count(b"\n") for p in files)
    size = sum(p.stat().st_size for p in files)
    env = {**os.environ, "CI": "1"}  # no progress bars, plain output
    load_start = os.getloadavg()
    print(f"bench: corpus {corpus}: {len(files)} files, {lines} lines, {size / 1e6:.0f} MB", file=sys.stderr)

    rows: list[tuple[str, str, str, str]] = []  # what, tether, peer, ratio
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tether-bench-") as scratch_name:
        scratch = Path(scratch_name)
        warm_dir = scratch / "warm"
        warm_dir.mkdir()
        ruff_cache = scratch / "ruff-cache"
        commands = {
            "tether cold": ([tether, "check", str(corpus), "--no-cache", "--output-format", "concise"], scratch),
            "ruff cold": ([ruff, "check", "--no-cache", "--select", "RUF006", "--quiet", str(corpus)], scratch),
            "tether warm": ([tether, "check", str(corpus), "--output-format", "concise"], warm_dir),
            "ruff warm": ([ruff, "check", "--cache-dir", str(ruff_cache), "--select", "RUF006", "--quiet", str(corpus)], scratch),
            "tether --version": ([tether, "--version"], scratch),
        }
        for name in ("tether warm", "ruff warm"):  # prime the caches
            timed(*commands[name], env)
        if args.ruff_only:
            del commands["tether --version"]
            samples = run_rounds(commands, args.rounds, env, "corpus")
            update_ruff_rows(Path(args.output), samples, args.rounds, load_start, os.getloadavg(), tool_versions(tether, ruff))
            return
        main_samples = run_rounds(commands, args.rounds, env, "corpus")
        version_samples = run_rounds({"tether --version": commands["tether --version"]}, max(args.rounds, 11) - 1, env, "start-up")
        main_samples["tether --version"].seconds.extend(version_samples["tether --version"].seconds)

        s = main_samples
        rows.extend(ruff_rows(s))
        rows.append(("`tether --version`", f"{s['tether --version'].median * 1000:.0f} ms", "", "target <= 150 ms"))

        if not args.skip_slow:
            aiohttp = next((p for p in corpus.iterdir() if p.name.startswith("aiohttp")), None)
            if aiohttp is None:
                notes.append("aiohttp is missing from the corpus: flake8-async was not measured.")
            else:
                aio_files = [str(p) for p in python_files(aiohttp)]
                slow = run_rounds(
                    {
                        "flake8-async aiohttp": ([flake8_async, "--enable=ASYNC300", *aio_files], scratch),
                        "tether aiohttp": ([tether, "check", str(aiohttp), "--no-cache", "--output-format", "concise"], scratch),
                    },
                    args.slow_rounds,
                    env,
                    "flake8-async",
                )
                extra = run_rounds({"tether aiohttp": ([tether, "check", str(aiohttp), "--no-cache", "--output-format", "concise"], scratch)}, args.rounds - 1, env, "tether on aiohttp")
                slow["tether aiohttp"].seconds.extend(extra["tether aiohttp"].seconds)
                f, t = slow["flake8-async aiohttp"].median, slow["tether aiohttp"].median
                rows.append(("`check` cold, aiohttp only", f"{t:.2f} s", f"flake8-async ASYNC300 {f:.1f} s", f"{f / t:.0f}x faster (target >= 100x)"))
                s.update(slow)
            sample_files = files[:: args.sample_every]
            sample = copy_sample(sample_files, corpus, scratch / "sample")
            sample_lines = sum(p.read_bytes().count(b"\n") for p in sample_files)
            libcst = run_rounds(
                {
                    "libcst no-op codemod": ([sys.executable, "-m", "libcst.tool", "codemod", "-x", "libcst.codemod.commands.noop.NOOPCommand", "--no-format", "--hide-progress", str(sample)], scratch),
                    "tether sample": ([tether, "check", str(sample), "--no-cache", "--output-format", "concise"], scratch),
                },
                args.slow_rounds,
                env,
                "libcst",
            )
            extra = run_rounds({"tether sample": ([tether, "check", str(sample), "--no-cache", "--output-format", "concise"], scratch)}, args.rounds - 1, env, "tether on the sample")
            libcst["tether sample"].seconds.extend(extra["tether sample"].seconds)
            l, t = libcst["libcst no-op codemod"].median, libcst["tether sample"].median
            rows.append((f"`check` cold, sample ({len(sample_files)} files, {sample_lines} lines)", f"{t:.2f} s", f"no-op libcst codemod {l:.1f} s", f"{l / t:.0f}x faster"))
            s.update(libcst)

        text = two_thousand_line_file(corpus)
        latency, how = lsp_latency(text, args.rounds)
        rows.append(("editor: change to diagnostics, 2,000-line file", f"{latency * 1000:.1f} ms", "", f"target <= 50 ms; {how}"))

    load_end = os.getloadavg()
    peaks = ", ".join(f"{name} {sample.peak_mb:.0f} MB" for name, sample in main_samples.items() if sample.peak_kb)
    versions = {
        **tool_versions(tether, ruff),
        "flake8-async": version_of([sys.executable, "-c", "import importlib.metadata as m; print('flake8-async', m.version('flake8-async'))"]),
        "libcst": version_of([sys.executable, "-c", "import importlib.metadata as m; print('libcst', m.version('libcst'))"]),
    }
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# tether benchmark results",
        "",
        f"Written by `python bench/run.py` on {now}.",
        "",
        f"- Machine: {machine()}; load average {load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end (a shared machine inflates every number alike).",
        f"- Corpus: {len(files)} files, {lines:,} lines, {size / 1e6:.0f} MB (`../shared/corpus/fetch.sh`: 17 asyncio projects incl. Home Assistant).",
        f"- Versions: {', '.join(versions.values())}.",
        f"- Medians over {args.rounds} alternating rounds ({args.slow_rounds} for flake8-async and libcst). Peak memory (largest process): {peaks}.",
        "",
        "| measurement | tether | peer | ratio |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
        *[f"Note: {n}" for n in notes],
    ]
    Path(args.output).write_text("\n".join(out).rstrip() + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
