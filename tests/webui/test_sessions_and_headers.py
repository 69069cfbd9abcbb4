"""Sign-out and a password change end every session of the user (a copied cookie too); every
page carries the security headers; the public /health says only whether the service is up."""

from __future__ import annotations

from engine.identity.tokens import issue_token
from engine.identity.users import add_user
from tests.webui.conftest import PASSWORD, csrf_token


def _signed_in(client) -> bool:
    return client.get("/tasks").status_code == 200


def test_sign_out_ends_every_session_of_the_user_and_copied_cookies(app, login) -> None:
    phone, desk = login("alice"), login("alice")
    cookie = phone.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    assert _signed_in(phone) and _signed_in(desk) and _signed_in(thief)
    token = csrf_token(phone.get("/tasks").text)
    assert phone.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not _signed_in(phone)
    assert not _signed_in(desk)  # the other device too
    assert not _signed_in(thief)  # the copied cookie is worth nothing now
    assert _signed_in(login("alice"))  # signing in again works
    assert _signed_in(login("carol"))


def test_a_password_change_ends_the_sessions(app, login, db, settings, clock) -> None:
    desk = login("alice")
    assert _signed_in(desk)
    add_user(db, settings, "alice", ["service_desk"], clock.now(), password="a-new-password-9")
    assert not _signed_in(desk)
    assert _signed_in(login("alice", "a-new-password-9"))


def test_every_page_carries_the_security_headers(app, login) -> None:
    for response in (app.test_client().get("/login"), login("sue").get("/cases")):
        headers = response.headers
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert "object-src 'none'" in policy
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_no_page_has_an_inline_script_the_policy_would_block() -> None:
    import re
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "webui" / "templates"
    for path in templates.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline handler in {path.name}"
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, (path.name, tag)


def test_health_tells_the_public_only_whether_it_is_up(app, login, db, clock) -> None:
    public = app.test_client().get("/health")
    assert public.status_code == 200 and public.json == {"status": "ok"}
    staff = app.test_client().get(
        "/health", headers={"Authorization": f"Bearer {issue_token(db, 'alice', clock.now())}"}
    )
    assert staff.json == {"status": "ok"}
    detail = login("sue").get("/health").json
    assert detail["status"] == "ok" and "workers" in detail and "worker" in detail
    by_token = app.test_client().get(
        "/health", headers={"Authorization": f"Bearer {issue_token(db, 'sue', clock.now())}"}
    )
    assert "workers" in by_token.json


def test_an_old_password_no_longer_signs_in(app, login, db, settings, clock) -> None:
    add_user(db, settings, "carol", ["service_desk"], clock.now(), password="changed-pass-7")
    client = app.test_client()
    page = client.get("/login")
    answer = client.post(
        "/login", data={"name": "carol", "password": PASSWORD, "csrf_token": csrf_token(page.text)}
    )
    assert answer.status_code == 401
