"""A progress bar for long runs on a terminal, on stderr.

It appears only when the caller allows it (a terminal on both stdout and stderr, no ``CI``
variable, a human output format: see ``wanted``) and only once the run has lasted
``DELAY`` seconds, so short runs never pay for importing rich (~0.1 s) and never flicker.
The bar is transient: it is erased when the run ends, leaving the output as it would be
without it.
"""

from __future__ import annotations

import os
import sys
import time

DELAY = 0.5


def wanted(output_format: str | None = None) -> bool:
    """Whether this process may draw a progress bar at all."""
    if output_format in ("json", "sarif", "github"):
        return False
    if os.environ.get("CI") or os.environ.get("TETHER_NO_PROGRESS"):
        return False
    try:
        return sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    def __init__(self, total: int, done: int = 0) -> None:
        self.total = total
        self.done = done
        self.started = time.monotonic()
        self._bar = None
        self._task = None
        self._last = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        if self._bar is None:
            if time.monotonic() - self.started < DELAY or self.done >= self.total:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("tether"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("files", total=self.total, completed=self.done)
            self._last = time.monotonic()
        elif time.monotonic() - self._last >= 0.05:  # rich redraws on its own; spare the lock
            self._bar.update(self._task, completed=self.done)
            self._last = time.monotonic()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
