"""Settings from pyproject.toml / tether.toml, and which files a run looks at."""

from __future__ import annotations

import pytest

from conftest import run_tether
from tether.config import ConfigError, Settings, load_file_settings, resolve_settings, target_from_requires_python
from tether.discovery import discover

DANGLING = "import asyncio\n\n\nasync def main():\n    asyncio.create_task(main())\n"


def test_unknown_key_is_an_error_that_names_it(tmp_path):
    config = tmp_path / "pyproject.toml"
    config.write_text("[tool.tether]\nselct = ['TET1']\n")
    with pytest.raises(ConfigError, match="unknown .* key.*selct"):
        load_file_settings(str(config))
    (tmp_path / "app.py").write_text(DANGLING)
    proc = run_tether(["check", "app.py"], cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == f"error: {config}: unknown [tool.tether] key(s): selct"


def test_invalid_toml_is_one_line(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.tether\n")
    (tmp_path / "app.py").write_text(DANGLING)
    proc = run_tether(["check", "app.py"], cwd=tmp_path)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and b"invalid TOML" in proc.stderr


@pytest.mark.parametrize(
    "spec, expected",
    [(">=3.9", (3, 9)), (">=3.8,<4", (3, 8)), ("~=3.12", (3, 12)), (">3.10", (3, 10)), ("<4", None), (">=3.7", (3, 8))],
)
def test_target_version_from_requires_python(spec, expected):
    assert target_from_requires_python(spec) == expected


def test_settings_layering(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nrequires-python = ">=3.9"\n[tool.tether]\nignore = ["TET2"]\nstyle = "taskgroup"\n'
    )
    settings = resolve_settings([str(tmp_path)])
    assert settings.target_version == (3, 9)
    assert settings.style == "taskgroup"
    assert not settings.rule_enabled("TET201") and settings.rule_enabled("TET101")
    overridden = resolve_settings([str(tmp_path)], overrides={"target_version": (3, 12), "style": None})
    assert overridden.target_version == (3, 12) and overridden.style == "taskgroup"


def test_more_specific_select_wins_over_broader_ignore():
    settings = Settings(select=("TET201",), ignore=("TET2",))
    assert settings.rule_enabled("TET201") and not settings.rule_enabled("TET202")
    settings = Settings(select=("TET2",), ignore=("TET2",))
    assert not settings.rule_enabled("TET201")  # a tie goes to ignore
    settings = Settings(select=("TET2",), ignore=("TET",))
    assert settings.rule_enabled("TET201") and not settings.rule_enabled("TET101")
    settings = Settings(select=("TET201",), ignore=("TET",))
    assert settings.rule_enabled("TET201") and not settings.rule_enabled("TET101")


def test_tether_toml_takes_top_level_keys(tmp_path):
    (tmp_path / "tether.toml").write_text('select = ["TET101"]\nextra-spawners = ["pkg.spawn"]\n')
    settings = resolve_settings([str(tmp_path)])
    assert settings.select == ("TET101",) and settings.extra_spawners == ("pkg.spawn",)


def test_discovery_honours_gitignore_exclude_and_skips_stubs(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("generated/\n*_pb2.py\n")
    for name in ("app.py", "generated/x.py", "api_pb2.py", "types.pyi", "migrations/0001.py", "sub/ok.py", ".venv/lib.py"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DANGLING)
    (tmp_path / "sub" / ".gitignore").write_text("local_only.py\n")
    (tmp_path / "sub" / "local_only.py").write_text(DANGLING)
    files, errors = discover([str(tmp_path)], exclude=["migrations/"], project_root=str(tmp_path))
    names = sorted(p[len(str(tmp_path)) + 1 :] for p in files)
    assert names == ["app.py", "sub/ok.py"]
    assert errors == []


def test_explicit_file_is_checked_even_if_ignored(tmp_path):
    (tmp_path / ".gitignore").write_text("*.py\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / "app.py").write_text(DANGLING)
    files, _ = discover([str(tmp_path / "app.py")])
    assert files == [str(tmp_path / "app.py")]


def test_config_exclude_applies_to_cli_runs(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.tether]\nexclude = ["vendor/"]\n')
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "lib.py").write_text(DANGLING)
    proc = run_tether(["check", "."], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout
