"""Access control of every route, for anonymous visitors and each role.

The routes are read from the app's url_map when this module is collected, so a route added
later without an entry in EXPECT fails `test_route_access` instead of passing unchecked. For
each route and method:
  * anonymous: pages redirect to the sign-in page, the API answers 401 (also to a signed-in
    session cookie without a token), public pages answer as for anyone;
  * each role: the status in EXPECT (403 where the role has no business);
  * state-changing forms: without a CSRF token, or with another session's token, 400 and
    nothing changes.
Then ids are swapped: another role's task, case, process or booking by id or number (403 or
404, never the data), unknown and absurd ids (404, never 500); and the sign-in is throttled
without telling whether a user exists, and the session cookie carries its flags.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.casework import portal
from engine.core.settings import REPO_SETTINGS, load_settings
from engine.runtime import attachments
from engine.runtime.verbs import Runtime
from engine.store.database import Database
from engine.store.tables import Case, ProcessVersion, Task
from tests.conftest import fixture_files
from tests.hardening import conftest_web, summary_plugin
from tests.hardening.conftest_web import PASSWORD, Web, build_app, csrf_token

# Fixtures (tests/hardening/conftest.py belongs to the engine's hardening tests).
web = conftest_web.web
quick_password_hashing = conftest_web.quick_password_hashing
hardening_summary = conftest_web.hardening_summary

# Refused identities first: the allowed ones may change state (claim, cancel, sign out).
IDENTITIES = ["anonymous", "bob", "olga", "alice", "sue"]
STAFF = [i for i in IDENTITIES if i != "anonymous"]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CSRF_VALUE = re.compile(r'name="csrf_token" value="[^"]+"')
LOGIN = "login"  # anonymous → 302 to the sign-in page
UNAUTHORIZED = 401  # anonymous → 401 from the API


def _routes() -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every route of the app as create_app builds it."""
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Runtime(Database(f"sqlite:///{tmp}/routes.db"), load_settings(REPO_SETTINGS))
        app = build_app(runtime)
        routes = sorted(
            (rule.endpoint, method, rule.rule)
            for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}
        )
        runtime.db.dispose()
    return routes


ROUTES = _routes()


@dataclass(frozen=True)
class Expect:
    url: str  # formatted with the world's ids: {task}, {case}, {key}, …
    anonymous: int | str
    staff: dict[str, int]
    data: dict[str, Any] | None = None  # form fields posted (plus the CSRF token)
    json: Any = None  # or a JSON body (CSRF token in the X-CSRFToken header)


def signed_in(url: str, status: int = 200, **kw: Any) -> Expect:
    return Expect(url, LOGIN, dict.fromkeys(STAFF, status), **kw)


def only(roles: dict[str, int], url: str, **kw: Any) -> Expect:
    """Pages for some identities; every other role gets 403."""
    staff = {name: roles.get(name, 403) for name in STAFF}
    return Expect(url, LOGIN, staff, **kw)


def public(url: str, status: int = 200, **kw: Any) -> Expect:
    return Expect(url, status, dict.fromkeys(STAFF, status), **kw)


def api(url: str, default: int, roles: dict[str, int] | None = None, **kw: Any) -> Expect:
    staff = {name: (roles or {}).get(name, default) for name in STAFF}
    return Expect(url, UNAUTHORIZED, staff, **kw)


