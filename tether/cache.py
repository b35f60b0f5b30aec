"""The result cache of ``tether check``: ``.tether_cache/`` under the project root.

A result is keyed by the hash of the file's bytes, the tool's fingerprint (version, Python
version, the code of tether and its rules) and ``Settings.cache_key()``: the same bytes
checked by the same tool with the same settings give the same findings, whatever the path
or the time. The fingerprint and settings pick the cache file; inside it, results are
stored by content hash.

To avoid even reading unchanged files, the cache also remembers each path's (mtime, size)
with the content hash it had; a file whose stat still matches is not read at all (the
same trade as ruff and black). A file changed within the last two seconds is not
remembered by stat, so an edit in the same clock tick as a run can never be missed.

``tether.warm`` (the warm path of ``check``) reads this cache too, so the module imports
neither ``typing`` nor ``tether.model`` at import time (results are built lazily).

Everything here is best effort: a missing, unreadable or corrupt cache is an empty cache,
a cache that cannot be written is skipped silently, and writes are atomic (temporary file
plus rename) so concurrent runs never see half a file. Only plain data is stored
(``marshal``), never pickles, so a tampered cache cannot run code.
"""

from __future__ import annotations

import marshal
import os
import sys
import time

from tether import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import Any

    from tether.model import FileResult, Finding

CACHE_DIR = ".tether_cache"
FORMAT = 2
CLEAN = ((), None)  # the entry of a file without findings or error: most files
RACY_SECONDS = 2.0
STALE_DAYS = 30


try:  # the builtin module: ``hashlib`` would load OpenSSL first (~10 ms per run)
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover - other Python implementations
    from hashlib import blake2b as _blake2b


def content_digest(data: bytes) -> bytes:
    return _blake2b(data, digest_size=16).digest()


_FINGERPRINT: list[str] = []


def tool_fingerprint() -> str:
    """Version, Python version (ast differs between them) and the code of tether's rules.

    Source stats are included so a development checkout never serves results of older code
    under an unchanged version number. Computed once per process.
    """
    if not _FINGERPRINT:
        _FINGERPRINT.append(_compute_fingerprint())
    return _FINGERPRINT[0]


def _compute_fingerprint() -> str:
    import codemods
    import tether

    parts = [__version__, "%d.%d" % sys.version_info[:2], sys.implementation.name]
    for package in (tether, codemods):
        directory = os.path.dirname(os.path.abspath(package.__file__ or ""))
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".py"):
                try:
                    st = entry.stat()
                except OSError:
                    continue
                parts.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}")
    return _blake2b("\n".join(parts).encode(), digest_size=12).hexdigest()


def path_key(path: str) -> str:
    """The index key of a path: absolute; an absolute path is kept as given (consistent
    from run to run, and it saves a normpath per file on warm runs)."""
    return path if os.path.isabs(path) else os.path.abspath(path)


def _clean_result_maker():
    """A function path -> ``FileResult(path)``: the frozen dataclass ``__init__`` was a quarter
    of a warm run's per-file cost; the function copies the defaults of a clean result instead."""
    from tether.model import FileResult

    template = FileResult("").__dict__
    new, set_dict = object.__new__, object.__setattr__

    def clean_result(path: str) -> FileResult:
        result = new(FileResult)
        fields = dict(template)
        fields["path"] = path
        set_dict(result, "__dict__", fields)
        return result

    return clean_result


def path_keys(paths: list[str]) -> list[str]:
    """``path_key`` of each path; on POSIX without a Python call per path (``isabs`` was
    most of the cost of indexing a 9,000-file run)."""
    if os.sep == "/" and os.altsep is None:
        abspath = os.path.abspath
        return [path if path[:1] == "/" else abspath(path) for path in paths]
    return [path_key(path) for path in paths]


_CLEAN_MAKER: list = []


def _clean_result(path: str) -> FileResult:
    if not _CLEAN_MAKER:
        _CLEAN_MAKER.append(_clean_result_maker())
    return _CLEAN_MAKER[0](path)


