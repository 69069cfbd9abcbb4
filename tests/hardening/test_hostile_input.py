"""Hostile input through the web: the bad-BPMN corpus through the modeler's check and deploy,
broken form schemas through the form editor, oversized bodies (413), files of other types
(refused, nothing stored), script, HTML and template text in instructions and form values
(shown as text, never run), characters no database column takes (NUL, lone surrogates: 400,
never 500), and redirects to other sites."""

from __future__ import annotations

import io
import json
import os
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from engine.definitions.sources import SourceFile
from engine.store.tables import Attachment, Form, ProcessVersion
from tests.conftest import FIXTURES, fixture_files
from tests.engine.test_definitions import CORPUS, FORM
from tests.hardening import conftest_web, summary_plugin
from tests.hardening.conftest_web import Web, build_app

web = conftest_web.web
quick_password_hashing = conftest_web.quick_password_hashing
hardening_summary = conftest_web.hardening_summary

summary_plugin.describe(
    "hostile input",
    "{bad_bpmn} bad BPMN files refused by the modeler's check and deploy, {bad_forms} broken "
    "forms refused, {oversized} oversized bodies answered 413, {file_types} other file types "
    "refused, {injections} script/HTML/template payloads shown as text, {bad_chars} NUL and "
    "surrogate inputs answered 4xx, {queries} odd query parameters answered without error",
)


def counts(db: Any) -> tuple[int, int, int]:
    with db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(ProcessVersion)),
            session.scalar(select(func.count()).select_from(Form)),
            session.scalar(select(func.count()).select_from(Attachment)),
        )


def post_json(web: Web, client: Any, url: str, body: Any, **kwargs: Any) -> Any:
    response = client.post(url, json=body, headers={"X-CSRFToken": web.csrf(client)}, **kwargs)
    response.close()
    return response


# ----- the bad-BPMN corpus through the modeler ---------------------------------------------


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_bpmn_is_refused_by_the_modeler(web: Web, name: str) -> None:
    data, element_id, message = CORPUS[name]
    web.runtime.deploy([SourceFile("review_form.json", FORM)])  # the form the diagram names
    before = counts(web.db)
    olga = web.client("olga")
    body = {"filename": "bad.bpmn", "xml": data.decode("utf-8")}
    checked = post_json(web, olga, "/models/validate", body)
    assert checked.status_code == 200, (name, checked.status_code, checked.text[:300])
    assert checked.json["ok"] is False
    problems = checked.json["problems"]
    assert any(message in p["message"] for p in problems), (name, problems)
    if element_id:
        assert element_id in [p["element_id"] for p in problems], (name, problems)
    deployed = post_json(web, olga, "/models/deploy", body)
    assert deployed.status_code == 422, (name, deployed.status_code, deployed.text[:300])
    assert deployed.json["ok"] is False
    assert any(message in p["message"] for p in deployed.json["problems"]), name
    assert counts(web.db) == before, f"{name}: something was deployed"
    assert not os.path.exists("/tmp/pwned")
    summary_plugin.record("hostile input", bad_bpmn=1)


BAD_FORMS = {
    "not_json": ("{not json", "not valid JSON"),
    "duplicate_key": ('{"type": "object", "type": "array", "properties": {}}', "twice"),
    "not_object": ("[1, 2]", "must be a JSON object"),
    "bad_type": ('{"type": "objekt", "properties": {}}', "not a valid JSON Schema"),
    "remote_ref": (
        '{"type": "object", "properties": {"a": {"$ref": "https://evil.example/x.json"}}}',
        "outside the form file",
    ),
    "other_draft": (
        '{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", '
        '"properties": {}}',
        "Draft 2020-12",
    ),
    "no_properties": ('{"type": "object"}', "properties"),
    "too_large": (
        '{"type": "object", "properties": {}, "x": "' + "x" * 3_000_000 + '"}',
        "limit is",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_FORMS))
def test_broken_forms_are_refused_by_the_form_editor(web: Web, name: str) -> None:
    text, message = BAD_FORMS[name]
    olga = web.client("olga")
    before = counts(web.db)
    response = olga.post(
        "/models/forms/deploy",
        data={"name": "evil.json", "text": text, "new": "1", "csrf_token": web.csrf(olga)},
    )
    assert response.status_code == 422, (name, response.status_code)
    assert message in response.text or message.replace("'", "&#39;") in response.text, name
    assert counts(web.db) == before
    summary_plugin.record("hostile input", bad_forms=1)


