"""Running the engine over many files: cache, worker processes, shards, progress.

Results come back in the order of the input file list whatever the number of workers, so
output is deterministic and identical for any ``--jobs``, with or without the cache.

Shape of a run (SPEC section 6):
1. ``check`` only: files whose (mtime, size) or content hash is known to the cache get
   their stored result without being parsed (``tether.cache``);
2. the rest are cut into chunks and handed to worker processes (``--jobs``, default: the
   cores this process may use). Each worker reads a file, runs the byte prefilter and only
   then decodes and parses it. Workers are forked from a parent that has not imported
   libcst, so they import it only if they render a fix (``diff``/``fix``);
3. tiny runs (fewer than ``MIN_FILES_PER_WORKER`` files per worker) stay in-process: starting
   processes would cost more than it saves.
"""

from __future__ import annotations

import os
import sys
import zlib
from typing import Sequence

from tether.config import Settings
from tether.model import FileResult

MIN_FILES_PER_WORKER = 16
MAX_CHUNK = 64


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def parse_shard(value: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 1 <= K <= N; ValueError with a one-line message otherwise."""
    try:
        k_text, n_text = value.split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise ValueError(f"--shard: expected K/N such as 2/8, got {value!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard: K must be between 1 and N, got {value!r}")
    return k, n


def shard_of(path: str, root: str | None, count: int) -> int:
    """The 1-based shard of ``path``: a stable hash of its path relative to the project root.

    Hashing (rather than slicing the sorted list) keeps every other file in its shard when
    files are added or removed, and gives the same split on every machine and OS.
    """
    absolute = os.path.abspath(path)
    base = os.path.abspath(root or os.getcwd())
    try:
        relative = os.path.relpath(absolute, base)
    except ValueError:  # another drive on Windows
        relative = absolute
    key = relative.replace(os.sep, "/").encode("utf-8", "surrogateescape")
    return zlib.crc32(key) % count + 1


def select_shard(files: Sequence[str], shard: tuple[int, int] | None, root: str | None) -> list[str]:
    """The files of shard K of N (all files when ``shard`` is None), in their given order."""
    if shard is None:
        return list(files)
    k, n = shard
    return [path for path in files if shard_of(path, root, n) == k]


# -- worker side --------------------------------------------------------------------------------

_STATE: dict = {}


def _init_worker(state: dict) -> None:
    _STATE.clear()
    _STATE.update(state)


def process_loaded(*args, **kwargs):
    """tether.engine.process_loaded, imported on first use: a warm run never needs the engine."""
    from tether.engine import process_loaded as engine_process_loaded

    return engine_process_loaded(*args, **kwargs)


def _process_one(path: str) -> tuple[FileResult, bytes | None, tuple[int, int] | None]:
    """(result, content digest when caching, (mtime_ns, size) of the bytes read)."""
    from tether.engine import read_path

    data, failure = read_path(path)
    if data is None:
        return failure, None, None  # type: ignore[return-value]
    settings, mode = _STATE["settings"], _STATE["mode"]
    digest = stat = None
    if _STATE["digest"]:
        from tether.cache import content_digest

        digest = content_digest(data)
        try:
            st = os.stat(path)
            stat = (st.st_mtime_ns, st.st_size) if st.st_size == len(data) else None
        except OSError:
            stat = None
        cached = _STATE.get("cache")
        if cached is not None:
            hit = cached.by_digest(path, digest)
            if hit is not None:
                return hit, digest, stat
    result = process_loaded(path, data, settings, mode, _STATE["prefilter"], _STATE["write"])
    return result, digest, stat


def _process_chunk(paths: Sequence[str]) -> list:
    return [_process_one(path) for path in paths]


# -- parent side --------------------------------------------------------------------------------


def run_files(
    files: Sequence[str],
    settings: Settings,
    mode: str,
    write: bool = False,
    jobs: int | None = None,
    use_cache: bool = True,
    progress: bool = False,
) -> list[FileResult]:
    """Process ``files`` (mode "check", "diff" or "fix"); results in the order of ``files``."""
    results: list[FileResult | None] = [None] * len(files)
    cache = None
    if use_cache and mode == "check" and files:
        from tether.cache import ResultCache

        cache = ResultCache.for_settings(settings)
    todo: list[int] = []
    for index, path in enumerate(files):
        hit = None
        if cache is not None and cache.has_files():
            try:
                hit = cache.by_stat(os.path.abspath(path), os.stat(path), path)
            except OSError:
                hit = None
        if hit is not None:
            results[index] = hit
        else:
            todo.append(index)

    if todo:
        from tether.engine import build_prefilter

        prefilter = build_prefilter(settings)
    else:
        prefilter = None
    state = {
        "settings": settings,
        "mode": mode,
        "write": write,
        "prefilter": prefilter,
        "digest": cache is not None,
        "cache": cache if cache is not None and cache.results else None,
    }
    reporter = _progress(progress, len(files), len(files) - len(todo))
    try:
        pending = [files[i] for i in todo]
        for offset, (result, digest, stat) in enumerate(_execute(pending, state, jobs, reporter)):
            index = todo[offset]
            results[index] = result
            if cache is not None and digest is not None:
                cache.remember(os.path.abspath(files[index]), digest, stat, result)
    finally:
        reporter.close()
    if cache is not None:
        cache.save()
    return results  # type: ignore[return-value]


def _execute(paths: list[str], state: dict, jobs: int | None, reporter):
    """Yield (result, digest, stat) per path, in order, from workers or in-process."""
    jobs = default_jobs() if jobs is None else jobs
    workers = min(jobs, len(paths) // MIN_FILES_PER_WORKER)
    if workers <= 1:
        _init_worker(state)
        for path in paths:
            item = _process_one(path)
            reporter.advance(1)
            yield item
        return
    chunk = max(1, min(MAX_CHUNK, len(paths) // (workers * 8) or 1))
    chunks = [paths[i : i + chunk] for i in range(0, len(paths), chunk)]
    import multiprocessing

    # fork: workers start at once and inherit the parent's imports (libcst is not among them)
    method = "fork" if sys.platform.startswith("linux") else None
    context = multiprocessing.get_context(method)
    with context.Pool(workers, initializer=_init_worker, initargs=(state,)) as pool:
        for items in pool.imap(_process_chunk, chunks):
            reporter.advance(len(items))
            yield from items


def _progress(enabled: bool, total: int, done: int):
    if not enabled:
        return _NoProgress()
    from tether.progress import Progress

    return Progress(total, done)


class _NoProgress:
    def advance(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


__all__ = ["default_jobs", "parse_shard", "run_files", "select_shard", "shard_of"]