def cache_root(project_root: str | None) -> str:
    return os.path.join(os.path.abspath(project_root or os.getcwd()), CACHE_DIR)


def cache_file(settings) -> str:
    """The cache file of this tool with these settings (``tether.config.Settings``)."""
    key = _blake2b(f"{FORMAT}\n{tool_fingerprint()}\n{settings.cache_key()}".encode(), digest_size=12).hexdigest()
    return os.path.join(cache_root(settings.project_root), f"check-{key}.marshal")


# -- plain data <-> results ------------------------------------------------------------------


def _finding_to_data(finding: Finding) -> tuple:
    fixes = tuple((f.applicability, f.title, f.plan, tuple(f.lines), f.style) for f in finding.fixes)
    return (finding.code, finding.message, finding.line, finding.col, finding.end_line, finding.end_col, fixes)


def _finding_from_data(data: Any) -> Finding:
    from tether.model import Finding, Fix

    code, message, line, col, end_line, end_col, fixes = data
    return Finding(
        code,
        message,
        line,
        col,
        end_line,
        end_col,
        tuple(Fix(a, title, plan, (lines[0], lines[1]), style) for a, title, plan, lines, style in fixes),
    )


def result_to_entry(result: FileResult) -> tuple | None:
    """What the cache keeps of a check result; None when it cannot be kept path-free."""
    error = result.error
    if error is not None:
        if not error.startswith(result.path):
            return None
        error = error[len(result.path) :]
    return (tuple(_finding_to_data(f) for f in result.findings), error)


def result_from_entry(path: str, entry: Any) -> FileResult:
    from tether.model import FileResult

    findings, error = entry
    return FileResult(
        path,
        findings=tuple(_finding_from_data(f) for f in findings),
        error=None if error is None else path + error,
    )