SUPERVISOR = {"sue"}
OWNER = {"olga"}
# (endpoint, method) → what each identity gets. Bodies are minimal: the point is who gets in.
EXPECT: dict[tuple[str, str], Expect] = {
    ("index", "GET"): Expect("/", 302, dict.fromkeys(STAFF, 302)),  # → /tasks → sign-in
    ("health", "GET"): public("/health"),
    ("set_language", "GET"): public("/lang/en", 302),
    ("static", "GET"): public("/static/app.css"),
    ("auth.login", "GET"): public("/login"),
    ("auth.login", "POST"): public("/login", 401, data={}),
    ("auth.logout", "POST"): signed_in("/logout", 302, data={}),
    # staff: tasks of their roles
    ("tasks.inbox", "GET"): signed_in("/tasks"),
    ("tasks.task", "GET"): only({"alice": 200}, "/tasks/{task}"),
    ("tasks.complete", "POST"): only({"alice": 422}, "/tasks/{task}", data={"note": "x" * 501}),
    ("tasks.claim", "POST"): only({"alice": 302}, "/tasks/{task}/claim", data={}),
    ("tasks.unclaim", "POST"): only({"alice": 302}, "/tasks/{task}/unclaim", data={}),
    # the search: everyone signed in, each finding only the cases their roles may find
    ("search.index", "GET"): signed_in("/search?q={case}"),
    # starting a case from the desk: the process's start roles (review_flow: service_desk and
    # supervisors); for others the process is not one they may start (404)
    ("newcase.index", "GET"): signed_in("/new"),
    ("newcase.start", "GET"): only(
        {"alice": 200, "sue": 200, "bob": 404, "olga": 404}, "/new/{key}"
    ),
    ("newcase.start", "POST"): only(
        {"alice": 303, "sue": 303, "bob": 404, "olga": 404}, "/new/{key}", data={}
    ),
    # files of a case: its tasks' roles and supervisors; for others the file does not exist
    ("tasks.attachment", "GET"): only(
        {"alice": 200, "sue": 200, "bob": 404, "olga": 404}, "/attachments/{attachment}"
    ),
    # supervisors
    ("cases.index", "GET"): only({"sue": 200}, "/cases"),
    ("cases.export_csv", "GET"): only({"sue": 200}, "/cases/export.csv"),
    ("cases.export_xlsx", "GET"): only({"sue": 200}, "/cases/export.xlsx"),
    ("cases.incidents", "GET"): only({"sue": 200}, "/cases/incidents"),
    # where a version's running cases wait: supervisors and process owners (counts only)
    ("cases.heat_map_latest", "GET"): only({"sue": 302, "olga": 302}, "/cases/heatmap/{key}"),
    ("cases.heat_map", "GET"): only({"sue": 200, "olga": 200}, "/cases/heatmap/{key}/1"),
    ("cases.heat_counts", "GET"): only({"sue": 200, "olga": 200}, "/cases/heatmap/{key}/1/counts"),
    ("cases.show", "GET"): only({"sue": 200}, "/cases/{case}"),
    ("cases.cancel_form", "GET"): only({"sue": 200}, "/cases/{case}/cancel"),
    ("cases.cancel", "POST"): only(
        {"sue": 302}, "/cases/{case}/cancel", data={"reason": "x", "confirmed": "yes"}
    ),
    # the world's case is not in error: the retry page sends the supervisor back to the case
    ("cases.retry_form", "GET"): only({"sue": 302}, "/cases/{case}/retry"),
    ("cases.retry", "POST"): only({"sue": 302}, "/cases/{case}/retry", data={}),
    ("cases.message_form", "GET"): only({"sue": 200}, "/cases/{case}/message"),
    ("cases.message", "POST"): only(
        {"sue": 302}, "/cases/{case}/message", data={"name": "nothing", "note": "x"}
    ),
    ("cases.reassign", "POST"): only(
        {"sue": 302}, "/cases/{case}/tasks/{task}/reassign", data={"user": "carol"}
    ),
    ("dashboard.index", "GET"): only({"sue": 200}, "/dashboard"),
    ("dashboard.report", "GET"): only({"sue": 200}, "/dashboard/report"),
    ("dashboard.export_csv", "GET"): only({"sue": 200}, "/dashboard/export.csv"),
    ("dashboard.export_xlsx", "GET"): only({"sue": 200}, "/dashboard/export.xlsx"),
    ("reports.categories", "GET"): only({"sue": 200}, "/dashboard/categories"),
    ("reports.categories_csv", "GET"): only({"sue": 200}, "/dashboard/categories.csv"),
    ("reports.categories_xlsx", "GET"): only({"sue": 200}, "/dashboard/categories.xlsx"),
    ("reports.daily", "GET"): only({"sue": 200}, "/dashboard/daily"),
    ("reports.daily_csv", "GET"): only({"sue": 200}, "/dashboard/daily.csv"),
    ("reports.daily_xlsx", "GET"): only({"sue": 200}, "/dashboard/daily.xlsx"),
    ("reports.weekly", "GET"): only({"sue": 200}, "/dashboard/weekly"),
    ("reports.weekly_csv", "GET"): only({"sue": 200}, "/dashboard/weekly.csv"),
    ("reports.weekly_xlsx", "GET"): only({"sue": 200}, "/dashboard/weekly.xlsx"),
    # process owners
    ("models.index", "GET"): only({"olga": 200}, "/models"),
    ("models.show", "GET"): only({"olga": 200}, "/models/{key}/1"),
    ("models.compare", "GET"): only({"olga": 200}, "/models/{key}/compare"),
    ("models.edit", "GET"): only({"olga": 200}, "/models/{key}/edit"),
    ("models.new", "GET"): only({"olga": 200}, "/models/new"),
    ("models.import_form", "GET"): only({"olga": 200}, "/models/import"),
    ("models.import_diagram", "POST"): only({"olga": 400}, "/models/import", data={}),
    ("models.migrate", "POST"): only({"olga": 400}, "/models/{key}/1/migrate", data={}),
    ("models.validate", "POST"): only(
        {"olga": 400}, "/models/validate", json={"filename": "x.bpmn", "xml": ""}
    ),
    ("models.deploy", "POST"): only(
        {"olga": 400}, "/models/deploy", json={"filename": "x.bpmn", "xml": ""}
    ),
    ("models.dry_run", "POST"): only(
        {"olga": 400}, "/models/{key}/dry-run", json={"filename": "x.bpmn", "xml": ""}
    ),
    ("models.dry_run_start_data", "GET"): only({"olga": 200}, "/models/{key}/dry-run/start-data"),
    # (the world deploys no decision table: the owner gets as far as "no such table")
    ("models.decision_edit", "GET"): only({"olga": 404}, "/models/decisions/x.dmn"),
    ("models.decision_validate", "POST"): only(
        {"olga": 400}, "/models/decisions/validate", json={"filename": "x.dmn", "xml": ""}
    ),
    ("models.decision_deploy", "POST"): only(
        {"olga": 400}, "/models/decisions/deploy", json={"filename": "x.dmn", "xml": ""}
    ),
    ("models.forms", "GET"): only({"olga": 200}, "/models/forms"),
    ("models.form_new", "GET"): only({"olga": 200}, "/models/forms/new"),
    ("models.form_edit", "GET"): only({"olga": 200}, "/models/forms/{form}"),
    ("models.form_preview", "POST"): only({"olga": 200}, "/models/forms/preview", data={}),
    ("models.form_deploy", "POST"): only({"olga": 422}, "/models/forms/deploy", data={}),
    # review_flow keeps no message template: the owner gets in, to a 404
    ("models.template_edit", "GET"): only({"olga": 404}, "/models/{key}/templates/review_flow.x"),
    ("models.template_preview", "POST"): only(
        {"olga": 404}, "/models/{key}/templates/review_flow.x/preview", data={"text": "x"}
    ),
    ("models.template_deploy", "POST"): only(
        {"olga": 404}, "/models/{key}/templates/review_flow.x/deploy", data={"text": "x"}
    ),
    ("models.instructions_edit", "GET"): only({"olga": 200}, "/models/{key}/instructions/task_a"),
    ("models.instructions_preview", "POST"): only(
        {"olga": 200}, "/models/{key}/instructions/task_a/preview", data={"text": "x"}
    ),
    ("models.instructions_deploy", "POST"): only(
        {"olga": 422}, "/models/{key}/instructions/task_a/deploy", data={"text": "{% if %}"}
    ),
    # customers: no sign-in
    ("portal.index", "GET"): public("/book"),
    ("portal.book", "GET"): public("/book/{portal}"),
    ("portal.book", "POST"): public("/book/{portal}", 422, data={}),
    ("portal.booked", "GET"): public("/book/{portal}/booked", 302),
    ("portal.status", "GET"): public("/book/status"),
    ("portal.check", "GET"): public("/book/check?kind=day&value=2026-11-28"),
    # A customer link: a made-up token is refused the same way for everyone (404).
    ("portal.reply", "GET"): public("/book/reply/feedback/not-a-token", 404),
    ("portal.reply", "POST"): public("/book/reply/feedback/not-a-token", 404, data={}),
    ("portal.status", "POST"): public("/book/status", 404, data={"number": "{case}"}),
    ("portal.change", "POST"): public(
        "/book/request", 404, data={"number": "{booking}", "phone": "13900000000"}
    ),
    # the JSON API: bearer tokens only
    ("api.openapi", "GET"): public("/api/openapi.json"),
    # who may start: the process's start roles (review_flow: service_desk and supervisors)
    ("api.start_case", "POST"): api(
        "/api/cases", 403, {"alice": 201, "carol": 201, "sue": 201}, json={"process": "review_flow"}
    ),
    ("api.get_case", "GET"): api("/api/cases/{case}", 403, {"alice": 200, "sue": 200}),
    ("api.list_tasks", "GET"): api("/api/tasks", 200),
    ("api.get_task", "GET"): api("/api/tasks/{task}", 403, {"alice": 200}),
    ("api.claim_task", "POST"): api("/api/tasks/{task}/claim", 403, {"alice": 200}),
    ("api.unclaim_task", "POST"): api("/api/tasks/{task}/unclaim", 403, {"alice": 200}),
    ("api.complete_task", "POST"): api("/api/tasks/{task}/complete", 403, {"alice": 422}, json={}),
}


