"""CI output formats: SARIF 2.1.0 (validated against the vendored OASIS schema) and GitHub
workflow annotations."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from conftest import run_tether
from tether.model import Finding
from tether.report import github_line

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
DANGLING = "import asyncio\n\n\nasync def main():\n    asyncio.create_task(main())\n"
EMOJI = 'import asyncio\n\n\nasync def main():\n    x = "😀"; asyncio.ensure_future(main())\n'


def _validate(document: dict) -> None:
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def _project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.tether]\n")
    (tmp_path / "pkg dir").mkdir()
    (tmp_path / "pkg dir" / "ünï.py").write_text(DANGLING, encoding="utf-8")
    (tmp_path / "emoji.py").write_text(EMOJI, encoding="utf-8")
    (tmp_path / "broken.py").write_text("import asyncio\nasyncio.create_task(\n", encoding="utf-8")
    (tmp_path / "clean.py").write_text("x = 1\n", encoding="utf-8")
    return tmp_path


def test_sarif_is_valid_2_1_0_and_says_where_each_finding_is(tmp_path):
    _project(tmp_path)
    proc = run_tether(["check", "--no-cache", "--output-format", "sarif", "."], cwd=tmp_path)
    assert proc.returncode == 2  # broken.py could not be parsed
    document = json.loads(proc.stdout)
    _validate(document)
    (run,) = document["runs"]
    assert document["version"] == "2.1.0"
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
    rules = run["tool"]["driver"]["rules"]
    located = {}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%"
        located[artifact["uri"]] = (result["ruleId"], location["physicalLocation"]["region"])
    assert located == {
        "emoji.py": ("TET101", {"startLine": 5, "startColumn": 14, "endLine": 5, "endColumn": 43}),
        "pkg%20dir/%C3%BCn%C3%AF.py": ("TET101", {"startLine": 5, "startColumn": 5, "endLine": 5, "endColumn": 32}),
    }
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    (notification,) = invocation["toolExecutionNotifications"]
    assert "broken.py" in notification["message"]["text"] and "cannot parse" in notification["message"]["text"]
    tet101 = rules[0]
    assert tet101["id"] == "TET101" and tet101["helpUri"].endswith("#tet101")
    assert "## Fix safety" in tet101["help"]["markdown"]


def test_sarif_of_a_clean_tree_and_of_stdin_is_valid(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.tether]\n")
    (tmp_path / "clean.py").write_text("x = 1\n")
    clean = run_tether(["check", "--output-format", "sarif", "."], cwd=tmp_path)
    assert clean.returncode == 0
    document = json.loads(clean.stdout)
    _validate(document)
    assert document["runs"][0]["results"] == []
    assert document["runs"][0]["invocations"][0]["executionSuccessful"] is True

    piped = run_tether(
        ["check", "-", "--stdin-filename", "svc/app.py", "--output-format", "sarif"], cwd=tmp_path, input=DANGLING.encode()
    )
    assert piped.returncode == 1
    document = json.loads(piped.stdout)
    _validate(document)
    (result,) = document["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "svc/app.py", "uriBaseId": "%SRCROOT%"}


def test_the_schema_check_has_teeth(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.tether]\n")
    (tmp_path / "app.py").write_text(DANGLING)
    document = json.loads(run_tether(["check", "--output-format", "sarif", "."], cwd=tmp_path).stdout)
    _validate(document)
    for breakage in (
        lambda d: d.pop("version"),
        lambda d: d["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"].update(startLine=0),
        lambda d: d["runs"][0]["results"][0].update(level="severe"),
        lambda d: d["runs"][0]["tool"]["driver"].pop("name"),
    ):
        broken = copy.deepcopy(document)
        breakage(broken)
        with pytest.raises(AssertionError):
            _validate(broken)


def test_github_annotations_escape_what_would_end_a_property_or_the_message():
    finding = Finding("TET101", "100% lost,\nreally: yes", 5, 5, 5, 32)
    line = github_line("dir,with:odd/app.py", finding)
    assert line == (
        "::error title=tether (TET101),file=dir%2Cwith%3Aodd/app.py,line=5,col=5,endLine=5,endColumn=32::"
        "dir,with:odd/app.py:5:5: TET101 100%25 lost,%0Areally: yes"
    )


def test_github_format_from_the_cli_one_line_per_finding(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.tether]\n")
    (tmp_path / "a.py").write_text(DANGLING)
    (tmp_path / "b.py").write_text(EMOJI, encoding="utf-8")
    proc = run_tether(["check", "--output-format", "github", "."], cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stdout.decode("utf-8").splitlines()
    assert [l.split("::")[1].split(",")[1] for l in lines] == ["file=a.py", "file=b.py"]
    assert lines[1].startswith("::error title=tether (TET101),file=b.py,line=5,col=14,endLine=5,endColumn=43::b.py:5:14: TET101 ")
