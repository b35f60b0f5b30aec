"""Long fuzzing run: the properties of tests/test_fuzz.py with many more examples.

    .venv/bin/python bench/fuzz_long.py                     # 5,000 examples of each generator
    .venv/bin/python bench/fuzz_long.py --examples 50000    # overnight
    .venv/bin/python bench/fuzz_long.py --only asyncio --seed 7

For every generated program that compiles, check/diff/fix must not crash or report an internal
error, each rewrite must compile, a second fix must change nothing and a file without findings
must stay byte-identical (tests/fuzzing.py: assert_invariants), under safe, --unsafe-fixes,
--style taskgroup and py38 settings. A failure is shrunk by hypothesis and printed with the
program that triggers it; the exit code is 1. Examples run at roughly 10-20 per second on one
core, so 5,000 of each takes about ten minutes.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hypothesis import HealthCheck, assume, given, seed, settings  # noqa: E402

from fuzzing import asyncio_programs, assert_invariants, hypothesmith_programs, program_is_valid, with_snippet  # noqa: E402


def main() -> int:
    warnings.simplefilter("ignore", SyntaxWarning)  # generated code: "perhaps you missed a comma?"
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=5000, help="examples per generator (default 5000)")
    parser.add_argument("--only", choices=("hypothesmith", "asyncio"), help="run just one generator")
    parser.add_argument("--seed", type=int, help="fixed seed, to replay a run")
    options = parser.parse_args()

    stats = {"valid": 0, "skipped (does not compile)": 0, "with findings": 0, "rewritten": 0}

    def record(text, data=None):
        if not program_is_valid(text):
            stats["skipped (does not compile)"] += 1
            assume(False)
        stats["valid"] += 1
        outcome = assert_invariants(text, data)
        stats["with findings"] += outcome.findings > 0
        stats["rewritten"] += outcome.changed

    config = settings(
        max_examples=options.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )

    @config
    @given(hypothesmith_programs())
    def hypothesmith_case(case):
        program, snippet = case
        record(with_snippet(program, snippet))

    @config
    @given(asyncio_programs())
    def asyncio_case(case):
        record(*case)

    failed = False
    for name, test in (("hypothesmith", hypothesmith_case), ("asyncio", asyncio_case)):
        if options.only and options.only != name:
            continue
        if options.seed is not None:
            test = seed(options.seed)(test)
        for key in stats:
            stats[key] = 0
        started = time.monotonic()
        try:
            test()
            verdict = "ok"
        except Exception as exc:  # hypothesis has already printed the shrunk example
            failed = True
            verdict = f"FAILED: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        elapsed = time.monotonic() - started
        summary = ", ".join(f"{value} {key}" for key, value in stats.items())
        print(f"{name}: {verdict} ({summary}; {elapsed:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