@dataclass
class World:
    web: Web
    case: str  # a review case with one open task for service_desk (alice's role)
    task: int
    senior_case: str  # a case whose only task belongs to senior_service (bob's role)
    senior_task: int
    booking: str  # a customer's booking, phone 13812345678
    attachment: int  # a file of the review case (alice's role)
    senior_attachment: int  # a file of the senior case (bob's role)
    phone: str = "13812345678"

    def ids(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "case": self.case,
            "senior_task": self.senior_task,
            "senior_case": self.senior_case,
            "booking": self.booking,
            "attachment": self.attachment,
            "key": "review_flow",
            "form": "review_form.json",
            "portal": "portal_flow",
        }

    def state(self) -> tuple[Any, ...]:
        """What a refused request must not change."""
        with self.web.db.read() as session:
            return (
                tuple(session.execute(select(Task.id, Task.status, Task.assignee)).all()),
                tuple(session.execute(select(Case.number, Case.status, Case.version)).all()),
                session.scalar(select(func.count()).select_from(ProcessVersion)),
            )


@pytest.fixture
def world(web: Web) -> World:
    runtime = web.runtime
    runtime.deploy(
        fixture_files(
            "review_flow.bpmn", "review_form.json", "portal_flow.bpmn", "portal_start.json"
        )
    )
    web.deploy_one_task("senior_flow", lane="senior_service")
    case = runtime.start_case("review_flow", {"customer_name": "王小明"}, actor="alice")
    senior = runtime.start_case("senior_flow", {}, actor="bob")
    booking = portal.book(
        runtime,
        "portal_flow",
        {
            "customer_name": "陳",
            "customer_phone": "13812345678",
            "appointment_at": "2026-11-26T10:00",
        },
    )
    files = [
        attachments.store(runtime.db, number, "合同.pdf", PDF, "alice", web.clock.now()).id
        for number in (case.number, senior.number)
    ]
    return World(
        web,
        case.number,
        case.open_tasks[0].id,
        senior.number,
        senior.open_tasks[0].id,
        booking,
        *files,
    )


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    """Put the world's ids into "{task}"-style places (other braces stay as they are)."""
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def send(
    client: Any,
    method: str,
    url: str,
    expect: Expect,
    ids: dict[str, Any],
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """One request as the route's table entry describes it; the CSRF token goes in the form
    or, for a JSON body, in the X-CSRFToken header (None: no token at all)."""
    headers = dict(headers or {})
    kwargs: dict[str, Any] = {}
    if expect.json is not None:
        kwargs["json"] = _fill(expect.json, ids)
        if token:
            headers["X-CSRFToken"] = token
    elif method == "POST":
        data = _fill(expect.data or {}, ids)
        if token:
            data["csrf_token"] = token
        kwargs["data"] = data
    response = client.open(url, method=method, headers=headers, **kwargs)
    response.close()
    return response


def _is_api(url: str) -> bool:
    return url.startswith("/api/")


def _check(response: Any, want: int | str, who: str, route: str, json: bool = False) -> None:
    where = f"{route} as {who}"
    if want == LOGIN:
        assert response.status_code == 302, (where, response.status_code, response.text[:300])
        assert response.headers["Location"].startswith("/login"), (where, response.location)
        return
    assert response.status_code == want, (where, response.status_code, response.text[:500])
    if want >= 400:
        if route.split()[1].startswith("/api/"):
            assert response.is_json and response.json["error"], where
        elif json and response.status_code != 403:  # the modeler's calls answer in JSON
            assert response.is_json and response.json["problems"], where
        else:
            assert response.mimetype == "text/html", where
    if want == UNAUTHORIZED and _is_api(route.split()[1]):
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), where


