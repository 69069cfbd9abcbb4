"""Settings: company calendar, engine limits and the roles table, read from one TOML file.

The file is found through `CASEFLOW_SETTINGS`, else `settings.toml` in the working folder,
else the file shipped at the top of the repository.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

import tomlkit

REPO_SETTINGS = Path(__file__).resolve().parent.parent / "settings.toml"
ROLE_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


class SettingsError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    path: Path
    timezone: str = "Asia/Shanghai"
    holidays_country: str = "CN"
    holidays_subdiv: str = ""
    working_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    office_start: time = time(9, 0)
    office_end: time = time(17, 0)
    default_role: str = "service_desk"
    script_time_limit_s: float = 1.0
    max_definition_bytes: int = 2_000_000
    roles: dict[str, str] = field(default_factory=dict)

    def role_for_lane(self, lane: str | None) -> str | None:
        """The role id a lane name stands for: the id itself, the Chinese name, or one of
        the names separated by '/'. None when the lane names no known role."""
        if lane is None:
            return self.default_role
        name = lane.strip()
        if name in self.roles:
            return name
        for role_id, chinese in self.roles.items():
            aliases = [chinese.strip()] + [a.strip() for a in chinese.split("/")]
            if name in aliases:
                return role_id
        return None


def settings_path() -> Path:
    env = os.environ.get("CASEFLOW_SETTINGS")
    if env:
        return Path(env)
    local = Path.cwd() / "settings.toml"
    return local if local.exists() else REPO_SETTINGS


def _parse_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def load_settings(path: Path | None = None) -> Settings:
    path = path or settings_path()
    try:
        doc = tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()
    except FileNotFoundError as exc:
        raise SettingsError(f"settings file not found: {path}") from exc
    company = doc.get("company", {})
    engine = doc.get("engine", {})
    roles = {str(k): str(v) for k, v in doc.get("roles", {}).items()}
    settings = Settings(
        path=path,
        timezone=company.get("timezone", "Asia/Shanghai"),
        holidays_country=company.get("holidays_country", "CN"),
        holidays_subdiv=company.get("holidays_subdiv", ""),
        working_days=tuple(company.get("working_days", [0, 1, 2, 3, 4])),
        office_start=_parse_time(company.get("office_start", "09:00")),
        office_end=_parse_time(company.get("office_end", "17:00")),
        default_role=engine.get("default_role", "service_desk"),
        script_time_limit_s=float(engine.get("script_time_limit_s", 1.0)),
        max_definition_bytes=int(engine.get("max_definition_bytes", 2_000_000)),
        roles=roles,
    )
    if settings.default_role not in roles:
        raise SettingsError(f"default_role {settings.default_role!r} is not in [roles] of {path}")
    return settings


def add_role(role_id: str, chinese_name: str, path: Path | None = None) -> Settings:
    """Add a role to the settings file, keeping its comments and layout."""
    if not ROLE_ID.match(role_id):
        raise SettingsError(
            f"role id {role_id!r} must be lower-case letters, digits and '_' (e.g. night_shift)"
        )
    if not chinese_name.strip():
        raise SettingsError("a role needs a Chinese name")
    path = path or settings_path()
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    roles = doc.setdefault("roles", tomlkit.table())
    if role_id in roles:
        raise SettingsError(f"role {role_id!r} already exists ({roles[role_id]})")
    roles[role_id] = chinese_name.strip()
    path.write_text(tomlkit.dumps(doc), encoding="utf-8")
    return load_settings(path)
