"""The warm path of ``tether check``: print a fully cached result without the command line.

WHY: on a tree whose results are all in the cache, a ``check`` spent most of its time on
work that cannot change the answer: importing click, dataclasses and typing (~45 ms),
walking the tree again (~25 ms) and resolving the settings. Editors, pre-commit hooks and
CI re-run ``check`` on mostly unchanged trees, so this is the common case.

How the answer stays the one the command line would give (the command line, ``tether.cli``,
remains the reference; this module only replays what it computed):

- Only a plain ``tether check [PATH...] [--output-format full|concise]`` is answered here.
  Any other option, ``-`` (stdin) or anything unexpected goes to the command line.
- A *snapshot*, written by a slow run of the same command in the same working directory
  by the same tool (its fingerprint is in the file name), records what that run's answer
  depended on besides file contents:
  * settings: the stat of every ``tether.toml`` and ``pyproject.toml`` the configuration
    search looked at (the search is redone here with stats only, no TOML parsing);
  * discovery: the stat of every directory it listed (adding, removing or renaming an
    entry changes a directory's mtime), of every ``.gitignore`` it read, of the ``.git``
    and ``.gitignore`` entries above the tree (only the kind of ``.git``), the kind and real path of each PATH, and the
    real path and target of each symbolic link met;
  * its result: the file list, with each file's (mtime, size) and result as the result
    cache (``tether.cache``) indexed them, and the two settings the report shows
    (``unsafe-fixes``, ``style``).
  Stats are compared on mode, inode, size, mtime and ctime.
- Every file must then still have the (mtime, size) recorded: the trust the result cache
  already puts in a stat (a file changed within ``RACY_SECONDS`` is not indexed, so no
  snapshot is written while one is). The snapshot holds the results itself, so a warm
  run reads one file and stats the tree, nothing more.
- If anything differs or fails, nothing has been printed and the command line runs; it
  writes a fresh snapshot.
- No snapshot is written when discovery met an error, when a
  recorded entry changed within the last ``tether.cache.RACY_SECONDS`` (a change in the same clock
  tick would leave its mtime as it was), or when the run had options that change settings.

This module imports only what a warm run needs (``os``, ``sys``, ``marshal``, the cache
and the report formats) and must stay that way.
"""

from __future__ import annotations

import marshal
import os
import stat as _stat
import sys
import time

from tether import cache as _cache
from tether.cache import CACHE_DIR, _blake2b, ensure_cache_dir, tool_fingerprint, write_atomically
from tether.fixchoice import SAFE, choose_fix

FORMAT = 1
OUTPUT_FORMATS = ("full", "concise")
MAX_SNAPSHOTS = 16  # per cache directory; one per distinct (working directory, PATHs)
CONFIG_NAMES = ("tether.toml", "pyproject.toml")


# -- what a run depended on ------------------------------------------------------------------