def _allowed(expect: Expect) -> str:
    """An identity the route lets in (the one to test CSRF as)."""
    if expect.anonymous not in (LOGIN, UNAUTHORIZED, 403):
        return "anonymous"
    return next(name for name in reversed(STAFF) if expect.staff[name] != 403)


summary_plugin.describe(
    "access",
    "{routes} routes × {identities} identities checked ({requests} requests); "
    "CSRF refused on {csrf_routes} state-changing forms; {id_swaps} id swaps refused",
)


@pytest.mark.parametrize(
    ("endpoint", "method", "rule"), ROUTES, ids=[f"{m} {r}" for _, m, r in ROUTES]
)
def test_route_access(world: World, endpoint: str, method: str, rule: str) -> None:
    summary_plugin.set_figure("access", routes=len(ROUTES), identities=len(IDENTITIES))
    expect = EXPECT.get((endpoint, method))
    assert expect is not None, (
        f"{method} {rule} ({endpoint}) has no access expectation: add it to EXPECT in "
        "tests/hardening/test_access.py (who may call it, and what the others get)"
    )
    web, ids = world.web, world.ids()
    url = _fill(expect.url, ids)
    route = f"{method} {url}"
    requests = 0

    if method == "POST" and not _is_api(url):
        # CSRF first: refused requests must change nothing.
        who = _allowed(expect)
        client = web.client(None if who == "anonymous" else who)
        before = world.state()
        missing = send(client, method, url, expect, ids, token=None)
        assert missing.status_code == 400, (route, who, "no CSRF token", missing.status_code)
        foreign = web.csrf(web.app.test_client())  # valid, but for another session
        stolen = send(client, method, url, expect, ids, token=foreign)
        assert stolen.status_code == 400, (route, who, "foreign CSRF token", stolen.status_code)
        assert world.state() == before, f"{route}: a request without CSRF token changed data"
        summary_plugin.record("access", csrf_routes=1)
        requests += 3

    for who in IDENTITIES:
        want = expect.anonymous if who == "anonymous" else expect.staff[who]
        if _is_api(url):
            client = web.app.test_client()
            headers = {} if who == "anonymous" else web.bearer(who)
            response = send(client, method, url, expect, ids, headers=headers)
            if who == "anonymous" and want == UNAUTHORIZED:
                # A signed-in browser session is no API credential.
                cookie = send(web.client("sue"), method, url, expect, ids)
                _check(cookie, UNAUTHORIZED, "sue's session cookie", route)
                requests += 1
        else:
            client = web.client(None if who == "anonymous" else who)
            token = web.csrf(client) if method == "POST" else None
            response = send(client, method, url, expect, ids, token=token)
        _check(response, want, who, route, json=expect.json is not None)
        requests += 1
    summary_plugin.record("access", requests=requests)


