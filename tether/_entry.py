"""The ``tether`` executable: answers ``--version``, and a ``check`` the cache can answer
entirely (``tether.warm``), before importing the command line.

Importing click and building the commands costs more than the rest of such a run, and
editors and pre-commit hooks call them often; everything else goes to ``tether.cli``.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):
        from tether import __version__

        sys.stdout.write(f"tether {__version__}\n")  # the same line as click's version option
        sys.stdout.flush()
        sys.exit(0)
    if sys.argv[1:2] == ["check"]:
        from tether.warm import answer

        code = answer(sys.argv[1:])
        if code is not None:
            sys.exit(code)
    from tether.cli import main as cli_main

    cli_main()
