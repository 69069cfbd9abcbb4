"""The JSON API: bearer tokens, the review flow worked end to end, roles, conflicts, bad input,
and an OpenAPI description that covers every route and matches what the API answers."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from engine.identity.tokens import issue_token
from tests.conftest import fixture_files
from webui import api
from webui.openapi import document

DOC_URI = "urn:caseflow:openapi"
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _aware_date_time(value: object) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


def conforms(body: Any, schema: str) -> Any:
    """Check an answer against the OpenAPI document's schema of that name; returns the body."""
    registry = Registry().with_resource(
        DOC_URI, Resource(contents=document(), specification=DRAFT202012)
    )
    validator = Draft202012Validator(
        {"$ref": f"{DOC_URI}#/components/schemas/{schema}"},
        registry=registry,
        format_checker=FORMATS,
    )
    validator.validate(body)
    return body


class Caller:
    """A test client that sends one user's bearer token with every request."""

    def __init__(self, client: Any, token: str):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.client.get(path, headers={**self.headers, **(headers or {})}, **kwargs)

    def post(
        self, path: str, body: Any = None, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        if body is not None:
            kwargs["json"] = body
        return self.client.post(path, headers={**self.headers, **(headers or {})}, **kwargs)


@pytest.fixture
def api_app(app):
    # Until webui/__init__.py registers the blueprint itself.
    if "api" not in app.blueprints:
        app.register_blueprint(api.bp)
    return app


@pytest.fixture
def caller(api_app, db, clock):
    def as_user(name: str) -> Caller:
        return Caller(api_app.test_client(), issue_token(db, name, clock.now()))

    return as_user


@pytest.fixture
def review(runtime):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))


def start(client: Caller, **data: Any) -> dict[str, Any]:
    response = client.post(
        "/api/cases", {"process": "review_flow", "data": {"customer_name": "王小明", **data}}
    )
    assert response.status_code == 201, response.text
    return response.json