def test_every_expectation_names_a_route() -> None:
    routes = {(endpoint, method) for endpoint, method, _ in ROUTES}
    stale = sorted(set(EXPECT) - routes)
    assert stale == [], f"EXPECT lists routes the app does not have: {stale}"


# ----- swapping ids ------------------------------------------------------------------------


def _swap(response: Any, codes: tuple[int, ...], what: str, secret: str | None = None) -> None:
    response.close()
    assert response.status_code in codes, (what, response.status_code, response.text[:300])
    if secret:
        assert secret not in response.text, f"{what}: the answer shows {secret!r}"
    summary_plugin.record("access", id_swaps=1)


def test_tasks_of_another_role_are_unreachable(world: World) -> None:
    web = world.web
    before = world.state()
    alice, bob = web.client("alice"), web.client("bob")
    for client, foreign in ((alice, world.senior_task), (bob, world.task)):
        token = web.csrf(client)
        _swap(client.get(f"/tasks/{foreign}"), (403,), f"GET /tasks/{foreign}")
        for action in ("", "/claim", "/unclaim"):
            response = client.post(f"/tasks/{foreign}{action}", data={"csrf_token": token})
            _swap(response, (403,), f"POST /tasks/{foreign}{action}")
    # A supervisor watches cases but works no task of another role.
    sue = web.client("sue")
    _swap(
        sue.post(f"/tasks/{world.task}/claim", data={"csrf_token": web.csrf(sue)}),
        (403,),
        "supervisor claims",
    )
    for name, foreign in (("alice", world.senior_task), ("bob", world.task)):
        headers = web.bearer(name)
        client = web.app.test_client()
        _swap(client.get(f"/api/tasks/{foreign}", headers=headers), (403,), "API task")
        for action in ("claim", "unclaim"):
            response = client.post(f"/api/tasks/{foreign}/{action}", headers=headers)
            _swap(response, (403,), f"API {action}")
        response = client.post(
            f"/api/tasks/{foreign}/complete", headers=headers, json={"data": {"approve": True}}
        )
        _swap(response, (403,), "API complete")
    assert world.state() == before


