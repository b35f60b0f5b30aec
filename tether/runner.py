"""Running the engine over many files.

Results come back in the order of the input file list whatever the number of workers, so
output is deterministic and identical for any ``--jobs``.
"""

from __future__ import annotations

from typing import Sequence

from tether.config import Settings
from tether.engine import process_path, trigger_tokens
from tether.model import FileResult


def run_files(
    files: Sequence[str],
    settings: Settings,
    mode: str,
    write: bool = False,
    jobs: int | None = None,
    use_cache: bool = True,
) -> list[FileResult]:
    tokens = trigger_tokens(settings)
    return [process_path(path, settings, mode, tokens, write=write) for path in files]