# ----- sizes and file types ----------------------------------------------------------------


@pytest.fixture
def default_app(runtime, db, settings, clock, quick_password_hashing) -> Web:
    """The app with the configuration it runs with (only the test's own runtime and key)."""
    from engine.identity.users import add_user

    for name, roles in conftest_web.USERS.items():
        add_user(db, settings, name, roles, clock.now(), password=conftest_web.PASSWORD)
    app = build_app(runtime, TESTING=False)
    return Web(app, runtime, db, clock)


def test_oversized_bodies_are_refused_with_413(default_app: Web) -> None:
    web = default_app
    limit = web.app.config["MAX_CONTENT_LENGTH"]
    assert limit and limit <= 20 * 1024 * 1024
    web.runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = web.runtime.start_case("review_flow", {"customer_name": "王"}).number
    task = web.open_task(number).id
    big = b"x" * (limit + 1)
    alice, olga, anonymous = web.client("alice"), web.client("olga"), web.app.test_client()
    pages = [
        (alice, f"/tasks/{task}", "application/x-www-form-urlencoded"),
        (alice, f"/tasks/{task}", "multipart/form-data; boundary=xyz"),
        (anonymous, "/login", "application/x-www-form-urlencoded"),
        (anonymous, "/book/status", "application/x-www-form-urlencoded"),
        (olga, "/models/validate", "application/json"),
        (olga, "/models/forms/deploy", "application/x-www-form-urlencoded"),
    ]
    for client, url, content_type in pages:
        response = client.post(url, data=big, content_type=content_type)
        response.close()
        assert response.status_code == 413, (url, content_type, response.status_code)
        assert response.mimetype == "text/html" and "413" in response.text
        summary_plugin.record("hostile input", oversized=1)
    # The API takes small JSON bodies only; its answer is JSON.
    api_limit = 1024 * 1024
    client = web.app.test_client()
    for url in ("/api/cases", f"/api/tasks/{task}/complete"):
        body = b'{"data": {"x": "' + b"x" * api_limit + b'"}}'
        response = client.post(
            url, data=body, content_type="application/json", headers=web.bearer("alice")
        )
        assert response.status_code == 413, (url, response.status_code)
        assert response.json["error"] == "request_entity_too_large"
        summary_plugin.record("hostile input", oversized=1)
    assert web.runtime.get_case(number).open_tasks[0].status == "open"


