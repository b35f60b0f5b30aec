"""Settings: ``[tool.tether]`` in the nearest pyproject.toml (or a tether.toml), then the CLI.

Unknown keys are an error that names them, because a misspelt ``ignore`` that silently does
nothing is worse than a refusal. The target version defaults to the lowest version allowed by
``project.requires-python``, so generated code never uses an API the project cannot run.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, replace
from typing import Any, Iterable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class ConfigError(Exception):
    """Bad configuration; the message is one line naming the file and the key."""


STYLES = ("guard", "taskgroup")
MIN_TARGET = (3, 8)
MAX_TARGET = (3, 14)
DEFAULT_TARGET = (3, 11)

KNOWN_KEYS = {
    "select",
    "ignore",
    "exclude",
    "target-version",
    "style",
    "unsafe-fixes",
    "helpers-module",
    "extra-spawners",
}


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ("TET",)
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    target_version: tuple[int, int] = DEFAULT_TARGET
    style: str = "guard"
    unsafe_fixes: bool = False
    helpers_module: str | None = None
    extra_spawners: tuple[str, ...] = ()
    config_path: str | None = None
    project_root: str | None = None

    def rule_enabled(self, code: str) -> bool:
        selected = max((len(p) for p in self.select if code.startswith(p)), default=-1)
        ignored = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        return selected >= 0 and selected > ignored

    def cache_key(self) -> str:
        """The settings that change analysis results, as a stable string for the cache."""
        return repr(
            (
                self.select,
                self.ignore,
                self.target_version,
                self.style,
                self.unsafe_fixes,
                self.helpers_module,
                self.extra_spawners,
            )
        )


def parse_target_version(value: str, where: str = "--target-version") -> tuple[int, int]:
    match = re.fullmatch(r"py3(\d{1,2})", value.strip())
    if not match:
        raise ConfigError(f"{where}: expected py38..py314, got {value!r}")
    version = (3, int(match.group(1)))
    if not MIN_TARGET <= version <= MAX_TARGET:
        raise ConfigError(f"{where}: expected py38..py314, got {value!r}")
    return version


def target_from_requires_python(spec: str) -> tuple[int, int] | None:
    """The lowest 3.x allowed by a requires-python specifier such as ">=3.9,<4"."""
    lowest: tuple[int, int] | None = None
    for clause in spec.split(","):
        match = re.fullmatch(r"\s*(>=|>|==|~=)\s*3\.(\d+)(?:\.[\d*]+)?\s*", clause)
        if not match:
            continue
        version = (3, int(match.group(2)))  # ">3.9" still admits 3.9.1, so it counts as 3.9
        if lowest is None or version > lowest:
            lowest = version
    if lowest is None:
        return None
    return max(MIN_TARGET, min(MAX_TARGET, lowest))


def find_config_file(start: str) -> str | None:
    """The nearest tether.toml, or pyproject.toml with a [tool.tether] table, above ``start``."""
    directory = os.path.abspath(start)
    if not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    while True:
        tether_toml = os.path.join(directory, "tether.toml")
        if os.path.isfile(tether_toml):
            return tether_toml
        pyproject = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(pyproject):
            try:
                data = _load_toml(pyproject)
            except ConfigError:
                return pyproject  # report the broken file rather than skipping past it
            if "tether" in data.get("tool", {}) or "requires-python" in data.get("project", {}):
                return pyproject
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _load_toml(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _codes(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\s]+", value) if part]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of rule codes")
    codes = tuple(v.strip().upper() for v in value)
    for code in codes:
        if not re.fullmatch(r"TET\d{0,3}|ALL", code):
            raise ConfigError(f"{where}: {code!r} is not a rule code or prefix (e.g. TET101, TET2)")
    return tuple("TET" if c == "ALL" else c for c in codes)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(value)


def load_file_settings(path: str) -> Settings:
    data = _load_toml(path)
    is_pyproject = os.path.basename(path) == "pyproject.toml"
    table = data.get("tool", {}).get("tether", {}) if is_pyproject else data.get("tool", {}).get("tether", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.tether] must be a table")
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown [tool.tether] key(s): {', '.join(unknown)}")
    where = lambda key: f"{path}: [tool.tether] {key}"  # noqa: E731
    settings = Settings(config_path=path, project_root=os.path.dirname(os.path.abspath(path)))
    requires = data.get("project", {}).get("requires-python") if is_pyproject else None
    if isinstance(requires, str):
        target = target_from_requires_python(requires)
        if target:
            settings = replace(settings, target_version=target)
    changes: dict[str, Any] = {}
    if "select" in table:
        changes["select"] = _codes(table["select"], where("select"))
    if "ignore" in table:
        changes["ignore"] = _codes(table["ignore"], where("ignore"))
    if "exclude" in table:
        changes["exclude"] = _strings(table["exclude"], where("exclude"))
    if "target-version" in table:
        changes["target_version"] = parse_target_version(str(table["target-version"]), where("target-version"))
    if "style" in table:
        if table["style"] not in STYLES:
            raise ConfigError(f"{where('style')}: expected one of {', '.join(STYLES)}")
        changes["style"] = table["style"]
    if "unsafe-fixes" in table:
        if not isinstance(table["unsafe-fixes"], bool):
            raise ConfigError(f"{where('unsafe-fixes')}: expected true or false")
        changes["unsafe_fixes"] = table["unsafe-fixes"]
    if "helpers-module" in table:
        value = table["helpers-module"]
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", value):
            raise ConfigError(f"{where('helpers-module')}: expected a dotted module name")
        changes["helpers_module"] = value
    if "extra-spawners" in table:
        spawners = _strings(table["extra-spawners"], where("extra-spawners"))
        for name in spawners:
            if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", name):
                raise ConfigError(f"{where('extra-spawners')}: {name!r} is not a dotted name")
        changes["extra_spawners"] = spawners
    return replace(settings, **changes)


def resolve_settings(
    paths: Iterable[str],
    config_file: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Settings from ``config_file`` (or the one nearest the first path), then CLI overrides."""
    if config_file is None:
        paths = list(paths)
        config_file = find_config_file(paths[0] if paths else os.getcwd())
    settings = load_file_settings(config_file) if config_file else Settings()
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    return replace(settings, **overrides)


def codes_option(value: str | None, where: str) -> tuple[str, ...] | None:
    return None if value is None else _codes(value, where)


__all__ = [
    "ConfigError",
    "Settings",
    "STYLES",
    "codes_option",
    "find_config_file",
    "load_file_settings",
    "parse_target_version",
    "resolve_settings",
    "target_from_requires_python",
]
