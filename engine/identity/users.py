"""Users and roles. Roles come from the settings file and are mirrored into the role table."""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.core.errors import CaseflowError, NotFound
from engine.core.settings import Settings
from engine.store.database import Database
from engine.store.tables import Role, User, UserRole

USER_NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,100}$")


# scrypt work factor; the cost is stored with each hash, so it can be raised later (tests lower it).
SCRYPT_N = 2**14


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=8, p=1)
    return f"scrypt${SCRYPT_N}${salt.hex()}${digest.hex()}"


def check_password(stored: str | None, password: str) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    parts = stored.split("$")
    if len(parts) != 4 or not parts[1].isdigit():
        return False
    _, cost, salt, digest = parts
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(cost), r=8, p=1)
    return hmac.compare_digest(candidate.hex(), digest)


def sync_roles(session: Session, settings: Settings) -> None:
    """Make the role table match the settings file (roles are never deleted: users hold them)."""
    existing = {r.id: r for r in session.scalars(select(Role))}
    for role_id, name_zh in settings.roles.items():
        if role_id in existing:
            existing[role_id].name_zh = name_zh
        else:
            session.add(Role(id=role_id, name_zh=name_zh))


def add_user(
    db: Database,
    settings: Settings,
    name: str,
    roles: list[str],
    now: datetime,
    password: str | None = None,
    display_name: str | None = None,
    email: str | None = None,
) -> User:
    """Create a user, or give an existing user exactly these roles (and password if given)."""
    if not USER_NAME.match(name):
        raise CaseflowError(
            f"user name {name!r}: use 2-100 letters, digits or . _ @ -",
            reason="user_name_invalid",
            user=name,
        )
    unknown = [r for r in roles if r not in settings.roles]
    if unknown:
        raise CaseflowError(
            f"unknown role(s) {', '.join(unknown)}; known: {', '.join(settings.roles)}",
            reason="unknown_roles",
            roles=unknown,
            known=list(settings.roles),
        )
    if not roles:
        raise CaseflowError("a user needs at least one role", reason="roles_required")
    with db.write() as session:
        sync_roles(session, settings)
        user = session.scalars(select(User).where(User.name == name)).first()
        if user is None:
            user = User(name=name, created_at=now, active=True)
            session.add(user)
        if password is not None:
            user.password_hash = hash_password(password)
            # A new password ends every session signed in with the old one.
            user.session_version = (user.session_version or 0) + 1
        if display_name is not None:
            user.display_name = display_name
        if email is not None:
            user.email = email
        session.flush()
        session.execute(delete(UserRole).where(UserRole.user_id == user.id))
        for role in dict.fromkeys(roles):
            session.add(UserRole(user_id=user.id, role_id=role))
        session.commit()
        return user


def user_roles(session: Session, name: str) -> set[str]:
    """The roles of an active user; NotFound for an unknown or inactive one."""
    user = session.scalars(select(User).where(User.name == name, User.active.is_(True))).first()
    if user is None:
        raise NotFound(f"no active user named {name!r}", reason="user_not_found", user=name)
    return set(session.scalars(select(UserRole.role_id).where(UserRole.user_id == user.id)))


def list_users(db: Database) -> list[dict[str, object]]:
    with db.read() as session:
        users = session.scalars(select(User).order_by(User.name)).all()
        out = []
        for user in users:
            roles = sorted(
                session.scalars(select(UserRole.role_id).where(UserRole.user_id == user.id))
            )
            out.append(
                {
                    "name": user.name,
                    "display_name": user.display_name,
                    "roles": roles,
                    "active": user.active,
                }
            )
        return out


@dataclass(frozen=True)
class UserInfo:
    name: str
    display_name: str | None
    roles: frozenset[str]
    session_version: int = 0

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def get_user(db: Database, name: str) -> UserInfo | None:
    """An active user with their roles, or None."""
    with db.read() as session:
        user = session.scalars(select(User).where(User.name == name, User.active.is_(True))).first()
        if user is None:
            return None
        roles = frozenset(
            session.scalars(select(UserRole.role_id).where(UserRole.user_id == user.id))
        )
        return UserInfo(user.name, user.display_name, roles, user.session_version or 0)


def authenticate(db: Database, name: str, password: str) -> UserInfo | None:
    """The user when the password is right, else None (same answer for an unknown user)."""
    with db.read() as session:
        user = session.scalars(select(User).where(User.name == name, User.active.is_(True))).first()
        stored = user.password_hash if user is not None else None
    # Hash even for an unknown user so timing does not tell which names exist.
    ok = check_password(stored or _dummy_hash(), password) and stored is not None
    return get_user(db, name) if ok else None


def end_sessions(db: Database, name: str) -> None:
    """End every web session of the user (sign-out ends them on every device)."""
    with db.write() as session:
        user = session.scalars(select(User).where(User.name == name)).first()
        if user is not None:
            user.session_version = (user.session_version or 0) + 1
            session.commit()


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password")