def test_only_bpmn_and_json_files_are_stored(web: Web) -> None:
    web.runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    review = (FIXTURES / "review_flow.bpmn").read_text()
    olga = web.client("olga")
    before = counts(web.db)
    for filename in (
        "evil.html",
        "evil.bpmn.html",
        "evil.svg",
        "evil.dmn",
        "../../evil.bpmn",
        "/etc/evil.bpmn",
        ".bpmn",
        "evil .bpmn",
        "evil\x00.bpmn",
        "evil.BPMN.exe",
        "x" * 300 + ".bpmn",
        None,
        42,
    ):
        for url in ("/models/validate", "/models/deploy"):
            response = post_json(web, olga, url, {"filename": filename, "xml": review})
            assert response.status_code == 400, (filename, url, response.status_code)
            assert response.is_json or "\x00" in filename  # NUL: refused before the view
        summary_plugin.record("hostile input", file_types=1)
    for name in ("evil.html", "evil.json.html", "../evil.json", "evil.svg", "evil\x00.json", ""):
        response = olga.post(
            "/models/forms/deploy",
            data={"name": name, "text": FORM.decode(), "new": "1", "csrf_token": web.csrf(olga)},
        )
        assert response.status_code in (400, 422), (name, response.status_code)
        summary_plugin.record("hostile input", file_types=1)
    # Files sent along with a form under a name that is no file field are not stored.
    number = web.runtime.start_case("review_flow", {"customer_name": "王"}).number
    task = web.open_task(number).id
    alice = web.client("alice")
    response = alice.post(
        f"/tasks/{task}",
        data={
            "approve": "on",
            "note": "ok",
            "attachment": (io.BytesIO(b"<script>alert(1)</script>"), "evil.html"),
            "evidence": (io.BytesIO(PDF), "evil.pdf"),
            "csrf_token": web.csrf(alice),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert web.runtime.get_task(task).data == {"approve": True, "note": "ok"}
    assert counts(web.db) == (before[0], before[1], 0)


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
REFUSED_FILES = [
    ("evil.html", b"<html><script>alert(1)</script></html>"),
    ("evil.svg", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"),
    ("evil.pdf", b"<script>alert(1)</script>"),  # the name says PDF, the content does not
    ("evil.png", PDF),
    ("evil.exe", b"MZ\x90\x00"),
    ("evil.pdf.exe", PDF),
    ("evil", PDF),
    ("evil.txt", b"\xff\xfe\x00binary"),
    ("empty.pdf", b""),
    ("huge.pdf", PDF + b"0" * (10 * 1024 * 1024)),
]


def multipart(fields: dict[str, Any]) -> tuple[bytes, str]:
    """An encoded multipart body (in memory: the test client would spool a large one to a
    temporary file that nothing closes) and its content type."""
    values = MultiDict(
        {
            k: FileStorage(io.BytesIO(v[1]), filename=v[0]) if isinstance(v, tuple) else v
            for k, v in fields.items()
        }
    )
    boundary, body = encode_multipart(values, boundary="caseflow-test-boundary")
    return body, f"multipart/form-data; boundary={boundary}"


def _upload(web: Web, client: Any, task: int, name: str, content: bytes, **fields: str) -> Any:
    data: dict[str, Any] = {"approve": "on", "csrf_token": web.csrf(client), **fields}
    data["evidence__file"] = (name, content)
    body, content_type = multipart(data)
    response = client.post(f"/tasks/{task}", data=body, content_type=content_type)
    response.close()
    return response


def test_only_allowed_files_are_stored_with_a_form(web: Web) -> None:
    from engine.runtime import attachments

    web.runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = web.runtime.start_case("review_flow", {"customer_name": "王"}).number
    task = web.open_task(number).id
    alice = web.client("alice")
    for name, content in REFUSED_FILES:
        response = _upload(web, alice, task, name, content)
        assert response.status_code == 422, (name, response.status_code)
        summary_plugin.record("hostile input", file_types=1)
    assert attachments.for_case(web.db, number) == []
    assert web.runtime.get_task(task).status == "open"
    # An accepted file keeps only a harmless name and is served as a download.
    response = _upload(web, alice, task, "../../<b>合同</b>.pdf", PDF)
    assert response.status_code == 302
    [stored] = attachments.for_case(web.db, number)
    assert "/" not in stored.filename and "<" not in stored.filename, stored.filename
    download = alice.get(f"/attachments/{stored.id}")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    download.close()


def test_a_refused_form_keeps_no_file(web: Web) -> None:
    from engine.runtime import attachments

    web.runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = web.runtime.start_case("review_flow", {"customer_name": "王"}).number
    task = web.open_task(number).id
    alice = web.client("alice")
    response = _upload(web, alice, task, "ok.pdf", PDF, note="x" * 501)
    assert response.status_code == 422
    assert attachments.for_case(web.db, number) == []


def test_a_booking_stores_only_allowed_files(web: Web) -> None:
    from engine.runtime import attachments

    web.runtime.deploy(fixture_files("portal_flow.bpmn", "portal_start.json"))
    customer = web.app.test_client()
    for n, (name, content) in enumerate(REFUSED_FILES[:6]):
        data: dict[str, Any] = {
            "customer_name": f"陳{n}",  # a booking each (the same answers again are one)
            "customer_phone": "13812345678",
            "appointment_at": "2026-11-26T10:00",
            "csrf_token": web.csrf(customer),
            "file": (name, content),
        }
        body, content_type = multipart(data)
        booked = customer.post(
            "/book/portal_flow", data=body, content_type=content_type, follow_redirects=True
        )
        assert booked.status_code == 200, (name, booked.status_code)
        number = re.search(r'id="booking-number">([^<]+)<', booked.text).group(1)
        assert attachments.for_case(web.db, number) == [], name
        summary_plugin.record("hostile input", file_types=1)


# ----- script, HTML and templates ----------------------------------------------------------

XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>"
TEMPLATE = "{{ 1234*5678 }}{{ 'IF' ~ 'RAN' }}"  # 7006652 and IFRAN if evaluated
QUOTE = 'O\'Brien & "Sons"'
HOSTILE_INSTRUCTIONS = (
    "<b>請</b><script>alert('owner')</script> 處理 {{ customer_name }} / {{ note }} / "
    "{{ customer_name|safe }}"
)


def _assert_inert(html: str, where: str) -> None:
    """Neither the payloads' markup nor the results of evaluating them reach the page."""
    assert "<script>alert(" not in html, f"{where}: a script tag reached the page"
    assert (
        "<img src=x" not in html
        and "onerror=alert" not in html.replace("&#39;", "'")
        or ("<img src=x" not in html)
    ), f"{where}: an HTML attribute reached the page"
    assert "7006652" not in html and "IFRAN" not in html, f"{where}: a template was evaluated"
    assert "&amp;lt;" not in html and "&amp;#39;" not in html, f"{where}: escaped twice"


def test_instructions_and_values_are_shown_as_text(web: Web) -> None:
    web.runtime.deploy([SourceFile("review_form.json", FORM)])
    web.deploy_one_task(
        "xss_flow", form="review_form.json", instructions=HOSTILE_INSTRUCTIONS, loop=True
    )
    data = {"customer_name": XSS + TEMPLATE + QUOTE, "note": TEMPLATE}
    number = web.runtime.start_case("xss_flow", data, prevalidated=True).number
    task = web.open_task(number).id
    alice = web.client("alice")
    page = alice.get(f"/tasks/{task}").text
    _assert_inert(page, "task page")
    # Values are shown once escaped (the browser shows the text the customer typed) …
    assert "&lt;script&gt;alert(" in page and "O&#39;Brien &amp; &#34;Sons&#34;" in page
    assert "{{ 1234*5678 }}" in page
    # … and so is what the process owner wrote around them.
    assert "&lt;b&gt;請&lt;/b&gt;&lt;script&gt;alert(&#39;owner&#39;)" in page
    summary_plugin.record("hostile input", injections=3)

    # A submission carrying the payloads: re-shown after an error, then stored as text.
    token = web.csrf(alice)
    bad = alice.post(
        f"/tasks/{task}", data={"note": XSS + TEMPLATE + "x" * 500, "csrf_token": token}
    )
    assert bad.status_code == 422
    _assert_inert(bad.text, "task page with errors")
    done = alice.post(f"/tasks/{task}", data={"note": XSS + TEMPLATE, "csrf_token": token})
    assert done.status_code == 302
    assert web.runtime.get_task(task).data["note"] == XSS + TEMPLATE  # stored as typed
    for client, url in (
        (alice, "/tasks"),
        (alice, f"/tasks/{web.open_task(number).id}"),
        (web.client("sue"), f"/cases/{number}"),
        (web.client("sue"), "/cases"),
        (web.client("sue"), f"/cases?customer={XSS}"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_inert(response.text, url)
        summary_plugin.record("hostile input", injections=1)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
        "{{ config }}{{ request }}{{ settings }}",
        "{{ customer_name.__class__ }}",
        "{% for x in range(10**9) %}{% endfor %}",
        "{{ 1/0 }}",
        "{{ customer_name + 1 }}",
        "{{ customer_name.missing.deeper }}",
        "{{ {}['nothing'] }}{{ [][5] }}",
    ],
)
def test_instructions_cannot_leave_the_sandbox(web: Web, template: str) -> None:
    try:
        web.deploy_one_task("escape_flow", instructions=template)
    except Exception as exc:  # refused when deployed: as good as refused when shown
        assert "escape_flow" in str(exc) or "template" in str(exc).lower(), exc
        summary_plugin.record("hostile input", injections=1)
        return
    number = web.runtime.start_case(
        "escape_flow", {"customer_name": "王"}, prevalidated=True
    ).number
    alice = web.client("alice")
    page = alice.get(f"/tasks/{web.open_task(number).id}")
    assert page.status_code == 200
    for leak in ("&lt;class", "subclasses", "uid=", "SECRET_KEY", "Config", "Request", "test"):
        assert leak not in page.text.split('class="instructions"')[-1][:2000], (template, leak)
    summary_plugin.record("hostile input", injections=1)


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 10**9 }}",
        "{{ [0] * 10**8 }}",
        "{{ 10**9 * 'ab' }}",
        "{{ 2 ** 100000000 }}",
        "{{ customer_name.ljust(10**9) }}",
        "{{ customer_name.center(width=10**9) }}",
    ],
)
def test_instructions_cannot_fill_the_memory(web: Web, template: str) -> None:
    """Jinja's sandbox bounds range() but not repetition or padding: ours bounds those too, and
    the page says the instructions could not be shown."""
    web.deploy_one_task("bomb_flow", instructions=template)
    number = web.runtime.start_case("bomb_flow", {"customer_name": "王"}, prevalidated=True).number
    page = web.client("alice").get(f"/tasks/{web.open_task(number).id}")
    assert page.status_code == 200
    assert "is not allowed" in page.text and len(page.data) < 200_000
    summary_plugin.record("hostile input", injections=1)