def test_no_token_or_a_bad_one_is_401(api_app, caller, runtime):
    client = api_app.test_client()
    for headers in ({}, {"Authorization": "Basic YWxpY2U6c2VjcmV0"}, {"Authorization": "Bearer"}):
        response = client.get("/api/tasks", headers=headers)
        assert response.status_code == 401
        assert conforms(response.json, "Error")["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    caller("alice")
    response = client.get("/api/tasks", headers={"Authorization": "Bearer cf_not-a-real-token"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    post = client.post("/api/cases", json={"process": "review_flow"})
    assert post.status_code == 401


def test_the_session_cookie_alone_does_not_open_the_api(api_app, login, review, runtime):
    browser = login("alice")
    assert browser.get("/api/tasks").status_code == 401
    response = browser.post("/api/cases", json={"process": "review_flow"})
    assert response.status_code == 401  # not a CSRF failure: the cookie is not looked at
    assert runtime.list_tasks() == []


def test_review_flow_through_the_api(caller, review, runtime):
    alice, bob = caller("alice"), caller("bob")

    case = conforms(start(alice, phone="13800000000"), "Case")
    number = case["number"]
    assert number.startswith("RV-") and case["status"] == "running"
    assert [t["element_id"] for t in case["open_tasks"]] == ["task_a"]
    assert case["history"][0]["kind"] == "case_started"
    assert case["history"][0]["actor"] == "alice"

    listed = conforms(alice.get("/api/tasks").json, "TaskList")["tasks"]
    assert [(t["case"], t["name"], t["status"]) for t in listed] == [(number, "受理審核", "open")]
    assert "form" not in listed[0]
    task_id = listed[0]["id"]

    task = conforms(alice.get(f"/api/tasks/{task_id}").json, "TaskWithForm")
    assert task["form"]["required"] == ["approve"]
    assert task["instructions"] == "請審核 {{ customer_name }} 的申請。"

    bad = alice.post(
        f"/api/tasks/{task_id}/complete",
        {"data": {"note": "x" * 501}},
        headers={"Accept-Language": "en"},
    )
    assert bad.status_code == 422
    errors = conforms(bad.json, "ValidationError")["errors"]
    assert set(errors) == {"approve", "note"}
    assert runtime.get_task(task_id).status == "open"

    done = alice.post(f"/api/tasks/{task_id}/complete", {"data": {"approve": True, "note": "好"}})
    assert done.status_code == 200, done.text
    case = conforms(done.json, "Case")
    assert [(t["element_id"], t["role"]) for t in case["open_tasks"]] == [
        ("task_b", "senior_service")
    ]
    assert case["data"]["approve"] is True

    assert alice.get("/api/tasks").json["tasks"] == []
    (task_b,) = bob.get("/api/tasks").json["tasks"]
    unconfirmed = bob.post(f"/api/tasks/{task_b['id']}/complete", {})
    assert unconfirmed.status_code == 422 and "confirmed" in unconfirmed.json["errors"]
    finished = bob.post(f"/api/tasks/{task_b['id']}/complete", {"data": {"confirmed": True}})
    assert finished.status_code == 200
    assert [t["element_id"] for t in finished.json["timers"]] == ["wait_3_days"]
    assert bob.get("/api/tasks").json["tasks"] == []


def test_filters_narrow_my_tasks(caller, review, runtime):
    alice, sue = caller("alice"), caller("sue")
    first, second = start(alice)["number"], start(alice)["number"]
    by_case = alice.get(f"/api/tasks?case={second}").json["tasks"]
    assert [t["case"] for t in by_case] == [second]

    claimed_id = alice.get(f"/api/tasks?case={first}").json["tasks"][0]["id"]
    assert alice.post(f"/api/tasks/{claimed_id}/claim").status_code == 200
    assert [t["id"] for t in alice.get("/api/tasks?status=claimed").json["tasks"]] == [claimed_id]
    assert [t["case"] for t in alice.get("/api/tasks?status=open").json["tasks"]] == [second]
    assert len(alice.get("/api/tasks?role=service_desk").json["tasks"]) == 2
    assert alice.get("/api/tasks?role=senior_service").json["tasks"] == []
    assert len(alice.get("/api/tasks?limit=1").json["tasks"]) == 1
    # A supervisor's inbox holds supervisor tasks, not every task.
    assert sue.get("/api/tasks").json["tasks"] == []

    for query in ("status=done", "status=nonsense", "limit=0", "limit=x", "limit=501"):
        response = alice.get(f"/api/tasks?{query}")
        assert response.status_code == 400, query
        assert conforms(response.json, "Error")["error"] == "bad_request"


def test_claim_and_give_back(caller, review, runtime):
    alice, carol = caller("alice"), caller("carol")
    task_id = start(alice)["open_tasks"][0]["id"]

    claimed = alice.post(f"/api/tasks/{task_id}/claim")
    assert claimed.status_code == 200
    assert conforms(claimed.json, "Task")["assignee"] == "alice"
    assert alice.post(f"/api/tasks/{task_id}/claim").status_code == 200  # again: no change
    assert carol.get("/api/tasks").json["tasks"] == []

    taken = carol.post(f"/api/tasks/{task_id}/claim")
    assert taken.status_code == 409 and "alice" in taken.json["message"]
    late = carol.post(f"/api/tasks/{task_id}/complete", {"data": {"approve": True}})
    assert late.status_code == 409 and late.json["error"] == "conflict"

    returned = alice.post(f"/api/tasks/{task_id}/unclaim")
    assert returned.status_code == 200
    assert returned.json["status"] == "open" and returned.json["assignee"] is None
    assert [t["id"] for t in carol.get("/api/tasks").json["tasks"]] == [task_id]


def test_second_completion_is_a_conflict(caller, review, runtime):
    alice, carol = caller("alice"), caller("carol")
    case = start(alice)
    task_id = case["open_tasks"][0]["id"]
    assert (
        alice.post(f"/api/tasks/{task_id}/complete", {"data": {"approve": False}}).status_code
        == 200
    )
    again = carol.post(f"/api/tasks/{task_id}/complete", {"data": {"approve": False}})
    assert again.status_code == 409
    assert "already completed by alice" in conforms(again.json, "Error")["message"]


def test_other_roles_see_neither_the_task_nor_the_case(caller, review, runtime):
    alice, bob, sue = caller("alice"), caller("bob"), caller("sue")
    case = start(alice)
    number, task_id = case["number"], case["open_tasks"][0]["id"]

    assert bob.get(f"/api/tasks/{task_id}").status_code == 403
    assert bob.post(f"/api/tasks/{task_id}/claim").status_code == 403
    forbidden = bob.post(f"/api/tasks/{task_id}/complete", {"data": {"approve": True}})
    assert (
        forbidden.status_code == 403 and conforms(forbidden.json, "Error")["error"] == "forbidden"
    )
    assert runtime.get_task(task_id).status == "open"

    refused = bob.get(f"/api/cases/{number}")
    assert refused.status_code == 403 and "王小明" not in refused.text
    assert conforms(alice.get(f"/api/cases/{number}").json, "Case")["number"] == number
    assert sue.get(f"/api/cases/{number}").status_code == 200  # supervisors see every case

    # Once the case reaches bob's role, bob may read it.
    alice.post(f"/api/tasks/{task_id}/complete", {"data": {"approve": True}})
    assert bob.get(f"/api/cases/{number}").status_code == 200


def test_unknown_ids_are_404(caller, review):
    bob = caller("bob")
    for path in (
        "/api/cases/RV-20261123-9999",
        "/api/tasks/999999",
        "/api/tasks/0",
        f"/api/tasks/{2**63}",
        f"/api/tasks/{10**30}/claim",
        "/api/no-such-thing",
    ):
        method = bob.post if path.endswith("/claim") else bob.get
        response = method(path)
        assert response.status_code == 404, path
        assert conforms(response.json, "Error")["error"] == "not_found"
    wrong_method = bob.client.delete("/api/cases", headers=bob.headers)
    assert wrong_method.status_code == 405 and wrong_method.json["error"] == "method_not_allowed"
    unknown = bob.post("/api/cases", {"process": "no_such_process"})
    assert unknown.status_code == 404 and "no_such_process" in unknown.json["message"]


BAD_START_BODIES = [
    (b"", "must be a JSON object"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'"review_flow"', "must be a JSON object"),
    (b'{"process": "review_flow", "data": NaN}', "not valid JSON"),
    (b"\xff\xfe\x00", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested more than"),
    (b'{"data": {}}', "missing field(s): process"),
    (b'{"process": 7}', "'process' must be"),
    (b'{"process": ""}', "'process' must be"),
    (b'{"process": "review_flow", "data": [1]}', "'data' must be a JSON object"),
    (b'{"process": "review_flow", "extra": 1}', "unknown field(s) extra"),
    (b'{"process": "review_flow", "data": ' + b'{"a": ' * 40 + b"1" + b"}" * 41, "nested"),
]


def test_bad_bodies_are_400_and_start_nothing(caller, review, runtime):
    alice = caller("alice")
    for body, message in BAD_START_BODIES:
        response = alice.post("/api/cases", data=body, content_type="application/json")
        assert response.status_code == 400, body[:60]
        assert conforms(response.json, "Error")["error"] == "bad_request"
        assert message in response.json["message"], body[:60]
    assert runtime.list_tasks() == []


def test_bad_completion_bodies_are_400(caller, review, runtime):
    alice = caller("alice")
    task_id = start(alice)["open_tasks"][0]["id"]
    for body in (b"nope", b'{"data": "approve"}', b'{"approve": true}'):
        response = alice.post(
            f"/api/tasks/{task_id}/complete", data=body, content_type="application/json"
        )
        assert response.status_code == 400, body
    assert runtime.get_task(task_id).status == "open"


def test_oversized_bodies_are_413_json(caller, review, runtime):
    alice = caller("alice")
    big = json.dumps({"process": "review_flow", "data": {"note": "x" * (1024 * 1024)}})
    response = alice.post("/api/cases", data=big, content_type="application/json")
    assert response.status_code == 413
    assert conforms(response.json, "Error")["error"] == "request_entity_too_large"
    assert runtime.list_tasks() == []


def test_answers_are_not_cached(caller, review):
    alice = caller("alice")
    assert alice.get("/api/tasks").headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in alice.get("/api/tasks").headers


def test_openapi_describes_every_route(api_app):
    response = api_app.test_client().get("/api/openapi.json")  # no token needed
    assert response.status_code == 200
    doc = json.loads(response.text)
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"

    served = set()
    for rule in api_app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((path, method.lower()))
            operation = doc["paths"].get(path, {}).get(method.lower())
            assert operation is not None, f"{method} {path} is not in openapi.json"
            assert f"api.{operation['operationId']}" == rule.endpoint
            for name in re.findall(r"{(\w+)}", path):
                assert any(
                    p["name"] == name and p["in"] == "path" for p in operation["parameters"]
                ), f"{method} {path}: path parameter {name} is not described"
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert described == served, "openapi.json describes routes the API does not serve"


def test_openapi_refs_resolve_and_schemas_are_valid(api_app):
    doc = api_app.test_client().get("/api/openapi.json").json

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if "$ref" in node else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for item in node for r in refs(item)]
        return []

    for ref in refs(doc):
        target: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            assert part in target, f"{ref} does not resolve"
            target = target[part]
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_an_idempotency_key_makes_a_retry_safe(caller, review, runtime, db):
    alice = caller("alice")
    body = {"process": "review_flow", "data": {"customer_name": "王小明"}}
    first = alice.post("/api/cases", body, headers={"Idempotency-Key": "order-7781"})
    assert first.status_code == 201, first.text
    again = alice.post("/api/cases", body, headers={"Idempotency-Key": "order-7781"})
    assert again.status_code == 200 and again.json["number"] == first.json["number"]
    assert again.headers["Location"].endswith(first.json["number"])
    conforms(again.json, "Case")
    # The same key with another body: refused, nothing started.
    other = {"process": "review_flow", "data": {"customer_name": "王大明"}}
    reused = alice.post("/api/cases", other, headers={"Idempotency-Key": "order-7781"})
    assert reused.status_code == 409 and "different request" in reused.json["message"]
    # Keys are per user: carol's "order-7781" is her own request.
    carol = caller("carol").post("/api/cases", other, headers={"Idempotency-Key": "order-7781"})
    assert carol.status_code == 201 and carol.json["number"] != first.json["number"]
    # Not a key: refused before anything starts.
    for bad in ("has space", "k" * 101, ""):
        refused = alice.post("/api/cases", body, headers={"Idempotency-Key": bad})
        assert refused.status_code == 400, bad
    # Without a key a retry is a second case.
    assert alice.post("/api/cases", body).status_code == 201
    with db.read() as session:
        from sqlalchemy import func, select

        from engine.store.tables import Case

        assert session.scalar(select(func.count()).select_from(Case)) == 3