class ResultCache:
    """One cache file per (tool fingerprint, settings); load, look up, store, save."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._files: dict[str, tuple[int, int, bytes]] | None = {}  # abspath -> (mtime_ns, size, digest)
        # as loaded: (path -> row, mtimes, sizes, digests blob); ``files`` is built from it
        # only when the index changes, so a warm run never builds 9,000 tuples
        self._rows: tuple[dict[str, int], list, list, bytes] | None = None
        self.results: dict[bytes, tuple] = {}  # digest -> entry
        self.touched: set[bytes] = set()  # digests this run produced or served
        self.dirty = False

    @classmethod
    def for_settings(cls, settings) -> "ResultCache":
        cache = cls(cache_file(settings))
        cache.load()
        return cache

    def load(self) -> None:
        """Read the cache file; the layout (flat lists, digests as one blob) loads in ~3 ms."""
        try:
            with open(self.path, "rb") as handle:
                data = marshal.loads(handle.read())  # marshal.load(file) reads piecemeal: 20x slower
            if data.get("format") != FORMAT:
                return
            paths, mtimes, sizes, digests = data["paths"], data["mtimes"], data["sizes"], data["digests"]
            results, clean = data["results"], data["clean"]
            if not all(isinstance(v, list) for v in (paths, mtimes, sizes)) or not isinstance(digests, bytes):
                return
            if not (len(paths) == len(mtimes) == len(sizes) and len(digests) == 16 * len(paths)):
                return
            if not isinstance(results, dict) or not isinstance(clean, bytes) or len(clean) % 16:
                return
            rows = (dict(zip(paths, range(len(paths)))), mtimes, sizes, digests)
            results = dict(results)
            results.update((clean[i : i + 16], CLEAN) for i in range(0, len(clean), 16))
        except Exception:  # missing, unreadable or corrupt: an empty cache
            return
        self._rows = rows
        self._files = None
        self.results = results

    @property
    def files(self) -> dict[str, tuple[int, int, bytes]]:
        if self._files is None:
            index, mtimes, sizes, digests = self._rows  # type: ignore[misc]
            self._files = {path: (mtimes[i], sizes[i], digests[16 * i : 16 * i + 16]) for path, i in index.items()}
        return self._files

    def has_files(self) -> bool:
        return bool(self._rows[0]) if self._files is None else bool(self._files)  # type: ignore[index]

    # -- look-ups ----------------------------------------------------------------------------

    def by_stat(self, key: str, st: os.stat_result, path: str) -> FileResult | None:
        """The result for ``path`` (whose absolute path is ``key``) if its stat is unchanged."""
        if self._files is None:
            index, mtimes, sizes, digests = self._rows  # type: ignore[misc]
            row = index.get(key)
            if row is None or mtimes[row] != st.st_mtime_ns or sizes[row] != st.st_size:
                return None
            return self.by_digest(path, digests[16 * row : 16 * row + 16])
        known = self._files.get(key)
        if known is None:
            return None
        try:
            mtime_ns, size, digest = known
        except (TypeError, ValueError):
            return None
        if mtime_ns != st.st_mtime_ns or size != st.st_size:
            return None
        return self.by_digest(path, digest)

    def hits_by_stat(self, paths: list[str]) -> list[FileResult | None]:
        """``by_stat`` for many paths in one loop (a warm run's whole cost is this loop)."""
        if self._files is not None or not self._rows or not self._rows[0]:
            out: list[FileResult | None] = []
            for path in paths:
                try:
                    out.append(self.by_stat(path_key(path), os.stat(path), path))
                except OSError:
                    out.append(None)
            return out
        index, mtimes, sizes, digests = self._rows
        results, touched = self.results, self.touched
        stat, key = os.stat, path_key
        if not _CLEAN_MAKER:
            _CLEAN_MAKER.append(_clean_result_maker())
        clean = _CLEAN_MAKER[0]
        out = []
        append = out.append
        for path in paths:
            row = index.get(key(path))
            if row is None:
                append(None)
                continue
            try:
                st = stat(path)
            except OSError:
                append(None)
                continue
            if mtimes[row] != st.st_mtime_ns or sizes[row] != st.st_size:
                append(None)
                continue
            digest = digests[16 * row : 16 * row + 16]
            entry = results.get(digest)
            if entry is CLEAN:
                touched.add(digest)
                append(clean(path))
            else:
                append(None if entry is None else self.by_digest(path, digest))
        return out

    def indexed(self, paths: list[str]) -> tuple[list[int], list[int], list] | None:
        """(mtimes_ns, sizes, entries) of ``paths`` as the (mtime, size) index knows them,
        or None when one is not indexed (e.g. changed within RACY_SECONDS). An entry is
        ``CLEAN`` or (findings data, error suffix): what ``tether.warm`` replays."""
        keys = path_keys(paths)
        if self._files is None:  # as loaded: no need to build the dict of tuples
            if not self._rows:
                return None
            index, all_mtimes, all_sizes, digests = self._rows
            rows = list(map(index.get, keys))
            if None in rows:
                return None
            mtimes = list(map(all_mtimes.__getitem__, rows))
            sizes = list(map(all_sizes.__getitem__, rows))
            found = [digests[16 * row : 16 * row + 16] for row in rows]
        else:
            known = list(map(self._files.get, keys))
            if not all(isinstance(k, tuple) and len(k) == 3 for k in known):
                return None
            mtimes = [k[0] for k in known]
            sizes = [k[1] for k in known]
            found = [k[2] for k in known]
        entries = list(map(self.results.get, found))
        if None in entries:
            return None
        return mtimes, sizes, entries

    def by_digest(self, path: str, digest: bytes) -> FileResult | None:
        entry = self.results.get(digest)
        if entry is None:
            return None
        self.touched.add(digest)
        if entry is CLEAN:
            return _clean_result(path)
        try:
            return result_from_entry(path, entry)
        except Exception:  # a corrupt entry is a miss
            return None

    # -- updates -----------------------------------------------------------------------------

    def remember(self, path: str, digest: bytes, st: tuple[int, int] | None, result: FileResult) -> None:
        if digest not in self.results:
            entry = result_to_entry(result)
            if entry is None:
                return
            self.results[digest] = CLEAN if entry == CLEAN else entry
            self.dirty = True
        self.touched.add(digest)
        self.remember_stat(path, digest, st)

    def remember_stat(self, path: str, digest: bytes, st: tuple[int, int] | None) -> None:
        if st is None:
            return
        mtime_ns, size = st
        if time.time() - mtime_ns / 1e9 < RACY_SECONDS:
            self.files.pop(path, None)  # racily clean: look at the bytes next time
            return
        if self.files.get(path) != (mtime_ns, size, digest):
            self.files[path] = (mtime_ns, size, digest)
            self.dirty = True

    def save(self) -> None:
        """Write atomically; merge with what a concurrent run (another shard) wrote meanwhile."""
        if not self.dirty:
            return
        try:
            directory = os.path.dirname(self.path)
            ensure_cache_dir(directory)
            other = ResultCache(self.path)
            other.load()
            files = {**other.files, **self.files}
            # keep results some path still points at, or that this run used (racily clean files)
            live = {entry[2] for entry in files.values() if isinstance(entry, tuple) and len(entry) == 3}
            live.update(self.touched)
            results = {d: e for d, e in {**other.results, **self.results}.items() if d in live}
            payload = _dumps(files, results)
            if payload is None:
                return
            write_atomically(directory, self.path, payload)
            self.dirty = False
            _remove_stale(directory, keep=self.path)
        except Exception:  # read-only tree, full disk, ...: run without a cache
            return


def write_atomically(directory: str, path: str, payload: bytes) -> None:
    """Write ``payload`` to ``path`` (in ``directory``) through a temporary file and a rename."""
    # not tempfile.mkstemp: importing tempfile (random, shutil, ...) costs ~5 ms
    temporary = os.path.join(directory, f".tmp-{os.getpid()}-{os.urandom(6).hex()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _remove_stale(directory: str, keep: str) -> None:
    """Cache files of other tool versions or settings unused for STALE_DAYS are deleted."""
    limit = time.time() - STALE_DAYS * 86400
    for entry in os.scandir(directory):
        if entry.name.startswith("check-") and entry.path != keep and entry.stat().st_mtime < limit:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


def _dumps(files: dict, results: dict) -> bytes | None:
    plain = {}
    for digest, entry in results.items():
        if entry == CLEAN:
            continue
        try:
            marshal.dumps(entry)
        except ValueError:  # a rule put something that is not plain data in a plan: skip it
            continue
        plain[digest] = entry
    clean = [d for d, e in results.items() if e == CLEAN and isinstance(d, bytes) and len(d) == 16]
    kept = set(clean) | set(plain)
    rows = [(p, e) for p, e in files.items() if isinstance(e, tuple) and len(e) == 3 and e[2] in kept]
    try:
        return marshal.dumps(
            {
                "format": FORMAT,
                "paths": [p for p, _ in rows],
                "mtimes": [e[0] for _, e in rows],
                "sizes": [e[1] for _, e in rows],
                "digests": b"".join(e[2] for _, e in rows),
                "results": plain,
                "clean": b"".join(clean),
            }
        )
    except ValueError:
        return None


def ensure_cache_dir(directory: str) -> None:
    if os.path.isdir(directory):
        return
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, ".gitignore"), "w", encoding="utf-8") as handle:
        handle.write("# Created by tether automatically.\n*\n")
    with open(os.path.join(directory, "CACHEDIR.TAG"), "w", encoding="utf-8") as handle:
        handle.write("Signature: 8a477f597d28d172789f06886806bc55\n# This is tether's result cache.\n")


__all__ = ["CACHE_DIR", "ResultCache", "content_digest", "tool_fingerprint"]
