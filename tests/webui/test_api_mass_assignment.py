"""Mass assignment and who may start what, through the API and the task pages.

* Every form in forms/: an undeclared key sent with a task completion is refused by the API
  (422 naming it, nothing saved, the refusal in the case's history) and dropped from an HTML
  form post (the task completes, the key is not stored, the completion's event names it).
* A start through the API takes only the start form's fields; each demo role may start the
  processes whose start roles include it (201) and no other (403).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, settings
from sqlalchemy import select

from engine.definitions.forms import load_form_schema
from engine.definitions.sources import SourceFile
from engine.identity.tokens import issue_token
from engine.identity.users import add_user
from engine.store.tables import Event
from tests.hardening.conftest_web import one_task_bpmn
from tests.hardening.test_fuzz_forms import as_post, objects
from tests.webui.conftest import csrf_token
from webui import api

ROOT = Path(__file__).resolve().parents[2]
FORMS = sorted((ROOT / "forms").glob("*.json"))
EXTRA = "is_vip"


@pytest.fixture
def api_app(app):
    if "api" not in app.blueprints:
        app.register_blueprint(api.bp)
    return app


@pytest.fixture
def bearer(api_app, db, clock):
    def headers(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(db, name, clock.now())}"}

    return headers


def _events(db, kind: str) -> list[dict[str, Any]]:
    with db.read() as session:
        return [e.detail for e in session.scalars(select(Event).where(Event.kind == kind))]


def _minimal_valid(schema: dict) -> list[tuple[str, str]]:
    """A small valid submission of the form, as the browser would post it."""
    value = find(
        objects(schema, schema),
        lambda v: True,
        settings=settings(
            database=None,
            derandomize=True,
            phases=[Phase.generate],  # the first one found: shrinking it costs seconds a form
            suppress_health_check=list(HealthCheck),
        ),
    )
    return as_post(schema, schema, value)


@pytest.mark.parametrize("path", FORMS, ids=[p.stem for p in FORMS])
def test_an_undeclared_key_is_refused_by_the_api_and_dropped_from_a_form_post(
    path, api_app, bearer, login, runtime, db
):
    schema = load_form_schema(path.read_bytes(), path.name)
    assert EXTRA not in schema["properties"]
    key = "form_" + path.stem.replace(".", "_")
    runtime.deploy([SourceFile(f"{key}.bpmn", one_task_bpmn(key, form=path.name).encode()), path])
    client, alice = api_app.test_client(), bearer("alice")

    # The API: 422 naming the key; the task stays open and the case does not learn it.
    started = client.post("/api/cases", json={"process": key}, headers=alice)
    assert started.status_code == 201, started.text
    number, task = started.json["number"], started.json["open_tasks"][0]["id"]
    refused = client.post(
        f"/api/tasks/{task}/complete", json={"data": {EXTRA: True}}, headers=alice
    )
    assert refused.status_code == 422, refused.text
    assert EXTRA in refused.json["errors"] and EXTRA in refused.json["message"]
    case = runtime.get_case(number)
    assert [t.id for t in case.open_tasks] == [task] and EXTRA not in case.data
    assert _events(db, "task_submission_refused") == [{"task": task, "refused": [EXTRA]}]

    # The task page: a hand-made extra field is dropped, the rest completes the task.
    browser = login("alice")
    page = browser.get(f"/tasks/{task}")
    post = [*_minimal_valid(schema), (EXTRA, "1"), ("csrf_token", csrf_token(page.text))]
    done = browser.post(f"/tasks/{task}", data=_multi(post))
    assert done.status_code == 302, done.text
    case = runtime.get_case(number)
    assert case.status == "completed" and EXTRA not in case.data
    [completed] = _events(db, "task_completed")
    assert completed["dropped"] == [EXTRA] and EXTRA not in completed["data"]


def _multi(pairs: list[tuple[str, str]]) -> Any:
    from werkzeug.datastructures import MultiDict

    return MultiDict(pairs)


def test_an_api_start_takes_only_the_start_forms_fields(api_app, bearer, runtime):
    from tests.conftest import fixture_files

    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    client, alice = api_app.test_client(), bearer("alice")
    body = {"process": "review_flow", "data": {"customer_name": "王", "approve": True}}
    refused = client.post("/api/cases", json=body, headers=alice)
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"approve"}
    assert "approve" in refused.json["message"] and runtime.list_tasks() == []


# ----- who may start what ------------------------------------------------------------------------

SIGNED_REQUEST = {
    "customer_name": "陳大文",
    "phone": "+86 138 0000 0001",
    "email": "chen@example.com",
    "service_item": "合同起草",
    "appointment_at": "2026-11-26T10:00",
}
STARTS = {  # process → the start's data
    "review_flow": {"customer_name": "王小明"},
    "complaint_handling": {},
    "home_cleaning_dispatch": {},
    "signed_service_booking": SIGNED_REQUEST,
}
ALLOWED = {"service_desk", "supervisor"}  # the default of all four: their first task's role


def test_each_role_may_start_only_its_processes(api_app, bearer, runtime, db, settings, clock):
    from tests.conftest import fixture_files

    runtime.deploy(
        [ROOT / "processes", ROOT / "forms", *fixture_files("review_flow.bpmn", "review_form.json")]
    )
    client = api_app.test_client()
    outcome, expected = {}, {}
    for role in settings.roles:
        name = f"demo-{role}"
        add_user(db, settings, name, [role], clock.now())
        headers = bearer(name)
        for process, data in STARTS.items():
            response = client.post(
                "/api/cases", json={"process": process, "data": data}, headers=headers
            )
            outcome[role, process] = response.status_code
            expected[role, process] = 201 if role in ALLOWED else 403
            if response.status_code == 403:
                message = response.json["message"]
                assert f"role {role} may not start process {process!r}" in message
                assert "allowed: service_desk, supervisor" in message
    assert outcome == expected


def test_a_refused_start_leaves_no_case(api_app, bearer, runtime):
    from tests.conftest import fixture_files

    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    response = api_app.test_client().post(
        "/api/cases", json={"process": "review_flow"}, headers=bearer("bob")
    )
    assert response.status_code == 403 and response.json["error"] == "forbidden"
    assert runtime.list_tasks() == []
