"""Users and roles. Roles come from the settings file and are mirrored into the role table."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .errors import CaseflowError, NotFound
from .settings import Settings
from .store import Database, Role, User, UserRole

USER_NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,100}$")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(stored: str | None, password: str) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1)
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
        raise CaseflowError(f"user name {name!r}: use 2-100 letters, digits or . _ @ -")
    unknown = [r for r in roles if r not in settings.roles]
    if unknown:
        raise CaseflowError(
            f"unknown role(s) {', '.join(unknown)}; known: {', '.join(settings.roles)}"
        )
    if not roles:
        raise CaseflowError("a user needs at least one role")
    with db.write() as session:
        sync_roles(session, settings)
        user = session.scalars(select(User).where(User.name == name)).first()
        if user is None:
            user = User(name=name, created_at=now, active=True)
            session.add(user)
        if password is not None:
            user.password_hash = hash_password(password)
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
        raise NotFound(f"no active user named {name!r}")
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