def test_files_of_another_roles_cases_do_not_exist_for_you(world: World) -> None:
    web = world.web
    alice, bob, olga = web.client("alice"), web.client("bob"), web.client("olga")
    for client, foreign in (
        (alice, world.senior_attachment),
        (bob, world.attachment),
        (olga, world.attachment),
    ):
        _swap(client.get(f"/attachments/{foreign}"), (404,), "a file of another role's case")
    for unknown in (999999, 2**63, 10**40):
        _swap(alice.get(f"/attachments/{unknown}"), (404,), f"attachment {unknown}")
    download = alice.get(f"/attachments/{world.attachment}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment")
    download.close()


def test_a_task_claimed_by_a_colleague_cannot_be_taken_or_completed(world: World) -> None:
    web = world.web
    alice, carol = web.client("alice"), web.client("carol")
    alice.post(f"/tasks/{world.task}/claim", data={"csrf_token": web.csrf(alice)}).close()
    token = web.csrf(carol)
    before = world.state()
    for action, data in (("/claim", {}), ("", {"approve": "on"}), ("/unclaim", {})):
        response = carol.post(f"/tasks/{world.task}{action}", data={**data, "csrf_token": token})
        _swap(response, (409,), f"carol POST {action or 'complete'}")
    response = web.app.test_client().post(
        f"/api/tasks/{world.task}/complete",
        headers=web.bearer("carol"),
        json={"data": {"approve": True}},
    )
    _swap(response, (409,), "carol completes alice's task via the API")
    assert world.state() == before


@pytest.mark.parametrize("task_id", ["999999", str(2**63), "9" * 40])
def test_unknown_and_absurd_task_ids_are_404(world: World, task_id: str) -> None:
    web = world.web
    alice = web.client("alice")
    token = web.csrf(alice)
    _swap(alice.get(f"/tasks/{task_id}"), (404,), f"GET /tasks/{task_id}")
    for action in ("", "/claim", "/unclaim"):
        response = alice.post(f"/tasks/{task_id}{action}", data={"csrf_token": token})
        _swap(response, (404,), f"POST /tasks/{task_id}{action}")
    sue = web.client("sue")
    response = sue.post(
        f"/cases/{world.case}/tasks/{task_id}/reassign",
        data={"user": "carol", "csrf_token": web.csrf(sue)},
    )
    _swap(response, (404,), "reassign an unknown task")
    client = web.app.test_client()
    headers = web.bearer("alice")
    _swap(client.get(f"/api/tasks/{task_id}", headers=headers), (404,), "API unknown task")
    for action in ("claim", "unclaim", "complete"):
        response = client.post(f"/api/tasks/{task_id}/{action}", headers=headers, json={})
        _swap(response, (404,), f"API {action} unknown task")


def test_cases_of_another_role_are_unreachable(world: World) -> None:
    web = world.web
    client = web.app.test_client()
    # The API: a case with no task of the caller's roles is 403, an unknown number 404.
    response = client.get(f"/api/cases/{world.senior_case}", headers=web.bearer("alice"))
    _swap(response, (403,), "alice reads bob's case", secret="senior_flow")
    response = client.get(f"/api/cases/{world.case}", headers=web.bearer("bob"))
    _swap(response, (403,), "bob reads alice's case", secret="王小明")
    response = client.get(f"/api/cases/{world.case}", headers=web.bearer("olga"))
    _swap(response, (403,), "a process owner reads a case", secret="王小明")
    for number in ("RV-20991231-9999", "nothing", "%00", "x" * 500):
        response = client.get(f"/api/cases/{number}", headers=web.bearer("alice"))
        _swap(response, (404,), f"API unknown case {number[:20]}")
    ok = client.get(f"/api/cases/{world.senior_case}", headers=web.bearer("bob"))
    assert ok.status_code == 200 and ok.json["number"] == world.senior_case
    # The reassign form checks that the task belongs to the case in the address.
    sue = web.client("sue")
    before = world.state()
    response = sue.post(
        f"/cases/{world.case}/tasks/{world.senior_task}/reassign",
        data={"user": "bob", "csrf_token": web.csrf(sue)},
    )
    _swap(response, (404,), "reassign a task of another case")
    assert world.state() == before
    # Supervisor pages: unknown numbers are 404, for staff of other roles any number is 403.
    _swap(sue.get("/cases/RV-20991231-9999"), (404,), "sue opens an unknown case")
    for name in ("alice", "bob", "olga"):
        _swap(
            web.client(name).get(f"/cases/{world.senior_case}"),
            (403,),
            f"{name} opens a case page",
            secret="senior_flow",
        )