def signature(path: str) -> tuple | None:
    """Mode, inode, size, mtime and ctime of ``path`` (links followed); None if it cannot be stat-ed."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def kind(path: str) -> int | None:
    """The file type bits of ``path`` (links followed); None if it cannot be stat-ed."""
    try:
        return _stat.S_IFMT(os.stat(path).st_mode)
    except (OSError, ValueError):
        return None


def given_identity(path: str) -> tuple:
    """What discovery made of a PATH argument: its kind (file, directory, ...) and real path."""
    return (kind(path), os.path.realpath(path), os.path.islink(path))


def link_identity(path: str) -> tuple:
    """A symbolic link's real path (every link on the way resolved) and its target's signature."""
    return (os.path.realpath(path), signature(path))


def config_probe(anchor: str) -> tuple:
    """Signatures of the configuration files ``tether.config.find_config_file(anchor)`` can pick.

    The same walk upwards, but with stats only: it stops at the first ``tether.toml`` (always
    the answer) and otherwise goes up to the root, since whether a ``pyproject.toml`` counts
    depends on its content, which an unchanged signature vouches for.
    """
    directory = os.path.abspath(anchor)
    if not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    probe = []
    while True:
        for name in CONFIG_NAMES:
            path = os.path.join(directory, name)
            sig = signature(path)
            probe.append((path, sig))
            if name == "tether.toml" and sig is not None and _stat.S_ISREG(sig[0]):
                return tuple(probe)
        parent = os.path.dirname(directory)
        if parent == directory:
            return tuple(probe)
        directory = parent


def snapshot_name(cwd: str, paths: tuple) -> str:
    text = "\0".join((str(FORMAT), tool_fingerprint(), cwd, *paths))
    return "warm-" + _blake2b(os.fsencode(text), digest_size=12).hexdigest() + ".marshal"


class Recorder:
    """Collects, during a slow ``check``, what its answer depended on; ``save`` writes the snapshot.

    Created before the settings are resolved and stats taken before the things they describe
    are read, so a change made meanwhile makes the snapshot stale, never wrong.
    """

    def __init__(self, paths: tuple) -> None:
        self.paths = tuple(paths) or (".",)
        self.cwd = os.getcwd()
        self.probe = config_probe(self.paths[0])
        self.given: dict[str, tuple] = {}
        self.stats: dict[str, tuple | None] = {}
        self.links: dict[str, tuple] = {}
        self.kinds: dict[str, int | None] = {}

    # called by tether.discovery
    def note(self, path: str) -> None:
        if path not in self.stats:
            self.stats[path] = signature(path)

    def note_given(self, path: str) -> None:
        if path not in self.given:
            self.given[path] = given_identity(path)

    def note_kind(self, path: str) -> None:
        """Only whether ``path`` is a file, a directory or missing matters (``.git``, whose
        mtime changes with every git command)."""
        if path not in self.kinds:
            self.kinds[path] = kind(path)

    def note_link(self, path: str) -> None:
        """A symbolic link met while walking: where it leads, and what is there."""
        if path not in self.links:
            self.links[path] = link_identity(path)

    def prepare(self, settings) -> None:
        """Create the cache directory before discovery lists its parent: created after, it
        would make the snapshot of a run over the project root stale at once."""
        try:
            ensure_cache_dir(_cache.cache_root(settings.project_root))
        except OSError:
            pass

    def _racy(self) -> bool:
        limit = time.time_ns() - int(_cache.RACY_SECONDS * 1e9)
        sigs = [sig for _, sig in self.probe] + list(self.stats.values()) + [sig for _, sig in self.links.values()]
        return any(sig is not None and (sig[3] > limit or sig[4] > limit) for sig in sigs)

    def save(self, settings, files: list[str], problems: list, cache) -> None:
        """Write the snapshot (best effort, like the cache: any failure just skips it).

        Called after the run saved ``cache`` (its ``tether.cache.ResultCache``); the
        (mtime, size) and result of each file are taken from its index, so the snapshot
        trusts a stat exactly where the cache does.
        """
        if problems or self._racy():
            return
        try:
            from tether.cache import CLEAN, cache_root

            indexed = cache.indexed(files)
            if indexed is None:
                return
            mtimes, sizes, entries = indexed
            root = os.path.dirname(cache_root(settings.project_root))
            directory = os.path.join(root, CACHE_DIR)
            payload = marshal.dumps(
                {
                    "format": FORMAT,
                    "cwd": self.cwd,
                    "paths": self.paths,
                    "root": root,
                    "probe": self.probe,
                    "given": tuple(self.given.items()),
                    "stats": tuple(self.stats.items()),
                    "links": tuple(self.links.items()),
                    "kinds": tuple(self.kinds.items()),
                    "files": tuple(files),
                    "mtimes": mtimes,
                    "sizes": sizes,
                    # only the files with findings or errors: most are clean
                    "entries": {i: entry for i, entry in enumerate(entries) if entry != CLEAN},
                    "unsafe_fixes": bool(settings.unsafe_fixes),
                    "style": str(settings.style),
                }
            )
            ensure_cache_dir(directory)
            write_atomically(directory, os.path.join(directory, snapshot_name(self.cwd, self.paths)), payload)
            _prune(directory)
        except Exception:
            return


def _prune(directory: str) -> None:
    """Keep the MAX_SNAPSHOTS most recently written snapshots (each run writes at most one)."""
    entries = [e for e in os.scandir(directory) if e.name.startswith("warm-")]
    if len(entries) <= MAX_SNAPSHOTS:
        return
    entries.sort(key=lambda e: e.stat().st_mtime_ns, reverse=True)
    for entry in entries[MAX_SNAPSHOTS:]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass


# -- the warm path ---------------------------------------------------------------------------


def parse_check(argv: list[str]) -> tuple[tuple, str] | None:
    """(paths, output format) of a plain ``check`` invocation; None for anything else."""
    if not argv or argv[0] != "check":
        return None
    paths: list[str] = []
    fmt = "full"
    index = 1
    while index < len(argv):
        arg = argv[index]
        if arg == "--output-format" and index + 1 < len(argv):
            fmt = argv[index + 1]
            index += 2
            continue
        if arg.startswith("--output-format="):
            fmt = arg[len("--output-format=") :]
        elif arg.startswith("-"):  # another option, "--" or "-" (stdin): the command line's job
            return None
        else:
            paths.append(arg)
        index += 1
    if fmt not in OUTPUT_FORMATS:
        return None
    return tuple(paths) or (".",), fmt


def answer(argv: list[str]) -> int | None:
    """Print the result of ``tether check`` from the cache and return its exit code, or
    return None, having printed nothing, when the command line must run."""
    parsed = parse_check(argv)
    if parsed is None or not _plain_streams():
        return None
    try:
        output = _replay(*parsed)
    except Exception:  # whatever went wrong, the command line knows how to say it
        return None
    if output is None:
        return None
    errors, messages, code = output
    try:
        if errors:
            sys.stderr.write(errors)
            sys.stderr.flush()
        if messages:
            sys.stdout.write(messages)
            sys.stdout.flush()
    except OSError as exc:  # as click does: a closed pipe (`tether check | head`) exits 1 quietly
        import errno

        if exc.errno != errno.EPIPE:
            raise
        sys.stdout, sys.stderr = _Pacified(sys.stdout), _Pacified(sys.stderr)
        return 1
    return code


class _Pacified:
    """A stream whose flush ignores a broken pipe (the interpreter flushes at exit)."""

    def __init__(self, wrapped) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError:
            pass

    def __getattr__(self, name: str):
        return getattr(self.wrapped, name)


def _plain_streams() -> bool:
    """Whether click.echo would write our text to stdout/stderr unchanged: it re-wraps streams
    with an ASCII encoding and uses the console API on a Windows terminal."""
    import codecs

    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if stream is None or not encoding or codecs.lookup(encoding).name == "ascii":
            return False
        if os.name == "nt" and stream.isatty():
            return False
    return True


def _load_snapshot(cwd: str, paths: tuple, probe: tuple) -> dict | None:
    """The snapshot for this command, from the cache directory of the project root it names."""
    name = snapshot_name(cwd, paths)
    roots = []  # where a slow run could have put it: a config file's directory, else cwd
    for path, sig in probe:
        if sig is not None and _stat.S_ISREG(sig[0]):
            roots.append(os.path.dirname(path))
    roots.append(cwd)
    for root in dict.fromkeys(roots):
        try:
            with open(os.path.join(root, CACHE_DIR, name), "rb") as handle:
                snapshot = marshal.loads(handle.read())
        except OSError:
            continue
        if isinstance(snapshot, dict) and snapshot.get("root") == root:
            return snapshot
        return None
    return None


def _replay(paths: tuple, fmt: str) -> tuple[str, str, int] | None:
    cwd = os.getcwd()
    probe = config_probe(paths[0])
    snapshot = _load_snapshot(cwd, paths, probe)
    if (
        snapshot is None
        or snapshot.get("format") != FORMAT
        or snapshot.get("cwd") != cwd
        or snapshot.get("paths") != paths
        or snapshot.get("probe") != probe
    ):
        return None
    for path, identity in snapshot["given"]:
        if given_identity(path) != identity:
            return None
    for path, sig in snapshot["stats"]:
        if signature(path) != sig:
            return None
    for path, identity in snapshot["links"]:
        if link_identity(path) != identity:
            return None
    for path, known in snapshot["kinds"]:
        if kind(path) != known:
            return None
    files, mtimes, sizes = snapshot["files"], snapshot["mtimes"], snapshot["sizes"]
    if not len(files) == len(mtimes) == len(sizes):
        return None
    stat = os.stat
    for path, mtime, size in zip(files, mtimes, sizes):  # the whole cost of a warm run
        st = stat(path)
        if st.st_mtime_ns != mtime or st.st_size != size:
            return None
    return _render(files, snapshot["entries"], fmt, snapshot["unsafe_fixes"], snapshot["style"])


def _render(files, entries: dict, fmt: str, unsafe_fixes: bool, style: str) -> tuple[str, str, int] | None:
    """What ``tether.cli.check`` prints for these results: (stderr, stdout, exit code).

    ``entries`` maps the index of each file with findings or an error to its cache entry;
    the clean files print nothing and count for nothing, so they need no result object.
    """
    from tether import report

    results = []
    for index in sorted(entries):
        path = files[index]
        findings, error = entries[index]
        results.append(
            _CachedResult(
                path,
                tuple(_CachedFinding(*data) for data in findings),
                None if error is None else path + error,
            )
        )
    errors = "".join(f"error: {r.error}\n" for r in results if r.error)
    lines_of = lambda result: report.source_lines(result.path)  # noqa: E731
    messages = "".join(m + "\n" for m in report.check_messages(results, fmt, unsafe_fixes, style, lines_of))
    if "\x1b" in errors or "\x1b" in messages:  # click.echo strips escape sequences off a terminal
        return None
    for text, stream in ((errors, sys.stderr), (messages, sys.stdout)):
        text.encode(stream.encoding, stream.errors or "strict")  # fails here, not half-way through
    if errors:
        code = 2
    else:
        code = 1 if any(r.findings for r in results) else 0
    return errors, messages, code


class _CachedResult:
    __slots__ = ("path", "findings", "error")

    def __init__(self, path: str, findings: tuple, error: str | None) -> None:
        self.path, self.findings, self.error = path, findings, error


class _CachedFix:
    """The parts of ``tether.model.Fix`` the report reads."""

    __slots__ = ("applicability", "title", "style")

    def __init__(self, applicability, title, plan, lines, style) -> None:
        self.applicability, self.title, self.style = applicability, title, style

    @property
    def is_safe(self) -> bool:
        return self.applicability == SAFE


class _CachedFinding:
    """The parts of ``tether.model.Finding`` the report reads, from the cache's plain data."""

    __slots__ = ("code", "message", "line", "col", "end_line", "end_col", "fixes")

    def __init__(self, code, message, line, col, end_line, end_col, fixes) -> None:
        self.code, self.message, self.line, self.col = code, message, line, col
        self.end_line, self.end_col = end_line, end_col
        self.fixes = tuple(_CachedFix(*fix) for fix in fixes)

    def choose_fix(self, unsafe_fixes: bool, style: str):
        return choose_fix(self.fixes, unsafe_fixes, style)


__all__ = ["Recorder", "answer", "config_probe", "parse_check", "signature"]
