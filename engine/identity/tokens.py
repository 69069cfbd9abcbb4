"""API tokens: one bearer token per user for other systems calling the JSON API.

A token is shown once, when it is issued; only its SHA-256 is stored (in `user.api_token_hash`),
so a copy of the database does not let anyone call the API. Issuing again replaces the old
token; revoking clears it. Tokens are long random strings, so a plain hash (no salt, no slow
key derivation) is enough and lets a request find its user with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select

from engine.core.errors import InvalidState, NotFound
from engine.identity.users import UserInfo
from engine.store.audit import record
from engine.store.database import Database
from engine.store.rows import read as read_rows
from engine.store.tables import User

TOKEN_PREFIX = "cf_"
# The stored form names its hash, so a later change of scheme can tell old rows apart.
HASH_PREFIX = "sha256$"
# Issued tokens are 46 characters; anything much longer is not one of ours.
MAX_TOKEN_LENGTH = 200


# Built once: composing the statement costs more than running it, and this runs per request.
# Plain SQL (engine.store.rows): this runs on every API request, where an ORM session for it cost
# more than the rest of a small request.
_USER_BY_DIGEST = (
    'SELECT u.name, u.display_name, u.api_token_hash, r.role_id FROM "user" u'
    " LEFT JOIN user_role r ON r.user_id = u.id WHERE u.api_token_hash = ? AND u.active = ?"
)


def _digest(token: str) -> str:
    return HASH_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(db: Database, user_name: str, now: datetime, actor: str | None = None) -> str:
    """Make a new API token for an active user and return it; it is not stored and cannot be
    shown again. Any earlier token of the user stops working. The issue is recorded in the
    audit trail (without the token)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.write() as session:
        user = session.scalars(select(User).where(User.name == user_name)).first()
        if user is None:
            raise NotFound(f"no user named {user_name!r}", reason="user_not_found", user=user_name)
        if not user.active:
            raise InvalidState(
                f"user {user_name} is inactive; activate the user first",
                reason="user_inactive",
                user=user_name,
            )
        replaced = user.api_token_hash is not None
        user.api_token_hash = _digest(token)
        record(
            session,
            "api_token_issued",
            at=now,
            actor=actor,
            detail={"user": user_name, "replaced": replaced},
        )
        session.commit()
    return token


def revoke_token(
    db: Database, user_name: str, now: datetime | None = None, actor: str | None = None
) -> bool:
    """Clear the user's API token; True when there was one. With `now`, the revocation is
    recorded in the audit trail."""
    with db.write() as session:
        user = session.scalars(select(User).where(User.name == user_name)).first()
        if user is None:
            raise NotFound(f"no user named {user_name!r}", reason="user_not_found", user=user_name)
        had_token = user.api_token_hash is not None
        user.api_token_hash = None
        if now is not None and had_token:
            record(session, "api_token_revoked", at=now, actor=actor, detail={"user": user_name})
        session.commit()
    return had_token


def user_for_token(db: Database, token: str | None) -> UserInfo | None:
    """The active user holding this token, with their roles; None for an unknown, revoked or
    malformed token or an inactive user. One query per call."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.startswith(TOKEN_PREFIX):
        return None
    digest = _digest(token)
    with read_rows(db) as rows:
        found = rows.all(_USER_BY_DIGEST, (digest, True))
    # The lookup is by the hash, so timing can only tell about hashes, never about the token;
    # the comparison is constant-time all the same.
    if not found or not hmac.compare_digest(found[0][2], digest):
        return None
    name, display_name = found[0][0], found[0][1]
    return UserInfo(name, display_name, frozenset(r[3] for r in found if r[3] is not None))