def test_the_search_finds_no_case_of_another_role(world: World) -> None:
    web = world.web
    before = world.state()
    for name, foreign, secret in (
        ("alice", world.senior_case, None),
        ("bob", world.case, "王小明"),
        ("olga", world.case, "王小明"),
    ):
        page = web.client(name).get(f"/search?q={foreign}")
        _swap(page, (200,), f"{name} searches for {foreign}", secret=secret)
        assert f">{foreign}<" not in page.text, f"{name} found {foreign}"
    found = web.client("alice").get(f"/search?q={world.case}")
    assert f">{world.case}<" in found.text and "王小明" in found.text
    assert world.state()[:2] == before[:2]


def test_unknown_processes_versions_and_forms_are_404(world: World) -> None:
    olga = world.web.client("olga")
    for url in (
        "/models/nothing/1",
        "/models/review_flow/99",
        f"/models/review_flow/{2**63}",
        "/models/nothing/edit",
        "/models/nothing/compare",
        "/models/review_flow/compare?a=7&b=9",
        "/models/forms/nothing.json",
        "/models/nothing/templates/nothing.x",
        "/models/nothing/instructions/task_a",
        "/models/review_flow/instructions/nothing",
        "/book/nothing",
    ):
        _swap(olga.get(url), (404,), url)


def test_the_booking_status_needs_number_and_phone(world: World) -> None:
    web = world.web
    customer = web.app.test_client()
    token = web.csrf(customer)
    attempts = [
        {"number": world.booking},  # number alone
        {"phone": world.phone},  # phone alone
        {"number": world.booking, "phone": "13900000000"},  # someone else's phone
        {"number": world.case, "phone": world.phone},  # another case, the right phone
        {"number": world.booking, "phone": "x" * 10_000},
    ]
    for fields in attempts:
        response = customer.post("/book/status", data={**fields, "csrf_token": token})
        _swap(response, (404,), f"status with {sorted(fields)}", secret="陳")
    for fields in attempts[:3]:
        data = {**fields, "kind": "cancel", "reason": "x", "csrf_token": token}
        _swap(customer.post("/book/request", data=data), (404,), "cancel without the phone")
    assert web.runtime.get_case(world.booking).status == "running"
    found = customer.post(
        "/book/status",
        data={"number": world.booking.lower(), "phone": world.phone, "csrf_token": token},
    )
    assert found.status_code == 200 and world.booking in found.text


def test_booking_lookups_are_rate_limited_per_address(world: World) -> None:
    web = world.web
    web.app.config["PORTAL_LOOKUPS_PER_10_MIN"] = 5
    guesser = web.app.test_client()
    token = web.csrf(guesser)
    codes = []
    for i in range(8):
        guess = {"number": f"PB-20261123-{i:04d}", "phone": "13800000000", "csrf_token": token}
        codes.append(guesser.post("/book/status", data=guess).status_code)
    assert codes == [404] * 5 + [429] * 3, codes
    # Over the limit even the right answer is refused: guessing cannot be confirmed.
    right = {"number": world.booking, "phone": world.phone, "csrf_token": token}
    limited = guesser.post("/book/status", data=right)
    assert limited.status_code == 429 and "陳" not in limited.text
    limited = guesser.post("/book/request", data={**right, "kind": "cancel", "reason": "x"})
    assert limited.status_code == 429
    # Another address is counted on its own.
    other = web.app.test_client()
    other_token = web.csrf(other)
    response = other.post(
        "/book/status",
        data={**right, "csrf_token": other_token},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 200


# ----- signing in --------------------------------------------------------------------------


def _sign_in(web: Web, name: str, password: str, address: str = "198.51.100.7") -> Any:
    client = web.app.test_client()
    token = web.csrf(client)
    response = client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )
    response.close()
    return response


def _words(response: Any, name: str) -> str:
    return CSRF_VALUE.sub("", response.text).replace(name, "NAME")


def _throttle_clock(web: Web) -> Any:
    """The clock the sign-in counts follow: the runtime's, which the test moves."""
    return web.clock