def test_portal_pages_show_customer_input_as_text(web: Web) -> None:
    web.runtime.deploy(fixture_files("portal_flow.bpmn", "portal_start.json"))
    customer = web.app.test_client()
    token = web.csrf(customer)
    fields = {
        "customer_name": "<script>alert(1)</script>{{ 1234*5678 }}",
        "customer_phone": "13812345678",
        "appointment_at": "2026-11-26T10:00",
        "note": XSS + TEMPLATE,
    }
    booked = customer.post(
        "/book/portal_flow", data={**fields, "csrf_token": token}, follow_redirects=True
    )
    assert booked.status_code == 200
    _assert_inert(booked.text, "booked page")
    number = re.search(r'id="booking-number">([^<]+)<', booked.text).group(1)
    bad = customer.post(
        "/book/portal_flow", data={**fields, "customer_phone": XSS, "csrf_token": token}
    )
    assert bad.status_code == 422
    _assert_inert(bad.text, "booking form with errors")
    status = customer.post(
        "/book/status", data={"number": number, "phone": "13812345678", "csrf_token": token}
    )
    assert status.status_code == 200
    _assert_inert(status.text, "booking status")
    lookup = customer.post(
        "/book/status", data={"number": XSS + TEMPLATE, "phone": XSS, "csrf_token": token}
    )
    assert lookup.status_code == 404
    _assert_inert(lookup.text, "lookup")
    summary_plugin.record("hostile input", injections=4)


