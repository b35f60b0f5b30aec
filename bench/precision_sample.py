"""Draw a reproducible sample of findings from the corpus for review by hand (precision).

    .venv/bin/python bench/precision_sample.py                  # 50 findings, all rules
    .venv/bin/python bench/precision_sample.py --rule TET201 -n 30 --seed 2 > review.md

Runs ``tether check --output-format json --unsafe-fixes`` over the corpus (read-only; see
bench/corpus_check.py for where the corpus comes from), samples the findings evenly across
rules (then at random within a rule, with a fixed seed so two reviewers see the same ones)
and prints each with the code around it as a markdown checklist: mark each one TP or FP, then
precision = TP / reviewed. Every FP deserves a fixture under fixtures/<rule>/not_flagged_*.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_check import default_corpus, ensure_corpus  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=50, help="findings to sample (default 50)")
    parser.add_argument("--rule", action="append", help="only this rule code (repeatable)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--context", type=int, default=8, help="lines shown before and after")
    parser.add_argument("--corpus", type=Path, default=None)
    options = parser.parse_args(argv)

    corpus = options.corpus or default_corpus()
    ensure_corpus(corpus)
    command = [sys.executable, "-m", "tether", "check", "--no-cache", "--unsafe-fixes", "--output-format", "json"]
    if options.rule:
        command += ["--select", ",".join(options.rule)]
    completed = subprocess.run([*command, "."], cwd=corpus, capture_output=True)
    findings = json.loads(completed.stdout or b"[]")
    by_rule: dict[str, list[dict]] = collections.defaultdict(list)
    for finding in findings:
        by_rule[finding["code"]].append(finding)
    generator = random.Random(options.seed)
    for items in by_rule.values():
        generator.shuffle(items)
    sample: list[dict] = []
    while len(sample) < options.n and any(by_rule.values()):
        for code in sorted(by_rule):  # round-robin: every rule gets its share
            if by_rule[code] and len(sample) < options.n:
                sample.append(by_rule[code].pop())

    counts = collections.Counter(f["code"] for f in findings)
    print(f"# Precision review: {len(sample)} of {len(findings)} findings "
          f"({', '.join(f'{c} {n}' for c, n in sorted(counts.items()))}), seed {options.seed}\n")
    print("Mark each: TP (a task really can be orphaned or dropped) or FP, with a one-line reason.\n")
    for index, finding in enumerate(sorted(sample, key=lambda f: (f["code"], f["filename"])), 1):
        path = Path(finding["filename"])
        path = path if path.is_absolute() else corpus / path
        row = finding["location"]["row"]
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        first = max(1, row - options.context)
        last = min(len(lines), row + options.context)
        shown = "\n".join(f"{'>' if n == row else ' '}{n:5} {lines[n - 1]}" for n in range(first, last + 1))
        relative = path.relative_to(corpus) if path.is_relative_to(corpus) else path
        print(f"## {index}. {finding['code']} {relative}:{row}\n")
        print(f"{finding['message']}\n")
        print(f"```\n{shown}\n```\n")
        print("- [ ] TP  - [ ] FP  reason:\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
