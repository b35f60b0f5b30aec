"""Turn every owned-task site into a certain orphan, one copy of its file per site.

Why: the corpus has no real orphaned owned task, so TET301's recall cannot be counted on
it. Renaming the attribute at the store only (``self._task = ...`` -> ``self._task_seeded =
...``) leaves the class's cancel/await code aimed at the old name: nothing reads the new
attribute, so the stored task is orphaned by construction (unless a local alias still ends
it). Running ``tether check --select TET301`` over the copies then shows which site shapes
the rule can see.

Usage: python bench/seed_owned_orphans.py SITES.tsv CORPUS_ROOT OUT_DIR
(SITES.tsv from bench/owned_task_sites.py; Home Assistant helper spawns are skipped, TET301
does not treat them as spawns). Writes OUT_DIR/NNN/<path> and OUT_DIR/index.tsv.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path


def main(sites: str, corpus: str, out: str) -> None:
    root, target = Path(corpus), Path(out)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    index = []
    for number, row in enumerate(Path(sites).read_text().splitlines()):
        path, line, function, attribute, form, kind = row.split("\t")
        if kind.startswith("HA:"):
            continue
        name = attribute[len("self.") :].split("[")[0].split(".")[-1]
        lines = (root / path).read_text().splitlines(keepends=True)
        store = re.compile(r"\b(\w+)\.(" + re.escape(name) + r")\b")
        for at in range(int(line) - 1, min(int(line) + 2, len(lines))):  # a store may span lines
            lines[at], found = store.subn(r"\1.\2_seeded", lines[at], count=1)
            if found:
                break
        else:
            print(f"# store not found: {path}:{line} {attribute}", file=sys.stderr)
            continue
        relative = path.split("/", 1)[1]  # drop the distribution directory
        copy = target / f"{number:03d}" / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text("".join(lines))
        index.append(f"{number:03d}\t{relative}\t{at + 1}\t{function}\t{attribute}\t{form}\t{kind}\n")
    (target / "index.tsv").write_text("".join(index))


if __name__ == "__main__":
    main(*sys.argv[1:4])