def test_error_pages_show_the_address_as_text(web: Web) -> None:
    sue = web.client("sue")
    for url in (f"/cases/{XSS}{TEMPLATE}", f"/nothing/{XSS}{TEMPLATE}", f"/book/{XSS}"):
        response = sue.get(url)
        assert response.status_code == 404, url
        _assert_inert(response.text, url)
        summary_plugin.record("hostile input", injections=1)


def test_errors_are_clear_json_under_api_and_pages_elsewhere(default_app: Web) -> None:
    web = default_app

    @web.app.get("/api/boom")
    @web.app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail /etc/caseflow")

    client = web.app.test_client()
    token = web.bearer("alice")
    for method, url, code in (
        ("GET", "/api/nothing", 404),
        ("DELETE", "/api/cases", 405),
        ("PUT", "/api/tasks/1/claim", 405),
        ("GET", "/api/boom", 500),
    ):
        response = client.open(url, method=method, headers=token)
        assert response.status_code == code, (url, response.status_code)
        assert response.is_json and set(response.json) >= {"error", "message"}, url
        assert "secret detail" not in response.text
        if code == 405:
            assert response.headers["Allow"], url
    sue = web.client("sue")
    for method, url, code in (
        ("GET", "/nothing", 404),
        ("PUT", "/tasks", 405),
        ("POST", "/dashboard", 405),
        ("GET", "/dashboard?month=2026-13", 400),
        ("GET", "/boom", 500),
    ):
        response = sue.open(url, method=method)
        assert response.status_code == code, (url, response.status_code)
        assert response.mimetype == "text/html" and f"{code} ·" in response.text, url
        assert "Traceback" not in response.text and "secret detail" not in response.text
    # The page says what was wrong when the view said it (here: the month's format).
    assert "YYYY-MM" in sue.get("/dashboard?month=2026-13").text


