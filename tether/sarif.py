"""``check --output-format sarif``: a SARIF 2.1.0 log for code-scanning services.

One run, with every enabled rule described (id, summary, the rule page as help, its URL), one
result per finding, locations relative to the directory tether ran in (``%SRCROOT%``, which is
what GitHub's upload action expects), and files that could not be analysed as tool execution
notifications, so a broken file is visible in the upload rather than silently missing. Columns
are counted in code points (``columnKind: unicodeCodePoints``), which is what tether reports.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence
from urllib.parse import quote

from tether import __version__
from tether.config import Settings
from tether.model import FileResult, Finding

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/tether-dev/tether"
SRCROOT = "%SRCROOT%"


def sarif_document(results: Sequence[FileResult], settings: Settings, root: str | None = None) -> dict:
    from tether.registry import all_rules

    root = os.path.abspath(root or os.getcwd())
    rules = [rule for rule in all_rules() if settings.rule_enabled(rule.code)]
    index = {rule.code: i for i, rule in enumerate(rules)}
    sarif_results = [
        _result(finding, result.path, root, index)
        for result in results
        for finding in result.findings
    ]
    notifications = [
        {"level": "error", "message": {"text": result.error}, "descriptor": {"id": "tether-error"}}
        for result in results
        if result.error
    ]
    invocation: dict = {"executionSuccessful": not notifications}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run = {
        "tool": {
            "driver": {
                "name": "tether",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_descriptor(rule) for rule in rules],
            }
        },
        "originalUriBaseIds": {SRCROOT: {"uri": Path(root).as_uri().rstrip("/") + "/"}},
        "columnKind": "unicodeCodePoints",
        "invocations": [invocation],
        "results": sarif_results,
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _descriptor(rule) -> dict:
    documentation = rule.documentation
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": _first_paragraph(documentation) or rule.summary},
        "help": {"text": documentation, "markdown": documentation},
        "helpUri": rule.url,
        "defaultConfiguration": {"level": "warning"},
        "properties": {"tags": ["asyncio", "reliability"], "precision": "high"},
    }


def _first_paragraph(documentation: str) -> str:
    paragraphs = [p.strip() for p in documentation.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
    return " ".join(paragraphs[0].split()) if paragraphs else ""


def _result(finding: Finding, path: str, root: str, index: dict[str, int]) -> dict:
    result = {
        "ruleId": finding.code,
        "level": "warning",
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact_location(path, root),
                    "region": {
                        "startLine": finding.line,
                        "startColumn": finding.col,
                        "endLine": finding.end_line,
                        "endColumn": finding.end_col,
                    },
                }
            }
        ],
    }
    if finding.code in index:
        result["ruleIndex"] = index[finding.code]
    return result


def artifact_location(path: str, root: str) -> dict:
    """A path under ``root`` as a relative URI on ``%SRCROOT%``; anything else as a file URI."""
    if path == "-":
        return {"uri": "stdin"}
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, root)
    except ValueError:  # another drive on Windows
        relative = None
    if relative is None or relative == ".." or relative.startswith(".." + os.sep):
        return {"uri": Path(absolute).as_uri()}
    return {"uri": quote(relative.replace(os.sep, "/")), "uriBaseId": SRCROOT}
