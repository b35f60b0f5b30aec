"""Running the engine over many files: cache, worker processes, shards, progress.

Results come back in the order of the input file list whatever the number of workers, so
output is deterministic and identical for any ``--jobs``, with or without the cache.

Shape of a run (SPEC section 6):
0. a plain ``check`` whose answer is entirely cached never gets here: ``tether.warm``
   replays it from a snapshot before the command line is even imported;
1. ``check`` only: files whose (mtime, size) or content hash is known to the cache get
   their stored result without being parsed (``tether.cache``);
2. the parent reads the others and runs the byte prefilter (a fast C search: ~0.2 s for
   56 MB); a rejected file is clean without being decoded;
3. the files that passed, with their bytes, are cut into chunks for worker processes
   (``--jobs``, default: the cores this process may use, but only as many as the amount of
   source to parse justifies, see ``worker_count``). Workers are forked from a parent that
   has not imported libcst, so they import it only if they render a fix (``diff``/``fix``).
"""

from __future__ import annotations

import os
import sys
import zlib
from typing import Sequence

from tether.config import Settings
from tether.model import FileResult

MIN_BYTES_PER_WORKER = 384 * 1024  # ~0.1 s of parsing: about what starting a worker costs
MAX_CHUNK = 8
SCAN_IN_WORKERS = 512  # files; ~15 ms of reading and byte search, about a worker's start
SCAN_CHUNK = 32  # paths per task when workers scan: few pass the prefilter, so chunks are cheap


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
    tune_collector()  # a worker process only ever runs this batch


def tune_collector() -> None:
    """Make the cyclic garbage collector cheap for a batch of parses.

    An ``ast`` tree is a large graph of young objects without cycles; with the default
    thresholds the collector scans every tree again and again while it is built and used
    (a fifth of the CPU of a cold run over a real tree). Freezing moves everything imported
    so far out of its scans for good, and a larger first threshold lets it run a hundred
    times less often. Cycles are still collected, so memory stays bounded. A process-wide
    choice, so the command line makes it (and workers), not library callers of ``run_files``.
    """
    import gc

    gc.freeze()
    gc.set_threshold(100_000, 50, 1_000)


def process_loaded(*args, **kwargs):
    """tether.engine.process_loaded, imported on first use: a warm run never needs the engine."""
    from tether.engine import process_loaded as engine_process_loaded

    return engine_process_loaded(*args, **kwargs)


def _process_chunk(items: Sequence[tuple[str, bytes]]) -> list[FileResult]:
    settings, mode, prefilter, write = _STATE["settings"], _STATE["mode"], _STATE["prefilter"], _STATE["write"]
    return [process_loaded(path, data, settings, mode, prefilter, write) for path, data in items]


def _scan_chunk(paths: Sequence[str]) -> list[tuple]:
    """Read, look up, prefilter and (if needed) process each path: a worker's whole job in a
    large run, so that no stage is left to one process (``run_files``).

    Per path: ``(result or None, digest, stat, cached)``; None stands for a clean file (the
    common case, kept out of the pipe back to the parent).
    """
    settings, mode, prefilter, write, cache = (
        _STATE["settings"], _STATE["mode"], _STATE["prefilter"], _STATE["write"], _STATE["cache"],
    )
    answers = []
    for path in paths:
        result, data, digest, stat, cached = answer_cheaply(path, prefilter, cache)
        if result is None:
            result = process_loaded(path, data, settings, mode, prefilter, write)
        answers.append((None if result.is_clean() else result, digest, stat, cached))
    return answers


def answer_cheaply(path: str, prefilter, cache) -> tuple:
    """What can be said of ``path`` without parsing it: ``(result, data, digest, stat, cached)``.

    ``result`` is set for an unreadable file, a cache hit by content (``cached`` True) and a
    file the prefilter rejects; None means the file must be parsed (``data`` holds its bytes).
    """
    from tether.engine import passes_prefilter, read_path

    data, failure = read_path(path)
    if data is None:
        return failure, None, None, None, False
    digest = stat = None
    if cache is not None:
        digest, stat = _identity(path, data)
        hit = cache.by_digest(path, digest)
        if hit is not None:
            return hit, None, digest, stat, True
    if not passes_prefilter(data, prefilter):
        return FileResult(path), None, digest, stat, False  # what process_data answers
    return None, data, digest, stat, False


# -- parent side --------------------------------------------------------------------------------


