"""API tokens: shown once, stored as a hash, replaced on reissue, refused when revoked."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from engine.core.errors import InvalidState, NotFound
from engine.identity.tokens import issue_token, revoke_token, user_for_token
from engine.store.tables import Event, User


def stored_hash(db, name: str) -> str | None:
    with db.read() as session:
        return session.scalars(select(User.api_token_hash).where(User.name == name)).one()


def test_a_token_finds_its_user_with_roles_and_only_its_hash_is_stored(db, users, clock):
    token = issue_token(db, "sue", clock.now(), actor="admin")
    assert token.startswith("cf_") and len(token) > 40

    user = user_for_token(db, token)
    assert user is not None and user.name == "sue"
    assert user.roles == frozenset({"supervisor", "service_desk"})

    stored = stored_hash(db, "sue")
    assert token not in stored
    assert stored == "sha256$" + hashlib.sha256(token.encode()).hexdigest()
    with db.read() as session:
        event = session.scalars(select(Event).where(Event.kind == "api_token_issued")).one()
    assert event.actor == "admin" and event.detail == {"user": "sue", "replaced": False}
    assert token not in str(event.detail)


def test_issuing_again_replaces_the_old_token(db, users, clock):
    first = issue_token(db, "alice", clock.now())
    second = issue_token(db, "alice", clock.now())
    assert first != second
    assert user_for_token(db, first) is None
    assert user_for_token(db, second).name == "alice"


def test_revoked_tokens_and_inactive_users_are_refused(db, users, clock):
    alice = issue_token(db, "alice", clock.now())
    carol = issue_token(db, "carol", clock.now())

    assert revoke_token(db, "alice", clock.now()) is True
    assert revoke_token(db, "alice") is False
    assert user_for_token(db, alice) is None

    with db.write() as session:
        session.scalars(select(User).where(User.name == "carol")).one().active = False
        session.commit()
    assert user_for_token(db, carol) is None
    with pytest.raises(InvalidState, match="inactive"):
        issue_token(db, "carol", clock.now())


@pytest.mark.parametrize("token", [None, "", "cf_", "cf_nope", "x" * 50, "cf_" + "x" * 500, "cf_ü"])
def test_unknown_and_malformed_tokens_find_nobody(db, users, clock, token):
    issue_token(db, "alice", clock.now())
    assert user_for_token(db, token) is None


def test_unknown_users_get_no_token(db, users, clock):
    with pytest.raises(NotFound):
        issue_token(db, "nobody", clock.now())
    with pytest.raises(NotFound):
        revoke_token(db, "nobody")
