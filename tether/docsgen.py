"""Generates docs/rules.md, the rule reference that every finding's ``url`` points to.

The reference is built from the rule modules' own docstrings so the two can never drift; a
test fails when docs/rules.md is out of date. Regenerate with ``python -m tether.docsgen``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tether.registry import all_rules

HEADER = """# tether rules

Generated from the rule modules in `codemods/` by `python -m tether.docsgen`; do not edit.

| code | name | summary |
|---|---|---|
"""


def _demote(markdown: str) -> str:
    """Rule pages use `##` sections; inside this document they sit one level deeper.

    Lines inside fenced code blocks are Python comments, not headings, and stay as they are.
    """
    out = []
    fenced = False
    for line in markdown.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#+ ", line):
            line = "#" + line
        out.append(line)
    return "".join(out)


def render() -> str:
    rules = all_rules()
    parts = [HEADER]
    parts.extend(f"| [{r.code}](#{r.code.lower()}) | {r.name} | {r.summary} |\n" for r in rules)
    for rule in rules:
        doc = rule.documentation
        body = doc.split("\n", 1)[1].strip() if "\n" in doc else ""
        parts.append(f'\n<a id="{rule.code.lower()}"></a>\n\n## {rule.code} {rule.name}\n\n{rule.summary}.\n\n{_demote(body)}\n')
    return "".join(parts)


def main() -> None:
    target = Path(__file__).resolve().parent.parent / "docs" / "rules.md"
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        sys.exit(0 if target.exists() and target.read_text() == render() else 1)
    target.parent.mkdir(exist_ok=True)
    target.write_text(render())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