QUERY_VALUES = [
    "",
    "x",
    "-1",
    "0",
    "1e9",
    "9999-99-99",
    "2026-13",
    "2026-02-30",
    "%ff",
    "a'b\"<>",
    "\u202e",
    "1,2",
    "[]",
    "x" * 3000,
    str(10**30),
]
# page → (who may see it, the query parameters its view reads)
QUERY_PAGES = {
    "/cases": (
        "sue",
        ["process", "status", "step", "overdue", "assignee", "customer", "from", "to", "after"],
    ),
    "/dashboard": ("sue", ["month", "process"]),
    "/dashboard/report": ("sue", ["month", "process"]),
    "/dashboard/export.csv": ("sue", ["month", "process"]),
    "/dashboard/export.xlsx": ("sue", ["month", "process"]),
    "/models/new": ("olga", ["key", "name"]),
    "/models/review_flow/compare": ("olga", ["a", "b"]),
    "/models/review_flow/1": ("olga", ["from"]),
    "/tasks": ("alice", ["status", "x"]),
    "/login": (None, ["next"]),
    "/lang/en": (None, ["next"]),
    "/book": (None, ["x"]),
}
MODELS_INTS = {("/models/review_flow/compare", "a"), ("/models/review_flow/compare", "b")}
MODELS_INTS |= {("/models/review_flow/1", "from")}


def test_query_parameters_never_cause_a_server_error(web: Web) -> None:
    web.runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    web.runtime.start_case("review_flow", {"customer_name": "王"})
    clients = {name: web.client(name) for name in ("alice", "sue", "olga")}
    clients[None] = web.app.test_client()
    for url, (who, params) in QUERY_PAGES.items():
        for param in params:
            for value in QUERY_VALUES:
                if (url, param) in MODELS_INTS and value == str(10**30):
                    continue  # test_models_pages_take_absurd_version_numbers
                response = clients[who].get(url, query_string={param: value})
                response.close()
                assert response.status_code < 500, (url, param, value, response.status_code)
                summary_plugin.record("hostile input", queries=1)
    # An unknown process on the dashboard is a month without cases, not an error.
    page = clients["sue"].get("/dashboard", query_string={"process": "nothing"})
    assert page.status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("GET", "/models/review_flow/compare?a=" + str(10**30), None),
        ("GET", "/models/review_flow/compare?b=" + str(10**30), None),
        ("GET", "/models/review_flow/1?from=" + str(10**30), None),
        ("POST", "/models/review_flow/1/migrate", {"from": str(10**30), "case": "x"}),
    ],
)
def test_models_pages_take_absurd_version_numbers(
    web: Web, method: str, url: str, data: dict | None
) -> None:
    web.runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    olga = web.client("olga")
    if data is not None:
        data = {**data, "csrf_token": web.csrf(olga)}
    response = olga.open(url, method=method, data=data)
    assert response.status_code in (302, 400, 404), response.status_code


# ----- characters no column takes ----------------------------------------------------------