def test_failed_sign_ins_slow_down_the_sender_without_revealing_users(web: Web) -> None:
    clock = _throttle_clock(web)
    answers: dict[str, list[Any]] = {}
    for name in ("alice", "nobody-here"):
        answers[name] = [_sign_in(web, name, f"guess-{i}") for i in range(7)]
    for name, responses in answers.items():
        codes = [r.status_code for r in responses]
        # 5 free failures; then this name from this address waits (1 s first), and what it
        # sends meanwhile is refused without a check.
        assert codes == [401] * 5 + [429] * 2, (name, codes)
        assert int(responses[-1].headers["Retry-After"]) > 0
    # An existing and an unknown name get the same answers, word for word.
    for known, unknown in zip(answers["alice"], answers["nobody-here"], strict=True):
        assert _words(known, "alice") == _words(unknown, "nobody-here")
    # While waiting, even the right password is refused (guessing cannot be confirmed) …
    assert _sign_in(web, "alice", PASSWORD).status_code == 429
    assert _sign_in(web, "ALICE", "guess").status_code == 429  # names are counted caselessly
    # … but the real user signs in from elsewhere and other users are not slowed.
    assert _sign_in(web, "alice", PASSWORD, address="203.0.113.9").status_code == 302
    assert _sign_in(web, "carol", PASSWORD).status_code == 302
    # Each further failure from the guessing address doubles its wait, up to 5 minutes:
    # a delay, never a lock-out.
    waits = []
    for _ in range(12):
        waits.append(int(_sign_in(web, "alice", "guess").headers["Retry-After"]))
        clock.advance(seconds=waits[-1])
        assert _sign_in(web, "alice", "guess-again").status_code == 401
    assert waits[:5] == [1, 2, 4, 8, 16], waits
    assert max(waits) == 300, waits
    clock.advance(seconds=300)
    assert _sign_in(web, "alice", PASSWORD).status_code == 302
    summary_plugin.record("access", login_attempts=45)


def test_sign_in_is_throttled_per_address(web: Web) -> None:
    _throttle_clock(web)
    web.app.config["LOGIN_FAILURES_PER_ADDRESS"] = 8
    codes = [_sign_in(web, f"user{i}", "guess").status_code for i in range(10)]
    assert codes == [401] * 8 + [429] * 2, codes
    assert _sign_in(web, "alice", PASSWORD).status_code == 429
    assert _sign_in(web, "alice", PASSWORD, address="192.0.2.1").status_code == 302


def test_a_successful_sign_in_clears_the_count(web: Web) -> None:
    _throttle_clock(web)
    for _ in range(4):
        assert _sign_in(web, "bob", "wrong").status_code == 401
    assert _sign_in(web, "bob", PASSWORD).status_code == 302
    for _ in range(4):
        assert _sign_in(web, "bob", "wrong").status_code == 401
    assert _sign_in(web, "bob", PASSWORD).status_code == 302


# ----- cookies -----------------------------------------------------------------------------


def test_session_cookie_flags_in_the_default_configuration(runtime, db, settings, clock) -> None:
    from engine.identity.users import add_user
    from webui import create_app

    add_user(db, settings, "alice", ["service_desk"], clock.now(), password=PASSWORD)
    app = create_app({"SECRET_KEY": "not-the-test-config"}, runtime=runtime)
    assert not app.testing and app.config.get("WTF_CSRF_ENABLED", True)
    client = app.test_client()
    page = client.get("/login", base_url="https://caseflow.example")
    signed_in = client.post(
        "/login",
        base_url="https://caseflow.example",
        headers={"Referer": "https://caseflow.example/login"},
        data={"name": "alice", "password": PASSWORD, "csrf_token": csrf_token(page.text)},
    )
    assert signed_in.status_code == 302
    cookies = [h for h in signed_in.headers.getlist("Set-Cookie") if h.startswith("session=")] or [
        h for h in page.headers.getlist("Set-Cookie") if h.startswith("session=")
    ]
    assert cookies, "no session cookie was set"
    flags = {part.strip().split("=")[0].lower(): part for part in cookies[-1].split(";")}
    assert "secure" in flags and "httponly" in flags, cookies
    assert flags.get("samesite", "").split("=")[1].lower() in ("lax", "strict"), cookies
    language = client.get("/lang/en", base_url="https://caseflow.example")
    assert "HttpOnly" in language.headers["Set-Cookie"]
    assert "remember_token" not in " ".join(signed_in.headers.getlist("Set-Cookie"))
