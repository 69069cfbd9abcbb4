"""Settings: company calendar, engine limits, the roles table and how notifications leave
(SMTP, SMS), read from one TOML file.

The file is found through `CASEFLOW_SETTINGS`, else `settings.toml` in the working folder,
else the file shipped at the top of the repository. Relative paths in it (the development
mail folder and SMS log) are relative to the file's folder. Secrets never live in the file:
the SMTP password comes from the environment (`CASEFLOW_SMTP_PASSWORD`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path

import tomlkit

REPO_SETTINGS = Path(__file__).resolve().parents[2] / "settings.toml"
ROLE_ID = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


SMTP_PASSWORD_ENV = "CASEFLOW_SMTP_PASSWORD"


class SettingsError(Exception):
    pass


@dataclass(frozen=True)
class SmtpSettings:
    """Where e-mail goes. An empty host means development: messages are written as .eml files
    into `dev_dir` instead of being sent."""

    host: str = ""
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str = ""
    from_address: str = "Caseflow 客服中心 <noreply@caseflow.example>"
    timeout_s: float = 20.0
    max_attempts: int = 8
    dev_dir: Path = Path("instance/mail")

    @property
    def password(self) -> str | None:
        """Read from the environment on use, so it never sits in the settings file or a repr."""
        return os.environ.get(SMTP_PASSWORD_ENV) or None


@dataclass(frozen=True)
class SmsSettings:
    """Which SMS provider sends text messages ("dev" appends them to `dev_log`)."""

    provider: str = "dev"
    max_attempts: int = 8
    dev_log: Path = Path("instance/sms.log")


@dataclass(frozen=True)
class PrivacySettings:
    """How long customers' personal data is kept after their case ends (see engine.casework.retention)."""

    retention_days: int = 365


@dataclass(frozen=True)
class PortalSettings:
    """Links in customers' messages (engine.casework.links): the address the customers reach
    the web app at, and how many days a link works."""

    base_url: str = "http://127.0.0.1:5000"
    link_days: int = 14


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
    # All owner code one step runs shares this much processor time: the step holds the
    # database writer (starting an evaluator and waiting for a processor are not counted).
    script_step_budget_s: float = 0.5
    script_memory_limit_mb: int = 512
    max_definition_bytes: int = 2_000_000
    roles: dict[str, str] = field(default_factory=dict)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    portal: PortalSettings = field(default_factory=PortalSettings)

    def role_for_lane(self, lane: str | None) -> str | None:
        """The role id a lane name stands for: the id itself, the Chinese name, or one of
        the names separated by '/', in any case ("Finance" is finance). None when the lane names
        no known role."""
        if lane is None:
            return self.default_role
        name = lane.strip().casefold()
        for role_id, chinese in self.roles.items():
            aliases = [role_id, chinese.strip()] + [a.strip() for a in chinese.split("/")]
            if name in (a.casefold() for a in aliases):
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
        script_step_budget_s=float(engine.get("script_step_budget_s", 0.5)),
        script_memory_limit_mb=int(engine.get("script_memory_limit_mb", 512)),
        max_definition_bytes=int(engine.get("max_definition_bytes", 2_000_000)),
        roles=roles,
        smtp=_smtp(doc.get("smtp", {}), path),
        sms=_sms(doc.get("sms", {}), path),
        privacy=_privacy(doc.get("privacy", {}), path),
        portal=_portal(doc.get("portal", {}), path),
    )
    if settings.default_role not in roles:
        raise SettingsError(f"default_role {settings.default_role!r} is not in [roles] of {path}")
    return settings


def _smtp(table: dict, path: Path) -> SmtpSettings:
    if "password" in table:
        raise SettingsError(
            f"[smtp] password must not be written in {path}: set {SMTP_PASSWORD_ENV} instead"
        )
    smtp = SmtpSettings(
        host=str(table.get("host", "")).strip(),
        port=int(table.get("port", 25)),
        starttls=bool(table.get("starttls", False)),
        ssl=bool(table.get("ssl", False)),
        username=str(table.get("username", "")),
        from_address=str(table.get("from_address", SmtpSettings.from_address)),
        timeout_s=float(table.get("timeout_s", 20.0)),
        max_attempts=int(table.get("max_attempts", 8)),
        dev_dir=path.parent / str(table.get("dev_dir", "instance/mail")),
    )
    if smtp.ssl and smtp.starttls:
        raise SettingsError(f"[smtp] in {path}: choose ssl (port 465) or starttls (587), not both")
    if not 0 < smtp.port < 65536:
        raise SettingsError(f"[smtp] port {smtp.port} in {path} is not a TCP port")
    # The outbox leases a message for a few minutes while it is sent; a send may take several
    # network round trips of up to timeout_s each, so keep it well below the lease.
    if not 0 < smtp.timeout_s <= 30:
        raise SettingsError(f"[smtp] timeout_s in {path} must be between 0 and 30 seconds")
    if "@" not in smtp.from_address:
        raise SettingsError(f"[smtp] from_address {smtp.from_address!r} in {path} has no '@'")
    _check_attempts("smtp", smtp.max_attempts, path)
    return smtp


def _sms(table: dict, path: Path) -> SmsSettings:
    sms = SmsSettings(
        provider=str(table.get("provider", "dev")).strip(),
        max_attempts=int(table.get("max_attempts", 8)),
        dev_log=path.parent / str(table.get("dev_log", "instance/sms.log")),
    )
    _check_attempts("sms", sms.max_attempts, path)
    return sms


def _privacy(table: dict, path: Path) -> PrivacySettings:
    value = table.get("retention_days", PrivacySettings.retention_days)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 36500:
        raise SettingsError(
            f"[privacy] retention_days in {path} must be a whole number of days from 1 to 36500"
        )
    return PrivacySettings(retention_days=value)


def _portal(table: dict, path: Path) -> PortalSettings:
    base_url = str(table.get("base_url", PortalSettings.base_url)).strip().rstrip("/")
    if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", base_url):
        raise SettingsError(
            f"[portal] base_url {base_url!r} in {path} must be an http(s) address, e.g."
            " https://service.example.com"
        )
    days = table.get("link_days", PortalSettings.link_days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise SettingsError(f"[portal] link_days in {path} must be a whole number from 1 to 365")
    return PortalSettings(base_url=base_url, link_days=days)


def _check_attempts(section: str, value: int, path: Path) -> None:
    if not 1 <= value <= 50:
        raise SettingsError(f"[{section}] max_attempts in {path} must be between 1 and 50")


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
