"""The ``tether`` executable: answers ``--version`` before importing the command line.

Importing click and building the commands costs more than the rest of a ``--version`` run,
and editors and pre-commit hooks call it often; everything else goes to ``tether.cli``.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from tether import __version__

        sys.stdout.write(f"tether {__version__}\n")  # the same line as click's version option
        sys.stdout.flush()
        sys.exit(0)
    from tether.cli import main as cli_main

    cli_main()
