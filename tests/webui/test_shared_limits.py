"""The sign-in and lookup limits hold across server processes: two apps on one database (as
`caseflow serve` runs several workers) count the same failures, a restarted app still makes a
guesser wait, moving the clock past the window frees the key, and the counts are stored
without the addresses, names, numbers and phones they count."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.identity.users import add_user
from engine.runtime.verbs import Runtime
from engine.store.database import Database
from engine.store.tables import ThrottleState
from tests.webui.conftest import PASSWORD, csrf_token
from tests.webui.portal_world import PHONE, book_facial, store_portal, stores  # noqa: F401
from webui import create_app

GUESSER = "198.51.100.7"
CONFIG = {"TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False}


@pytest.fixture
def server(db_url, settings, clock):
    """Start one more server process: its own connections, runtime and app, one database."""
    started: list[Database] = []

    def start(**config):
        database = Database(db_url)
        started.append(database)
        return create_app({**CONFIG, **config}, runtime=Runtime(database, settings, clock))

    yield start
    for database in started:
        database.dispose()


@pytest.fixture
def alice(db, settings, clock) -> None:
    add_user(db, settings, "alice", ["service_desk"], clock.now(), password=PASSWORD)


def sign_in(app, name: str, password: str, address: str = GUESSER):
    client = app.test_client()
    token = csrf_token(client.get("/login").text)
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def lookup(app, number: str, phone: str, address: str = GUESSER):
    client = app.test_client()
    token = csrf_token(client.get("/book/status").text)
    return client.post(
        "/book/status",
        data={"number": number, "phone": phone, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failed_sign_ins_on_one_process_slow_the_guesser_on_another(server, alice, clock):
    first, second = server(), server()
    codes = [sign_in((first, second)[i % 2], "alice", f"guess-{i}").status_code for i in range(5)]
    assert codes == [401] * 5
    held = sign_in(second, "alice", "guess-5")
    assert held.status_code == 429 and held.headers["Retry-After"] == "1"
    assert "嘗試次數過多，請於 1 秒後再試。" in held.text  # the page says so as before
    assert sign_in(first, "alice", PASSWORD).status_code == 429  # even the right password
    assert sign_in(second, "alice", PASSWORD, address="203.0.113.9").status_code == 302
    clock.advance(seconds=1)
    assert sign_in(first, "alice", PASSWORD).status_code == 302


def test_the_per_address_sign_in_limit_is_counted_across_processes(server, alice, clock):
    first, second = (server(LOGIN_FAILURES_PER_ADDRESS=4) for _ in range(2))
    codes = [sign_in((first, second)[i % 2], f"user{i}", "guess").status_code for i in range(5)]
    assert codes == [401] * 4 + [429]
    assert sign_in(first, "alice", PASSWORD).status_code == 429
    clock.advance(seconds=600)  # the window has passed: the address is free again
    assert sign_in(second, "alice", PASSWORD).status_code == 302


def test_a_restart_keeps_the_delay(server, alice, clock):
    before = server()
    for i in range(7):
        assert sign_in(before, "alice", f"guess-{i}").status_code == 401
        if i < 6:
            clock.advance(seconds=4)  # each wait is over before the next guess: all count
    waiting = int(sign_in(before, "alice", PASSWORD).headers["Retry-After"])
    assert waiting == 4  # 7 failures, 5 free: 2**2 s after the last
    after = server()  # the processes restart
    held = sign_in(after, "alice", PASSWORD)
    assert held.status_code == 429 and held.headers["Retry-After"] == str(waiting)
    clock.advance(seconds=waiting)
    assert sign_in(after, "alice", PASSWORD).status_code == 302


def test_failed_lookups_count_on_every_process_until_the_window_passes(
    server,
    store_portal,  # noqa: F811
    clock,
):
    first, second = (server(PORTAL_LOOKUPS_PER_10_MIN=4) for _ in range(2))
    number = book_facial(first.test_client())
    codes = [
        lookup((first, second)[i % 2], f"SA-20261123-{i + 10:04d}", PHONE).status_code
        for i in range(4)
    ]
    assert codes == [404] * 4
    for app in (first, second):
        held = lookup(app, number, PHONE)  # even the right answer: nothing is confirmed
        assert held.status_code == 429 and held.headers["Retry-After"] == "600"
        assert "您所在網絡的查詢失敗次數過多，請 10 分鐘後再試。" in held.text
    restarted = server(PORTAL_LOOKUPS_PER_10_MIN=4)
    assert lookup(restarted, number, PHONE).status_code == 429  # a restart forgets nothing
    clock.advance(seconds=600)
    assert lookup(second, number, PHONE).status_code == 200


def test_guessing_one_bookings_phone_is_counted_across_processes(
    server,
    store_portal,  # noqa: F811
):
    first, second = (server(PORTAL_BOOKING_FAILURES_PER_10_MIN=3) for _ in range(2))
    number = book_facial(first.test_client())
    codes = [
        lookup((first, second)[i % 2], number, f"1380013{i:04d}", f"203.0.113.{i}").status_code
        for i in range(4)
    ]
    assert codes == [404] * 3 + [429]


def test_the_counts_hold_no_address_name_number_or_phone(
    server,
    alice,
    store_portal,  # noqa: F811
    db,
):
    app = server()
    number = book_facial(app.test_client())
    for _ in range(6):
        sign_in(app, "alice", "guess")
    lookup(app, number, "13912345678")
    lookup(app, "SA-20261123-0099", PHONE)
    with db.read() as session:
        stored = list(session.scalars(select(ThrottleState)))
    assert {row.scope for row in stored} == {
        "login_name",
        "login_address",
        "portal_address",
        "portal_booking",
    }
    for row in stored:
        text = repr({column: getattr(row, column) for column in ThrottleState.__table__.c.keys()})
        for secret in (GUESSER, "alice", number, number.replace("-", ""), PHONE, "13912345678"):
            assert secret.casefold() not in text.casefold(), (row.scope, secret)