def run_files(
    files: Sequence[str],
    settings: Settings,
    mode: str,
    write: bool = False,
    jobs: int | None = None,
    use_cache: bool = True,
    progress: bool = False,
    caches: list | None = None,
) -> list[FileResult]:
    """Process ``files`` (mode "check", "diff" or "fix"); results in the order of ``files``.

    The parent answers stat-based cache hits (no read at all). Then, for a large run, each
    worker reads, prefilters and processes its own chunks of paths (``SCAN_IN_WORKERS``):
    reading and the byte search are a third of a cold run's CPU, too much to leave to one
    process while the others wait. For a small run the parent reads and prefilters, and
    only the files that must be parsed go to workers, with their bytes.

    ``caches``, if given, receives the ResultCache the run used and saved (the warm
    snapshot, ``tether.warm``, copies its index rather than reading the file again).
    """
    results: list[FileResult | None] = [None] * len(files)
    cache = None
    if use_cache and mode == "check" and files:
        from tether.cache import ResultCache

        cache = ResultCache.for_settings(settings)
    use_stat = cache is not None and cache.has_files()
    reporter = _progress(progress, len(files), 0)
    by_stat = cache.hits_by_stat(list(files)) if use_stat else None  # type: ignore[union-attr]
    pending = [i for i in range(len(files)) if by_stat is None or by_stat[i] is None]
    if by_stat is not None:
        for index, hit in enumerate(by_stat):
            if hit is not None:
                results[index] = hit
        reporter.advance(len(files) - len(pending))
    try:
        if pending:
            from tether.engine import build_prefilter

            state = {"settings": settings, "mode": mode, "write": write, "prefilter": build_prefilter(settings), "cache": cache}
            scanners = scan_worker_count(jobs, len(pending))
            if scanners > 1:
                answers = _scan_in_workers([files[i] for i in pending], state, scanners, reporter)
            else:
                answers = _scan_here(files, pending, state, jobs, reporter)
            for index, (result, digest, stat, cached) in zip(pending, answers):
                results[index] = result = FileResult(files[index]) if result is None else result
                _remember(cache, files[index], result, digest, stat, cached)
    finally:
        reporter.close()
    if cache is not None:
        cache.save()
        if caches is not None:
            caches.append(cache)
    return results  # type: ignore[return-value]


def _remember(cache, path: str, result: FileResult, digest, stat, cached: bool) -> None:
    if cache is None or digest is None:
        return
    from tether.cache import path_key

    if cached:
        cache.remember_stat(path_key(path), digest, stat)
    else:
        cache.remember(path_key(path), digest, stat, result)


def _scan_here(files, pending, state, jobs, reporter):
    """The small-run shape: the parent reads and prefilters; workers (if any) parse."""
    answers: list = [None] * len(pending)
    candidates: list[tuple[int, bytes, bytes | None, tuple[int, int] | None]] = []
    for position, index in enumerate(pending):
        result, data, digest, stat, cached = answer_cheaply(files[index], state["prefilter"], state["cache"])
        if result is None:
            candidates.append((position, data, digest, stat))
            continue
        answers[position] = (result, digest, stat, cached)
        reporter.advance(1)
    work = [(files[pending[position]], data) for position, data, _, _ in candidates]
    for (position, _, digest, stat), result in zip(candidates, _execute(work, state, jobs, reporter)):
        answers[position] = (result, digest, stat, False)
    return answers


def _scan_in_workers(paths: list[str], state: dict, workers: int, reporter):
    """Yield ``_scan_chunk`` answers for ``paths``, in order, from ``workers`` processes."""
    chunks = [paths[i : i + SCAN_CHUNK] for i in range(0, len(paths), SCAN_CHUNK)]
    with _pool(workers, state) as pool:
        for answers in pool.imap(_scan_chunk, chunks):
            reporter.advance(len(answers))
            yield from answers


def _identity(path: str, data: bytes) -> tuple[bytes, tuple[int, int] | None]:
    """Content digest, and (mtime_ns, size) when the file on disk still has this size."""
    from tether.cache import content_digest

    try:
        st = os.stat(path)
        stat = (st.st_mtime_ns, st.st_size) if st.st_size == len(data) else None
    except OSError:
        stat = None
    return content_digest(data), stat


def scan_worker_count(jobs: int | None, files: int) -> int:
    """Processes that read and prefilter as well as parse: only for runs of at least
    ``SCAN_IN_WORKERS`` files (below that, starting processes costs more than the byte
    search they would share), never more than ``--jobs``."""
    if files < SCAN_IN_WORKERS:
        return 1
    return max(1, min(default_jobs() if jobs is None else jobs, files // SCAN_CHUNK or 1))


def worker_count(jobs: int | None, work: Sequence[tuple[str, bytes]]) -> int:
    """How many processes to use for ``work`` (files that passed the prefilter).

    ``--jobs N`` is obeyed (never more workers than files). By default, the cores, but one
    worker per ``MIN_BYTES_PER_WORKER`` of source: below that, starting a process costs
    more than it saves.
    """
    if jobs is not None:
        return max(1, min(jobs, len(work)))
    size = sum(len(data) for _, data in work)
    return max(1, min(default_jobs(), len(work), size // MIN_BYTES_PER_WORKER))


def _execute(work: list[tuple[str, bytes]], state: dict, jobs: int | None, reporter):
    """Yield one FileResult per (path, bytes) of ``work``, in order, from workers or in-process."""
    workers = worker_count(jobs, work)
    if workers <= 1:
        _STATE.clear()
        _STATE.update(state)
        for item in work:
            (result,) = _process_chunk([item])
            reporter.advance(1)
            yield result
        return
    chunk = max(1, min(MAX_CHUNK, len(work) // (workers * 4)))
    chunks = [work[i : i + chunk] for i in range(0, len(work), chunk)]
    with _pool(workers, state) as pool:
        for results in pool.imap(_process_chunk, chunks):
            reporter.advance(len(results))
            yield from results


def _pool(workers: int, state: dict):
    import multiprocessing

    # fork: workers start at once and inherit the parent's imports (libcst is not among
    # them) and the run's state, the cache index included, without pickling it
    method = "fork" if sys.platform.startswith("linux") else None
    context = multiprocessing.get_context(method)
    return context.Pool(workers, initializer=_init_worker, initargs=(state,))


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
