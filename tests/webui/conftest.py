"""Web fixtures: an app on the test runtime, a client per user, a login helper."""

from __future__ import annotations

import re

import pytest

from engine.identity.users import add_user
from webui import create_app

PASSWORD = "secret-pass-1"


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    # The production work factor costs ~0.1 s per hash; tests hash many passwords.
    monkeypatch.setattr("engine.identity.users.SCRYPT_N", 2**8)


@pytest.fixture
def app(runtime, db, settings, clock):
    for name, roles in {
        "alice": ["service_desk"],
        "carol": ["service_desk"],
        "bob": ["senior_service"],
        "sue": ["supervisor"],
        "olga": ["process_owner"],
    }.items():
        add_user(db, settings, name, roles, clock.now(), password=PASSWORD)
    return create_app(
        {"TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False}, runtime=runtime
    )


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def login(app):
    def sign_in(name: str, password: str = PASSWORD):
        client = app.test_client()
        page = client.get("/login")
        response = client.post(
            "/login", data={"name": name, "password": password, "csrf_token": csrf_token(page.text)}
        )
        assert response.status_code == 302, response.text
        return client

    return sign_in