def test_nul_and_surrogates_are_refused_not_500(web: Web) -> None:
    """PostgreSQL refuses NUL in text and every driver refuses lone surrogates; either would
    be a server error if it reached the database."""
    web.runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = web.runtime.start_case("review_flow", {"customer_name": "王"}).number
    task = web.open_task(number).id
    sue, alice, olga = web.client("sue"), web.client("alice"), web.client("olga")
    anonymous = web.app.test_client()
    gets = [
        (sue, "/cases/%00"),
        (sue, "/cases?customer=%00&assignee=%00&step=%00&process=%00"),
        (sue, "/dashboard?process=%00"),
        (olga, "/models/%00/1"),
        (olga, "/models/forms/a%00.json"),
        (olga, "/models/new?key=a%00b"),
        (anonymous, "/book/%00"),
        (anonymous, "/lang/%00"),
    ]
    for client, url in gets:
        response = client.get(url)
        assert response.status_code < 500 and response.status_code in (302, 400, 404, 422), (
            url,
            response.status_code,
        )
        summary_plugin.record("hostile input", bad_chars=1)
    posts = [
        (anonymous, "/login", {"name": "alice\x00", "password": "x\x00"}),
        (anonymous, "/book/status", {"number": number + "\x00", "phone": "\x00"}),
        (anonymous, "/book/request", {"number": "\x00", "phone": "1", "kind": "cancel"}),
        (alice, f"/tasks/{task}", {"approve": "on", "note": "a\x00b"}),
        (sue, f"/cases/{number}/message", {"name": "\x00", "data": '{"a": "\\u0000"}'}),
        (sue, f"/cases/{number}/cancel", {"reason": "\x00"}),
        (sue, f"/cases/{number}/tasks/{task}/reassign", {"user": "carol\x00"}),
        (olga, "/models/forms/preview", {"name": "a\x00.json", "text": '{"a": "\\u0000"}'}),
    ]
    for client, url, data in posts:
        response = client.post(url, data={**data, "csrf_token": web.csrf(client)})
        assert response.status_code in (302, 400, 401, 404, 409, 422), (url, response.status_code)
        summary_plugin.record("hostile input", bad_chars=1)
    bodies = [
        (olga, "/models/validate", '{"filename": "a.bpmn", "xml": "\\ud800<x/>"}'),
        (olga, "/models/deploy", '{"filename": "a.bpmn", "xml": "<x>\\u0000</x>"}'),
    ]
    for client, url, body in bodies:
        response = client.post(
            url,
            data=body,
            content_type="application/json",
            headers={"X-CSRFToken": web.csrf(client)},
        )
        assert response.status_code in (400, 422), (url, response.status_code)
        summary_plugin.record("hostile input", bad_chars=1)
    api = web.app.test_client()
    for url, body in (
        ("/api/cases", '{"process": "\\u0000"}'),
        ("/api/cases", '{"process": "\\ud800"}'),
        ("/api/cases", '{"process": "review_flow", "data": {"customer_name": "\\u0000"}}'),
        ("/api/cases", '{"process": "review_flow", "data": {"note": "\\udfff"}}'),
        (f"/api/tasks/{task}/complete", '{"data": {"approve": true, "note": "\\u0000"}}'),
        (f"/api/tasks/{task}/complete", '{"data": {"approve": true, "\\ud800": 1}}'),
    ):
        response = api.post(
            url, data=body, content_type="application/json", headers=web.bearer("alice")
        )
        assert response.status_code in (400, 422), (url, body, response.status_code)
        assert response.is_json
        summary_plugin.record("hostile input", bad_chars=1)
    for url in ("/api/cases/%00", "/api/tasks?case=%00&role=%00"):
        response = api.get(url, headers=web.bearer("sue"))
        assert response.status_code in (200, 400, 404), (url, response.status_code)
        summary_plugin.record("hostile input", bad_chars=1)
    # An escaped backslash before "u0000" is ordinary text, not NUL.
    fine = api.post(
        "/api/cases",
        data=json.dumps({"process": "review_flow", "data": {"note": "C:\\u0000"}}),
        content_type="application/json",
        headers=web.bearer("alice"),
    )
    assert fine.status_code == 201, fine.text


# ----- redirects ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "/\\evil.example/",
        "\\/evil.example/",
        "/\t/evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
        "/%2F/evil.example",
    ],
)
def test_redirects_stay_on_this_site(web: Web, target: str) -> None:
    from urllib.parse import urlsplit

    def local(location: str) -> bool:
        clean = location.replace("\\", "/")
        parts = urlsplit(clean)
        return not parts.scheme and not parts.netloc and not clean.startswith("//")

    client = web.app.test_client()
    page = client.get("/login")
    signed_in = client.post(
        f"/login?next={target}",
        data={"name": "alice", "password": conftest_web.PASSWORD, "csrf_token": web.csrf(client)},
    )
    assert signed_in.status_code == 302 and local(signed_in.headers["Location"]), target
    page.close()
    web.runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = web.runtime.start_case("review_flow", {"customer_name": "王"}).number
    claimed = client.post(
        f"/tasks/{web.open_task(number).id}/claim",
        data={"next": target, "csrf_token": web.csrf(client)},
    )
    assert claimed.status_code == 302 and local(claimed.headers["Location"]), target
    summary_plugin.record("hostile input", injections=1)


@pytest.mark.parametrize("target", ["/\t/evil.example/", "/\n/evil.example/"])
def test_language_switch_redirects_stay_on_this_site(web: Web, target: str) -> None:
    language = web.app.test_client().get("/lang/en", query_string={"next": target})
    location = language.headers["Location"].replace("\\", "/")
    assert language.status_code == 302 and not location.startswith("//"), location
