"""Odd query values and bodies answer 4xx with a message, never 500: every GET page and export
a supervisor can open, walked with huge, negative, malformed and out-of-range values."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from engine.identity.tokens import issue_token
from tests.webui.conftest import csrf_token

ODD = ["9999-12-31", "0001-01-01", "0000-01", "9999-12", "-1", "99999999999999999999999",
       "1e400", "NaN", "%00", "%ED%A0%80", "a" * 5000, "[", "2026-13-45"]  # fmt: skip
PAGES = [
    ("/cases", ["from", "to", "after", "status", "process", "overdue", "step", "assignee"]),
    ("/dashboard", ["month", "process"]),
    ("/dashboard/report", ["month", "process"]),
    ("/dashboard/export.csv", ["month", "process"]),
    ("/dashboard/export.xlsx", ["month", "process"]),
    ("/tasks", ["after", "process", "role"]),
    ("/models", ["key"]),
    ("/models/new", ["key", "name"]),
    ("/api/tasks", ["status", "role", "case", "limit", "after"]),
]


@pytest.fixture
def sue(login):
    return login("sue")


@pytest.mark.parametrize(("path", "params"), PAGES, ids=[p for p, _ in PAGES])
def test_odd_query_values_never_answer_500(sue, db, clock, path: str, params: list[str]) -> None:
    token = issue_token(db, "sue", clock.now())
    failures = []
    for param in params:
        for value in ODD:
            try:
                # Percent-escapes are sent as they are: bytes a browser could send.
                raw = value if value.startswith("%") else quote(value)
                headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api") else {}
                status = sue.get(f"{path}?{param}={raw}", headers=headers).status_code
            except Exception as exc:  # noqa: BLE001 - what a browser would see as a 500
                status = f"500 ({type(exc).__name__}: {str(exc)[:120]})"
            if not isinstance(status, int) or status >= 500:
                failures.append(f"{path}?{param}={value[:30]!r}: {status}")
    assert failures == []


def test_a_retry_body_of_brackets_is_refused_with_a_message(app, sue, runtime) -> None:
    from tests.conftest import fixture_files

    runtime.deploy(fixture_files("divide_flow.bpmn"))
    number = runtime.start_case("divide_flow", {"total": 1, "people": 0}, prevalidated=True).number
    page = sue.get(f"/cases/{number}")
    answer = sue.post(
        f"/cases/{number}/retry",
        data={"data": "[" * 100_000, "csrf_token": csrf_token(page.text)},
        follow_redirects=True,
    )
    assert answer.status_code == 422
    assert "nested deeper than 64 levels" in answer.text


def _api_post(app, db, clock, body: str):
    headers = {"Authorization": f"Bearer {issue_token(db, 'alice', clock.now())}"}
    return app.test_client().post(
        "/api/cases", data=body, content_type="application/json", headers=headers
    )


@pytest.mark.parametrize("depth", [65, 100_000])
def test_deeply_nested_json_is_refused_by_the_api(app, db, clock, depth: int) -> None:
    body = '{"process": "x", "data": {"a": ' + "[" * depth + "]" * depth + "}}"
    answer = _api_post(app, db, clock, body)
    assert answer.status_code == 400
    assert "nested" in answer.json["message"]


@pytest.mark.parametrize("number", ["1e400", "NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_by_the_api(app, db, clock, number: str) -> None:
    body = '{"process": "x", "data": {"amount": ' + number + "}}"
    answer = _api_post(app, db, clock, body)
    assert answer.status_code == 400
    assert "Infinity" not in answer.text or "not" in answer.text


def test_deeply_nested_json_is_refused_by_the_form_preview(app, login) -> None:
    client = login("olga")
    page = client.get("/models/forms/new")
    body = "[" * 100_000 + "]" * 100_000
    answer = client.post(
        "/models/forms/preview",
        data={"name": "deep.json", "text": body, "csrf_token": csrf_token(page.text)},
    )
    assert answer.status_code < 500
    assert "nested too deeply" in answer.text
