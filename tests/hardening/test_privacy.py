"""Personal data: every view of a customer's details is recorded; a retention purge removes
personal data a configurable number of days after a case ended and records that it did; one
customer's data can be exported on request."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.casework import privacy
from engine.casework.customer_export import export_customer
from engine.casework.privacy import PURGED_EVENT, RUN_EVENT, VIEW_EVENT, record_view, view_log
from engine.casework.retention import DailyPurge, purge, run_daily_purge
from engine.core.errors import NotFound, ValidationFailed
from engine.core.settings import REPO_SETTINGS, SettingsError, load_settings
from engine.definitions.sources import SourceFile
from engine.store.tables import Attachment, Blob, Case, Event, Outbox, Task
from tests.conftest import fixture_files
from tests.hardening.helpers import HARDENING_FIXTURES, require_wiring

WANG = {
    "customer_name": "王小明",
    "phone": "138-0000-1234",
    "email": "wang.xm@example.com",
}
WANG_SECRETS = [
    "王小明",
    "138-0000-1234",
    "13800001234",
    "wang.xm@example.com",
    "上海市徐匯區漕溪北路88號",
    "310101199001011234",
]
FOLLOWUP_FORM = HARDENING_FIXTURES / "privacy_followup.json"
LI = {"customer_name": "李小紅", "phone": "13911112222", "email": "li@example.com"}


def start(runtime, person: dict) -> str:
    """notify_flow: queues an SMS and an e-mail to the customer, then waits at a user task."""
    return runtime.start_case("notify_flow", dict(person), prevalidated=True).number


def finish(runtime, number: str, user: str = "alice", extra: dict | None = None) -> None:
    task = runtime.get_case(number).open_tasks[0]
    runtime.complete_task(task.id, {"confirmed": True, **(extra or {})}, user)


def add_file(db, number: str, content: bytes, name: str, at) -> str:
    from engine.runtime import attachments

    data = b"\xff\xd8\xff" + content  # a JPEG by its first bytes
    attachments.store(db, number, name, data, "alice", at)
    return hashlib.sha256(data).hexdigest()


def everything_about(db, number: str) -> str:
    """Every row that belongs to the case, as one text to search."""
    with db.read() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        rows: list[object] = [
            {c.key: getattr(case, c.key) for c in Case.__table__.columns},
        ]
        for model in (Task, Event, Outbox, Attachment):
            for row in session.scalars(select(model).where(model.case_id == case.id)):
                rows.append({c.key: getattr(row, c.key) for c in model.__table__.columns})
    return json.dumps(rows, ensure_ascii=False, default=str)


@pytest.fixture
def flows(runtime, users):
    # notify_flow with a follow-up form at its user task: the personal data a clerk records.
    text = (
        fixture_files("notify_flow.bpmn")[0]
        .read_text()
        .replace(
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"',
            'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
            ' xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"',
        )
        .replace(
            '<bpmn:userTask id="wait" name="等待">',
            '<bpmn:userTask id="wait" name="等待"><bpmn:extensionElements>'
            "<spiffworkflow:properties><spiffworkflow:property"
            ' name="formJsonSchemaFilename" value="privacy_followup.json" />'
            "</spiffworkflow:properties></bpmn:extensionElements>",
        )
    )
    runtime.deploy([SourceFile("notify_flow.bpmn", text.encode()), FOLLOWUP_FORM])
    return runtime


# ----- views ----------------------------------------------------------------------------------


def test_every_view_of_a_customers_details_is_recorded(flows, db, clock):
    number = start(flows, WANG)
    record_view(db, "sue", number, "case_page", at=clock.now())
    clock.advance(minutes=5)
    with db.write() as session:  # inside the caller's transaction: commits with it ...
        record_view(session, "alice", number, "task_page:1", at=clock.now())
        session.commit()
    with db.write() as session:  # ... and is gone with it
        record_view(session, "bob", number, "task_page:1", at=clock.now())
        session.rollback()
    log = view_log(db, case_number=number)
    assert [(v["actor"], v["what"], v["case"]) for v in log] == [
        ("alice", "task_page:1", number),
        ("sue", "case_page", number),
    ]
    assert log[1]["at"] == (clock.now() - timedelta(minutes=5)).isoformat()
    assert view_log(db, actor="sue")[0]["case"] == number
    with pytest.raises(NotFound):
        record_view(db, "sue", "XX-0000", "case_page")
    # The views are part of the case's history.
    kinds = [e.kind for e in flows.get_case(number).history]
    assert kinds.count(VIEW_EVENT) == 2


def test_web_pages_record_views(flows, db):
    """The supervisor's case page and a task page record who looked (wired in by the lead)."""
    import inspect

    from webui import tasks
    from webui.cases import page

    wired = "record_view" in inspect.getsource(page) and "record_view" in inspect.getsource(tasks)
    require_wiring("record_view on the case and task pages", wired)
    from engine.identity.users import add_user
    from tests.webui.conftest import PASSWORD, csrf_token
    from webui import create_app

    add_user(
        db, flows.settings, "sue2", ["supervisor", "service_desk"], flows.clock.now(), PASSWORD
    )
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "t", "SESSION_COOKIE_SECURE": False}, runtime=flows
    )
    client = app.test_client()
    page = client.get("/login")
    signed_in = client.post(
        "/login", data={"name": "sue2", "password": PASSWORD, "csrf_token": csrf_token(page.text)}
    )
    assert signed_in.status_code == 302
    number = start(flows, WANG)
    task_id = flows.get_case(number).open_tasks[0].id
    assert client.get(f"/cases/{number}").status_code == 200
    assert client.get(f"/tasks/{task_id}").status_code == 200
    seen = [(v["actor"], v["what"].split(":")[0]) for v in view_log(db, case_number=number)]
    assert ("sue2", "case_page") in seen and ("sue2", "task_page") in seen


# ----- purge ----------------------------------------------------------------------------------


def test_purge_removes_personal_data_a_year_after_the_case_ended(flows, db, settings, clock):
    t0 = clock.now()
    old = start(flows, WANG)
    finish(
        flows,
        old,
        extra={
            "comment": "王小明來電，請寄到上海市徐匯區漕溪北路88號",
            "address": "上海市徐匯區漕溪北路88號",
            "id_number": "310101199001011234",
            "satisfaction": 5,
        },
    )
    record_view(db, "sue", old, "case_page", at=t0)
    unique = add_file(db, old, b"id card scan", "王小明身份證.jpg", t0)
    shared = add_file(db, old, b"price list", "價目表.jpg", t0)
    running = start(flows, LI)
    add_file(db, running, b"price list", "價目表.jpg", t0)
    clock.advance(days=10)
    cancelled = start(flows, {**LI, "customer_name": "李大紅"})
    flows.cancel_case(cancelled, "客戶李大紅來電取消", actor="sue")
    before = everything_about(db, old)
    assert [s for s in WANG_SECRETS if s not in before] == ["13800001234"]  # typed with dashes

    # 366 days after the first case ended: only it is due.
    clock.set(t0 + timedelta(days=366))
    dry = purge(db, settings, clock.now(), dry_run=True)
    assert dry.dry_run and dry.numbers == [] and dry.retention_days == 365
    assert (dry.cases, dry.tasks, dry.messages, dry.attachments, dry.blobs) == (1, 1, 2, 2, 1)
    assert dry.events > 0 and dry.fields > 0
    assert everything_about(db, old) == before  # a dry run changes nothing
    with db.read() as session:
        assert session.scalar(select(func.count()).where(Event.kind == RUN_EVENT)) == 0

    report = purge(db, settings, clock.now(), actor="admin")
    assert report.numbers == [old]
    assert {k: v for k, v in report.to_dict().items() if k not in ("numbers", "dry_run")} == {
        k: v for k, v in dry.to_dict().items() if k not in ("numbers", "dry_run")
    }
    after = everything_about(db, old)
    leaked = [secret for secret in WANG_SECRETS if secret in after]
    assert leaked == [], f"still stored after the purge: {leaked}"
    # The case, its steps and figures stay readable.
    case = flows.get_case(old)
    assert case.status == "completed"
    assert "customer_name" not in case.data and "phone" not in case.data
    task = flows.list_tasks(case=old)[0]
    assert task.data["satisfaction"] == 5 and task.data["confirmed"] is True
    assert task.data["comment"] == "[已清除]來電，請寄到[已清除]"
    purged = [e for e in case.history if e.kind == PURGED_EVENT]
    assert len(purged) == 1 and purged[0].actor == "retention"
    assert purged[0].detail["removed"]["attachments"] == 2
    kinds = [e.kind for e in case.history]
    assert {"case_started", "task_completed", "notification_queued", VIEW_EVENT} <= set(kinds)
    with db.read() as session:
        assert session.get(Blob, unique) is None  # only this case had it
        assert session.get(Blob, shared) is not None  # the running case still uses it
        notes = session.scalars(select(Outbox).where(Outbox.recipient == "")).all()
        assert len(notes) == 2 and all(n.body == "" for n in notes)
        run = session.scalars(select(Event).where(Event.kind == RUN_EVENT)).one()
        assert run.actor == "admin" and run.detail["cases"] == 1
    # Cases not due keep everything.
    assert "李小紅" in everything_about(db, running)
    assert "李大紅" in everything_about(db, cancelled)

    # Idempotent; the cancelled case follows when its own year is up.
    assert purge(db, settings, clock.now()).cases == 0
    clock.set(t0 + timedelta(days=10 + 366))
    later = purge(db, settings, clock.now())
    assert later.numbers == [cancelled]
    text = everything_about(db, cancelled)
    assert "李大紅" not in text and "13911112222" not in text
    assert flows.get_case(cancelled).cancel_reason == "客戶[已清除]來電取消"
    assert "李小紅" in everything_about(db, running)


def test_retention_days_come_from_settings(flows, db, tmp_path, clock):
    path = tmp_path / "privacy.toml"
    shutil.copy(REPO_SETTINGS, path)
    text = path.read_text(encoding="utf-8")
    assert "[privacy]\nretention_days = 365" in text
    path.write_text(text.replace("retention_days = 365", "retention_days = 30"), encoding="utf-8")
    settings = load_settings(path)
    assert settings.privacy.retention_days == 30
    number = start(flows, WANG)
    finish(flows, number)
    clock.advance(days=29)
    assert purge(db, settings, clock.now()).cases == 0
    clock.advance(days=2)
    assert purge(db, settings, clock.now()).numbers == [number]
    for bad in ("0", "-1", '"a year"', "true"):
        path.write_text(text.replace("retention_days = 365", f"retention_days = {bad}"))
        with pytest.raises(SettingsError, match="retention_days"):
            load_settings(path)


def test_the_worker_purges_once_a_day(flows, db, settings, clock):
    number = start(flows, WANG)
    finish(flows, number)
    clock.advance(days=400)
    first = run_daily_purge(db, settings, clock.now())
    assert first is not None and first.numbers == [number]
    clock.advance(hours=23)
    assert run_daily_purge(db, settings, clock.now()) is None  # ran less than a day ago
    clock.advance(hours=2)
    assert run_daily_purge(db, settings, clock.now()).cases == 0  # ran again, nothing due

    hook = DailyPurge()
    clock.advance(days=2)
    assert hook.maybe_run(db, settings, clock.now()) is not None
    clock.advance(minutes=30)
    assert hook.maybe_run(db, settings, clock.now()) is None  # not even asked the database
    with db.read() as session:
        runs = session.scalar(select(func.count()).where(Event.kind == RUN_EVENT))
    assert runs == 3


def test_worker_round_runs_the_daily_purge(flows, db, clock):
    from engine.worker.timers import Worker

    worker = Worker(flows)
    require_wiring("the daily purge in Worker.round", hasattr(worker, "purge"))
    number = start(flows, WANG)
    finish(flows, number)
    clock.advance(days=366)
    worker.round()
    assert [e.kind for e in flows.get_case(number).history].count(PURGED_EVENT) == 1
    worker.round()  # the same day: not again
    with db.read() as session:
        assert session.scalar(select(func.count()).where(Event.kind == RUN_EVENT)) == 1


# ----- export ---------------------------------------------------------------------------------


def test_one_customers_data_can_be_exported(flows, db, clock):
    first = start(flows, WANG)
    finish(flows, first, extra={"address": "上海市徐匯區漕溪北路88號"})
    second = start(flows, {**WANG, "phone": "13800001234"})  # typed differently
    other = start(flows, LI)

    data = export_customer(db, "+86 138 0000 1234", actor="sue", now=clock.now())
    json.dumps(data, ensure_ascii=False)  # JSON-able as it is
    assert data["customer"] == {"phone": "+86 138 0000 1234", "name": None}
    assert data["exported_by"] == "sue"
    assert [c["number"] for c in data["cases"]] == [first, second]
    case = data["cases"][0]
    assert case["customer_name"] == "王小明" and case["status"] == "completed"
    assert case["tasks"][0]["data"]["address"] == "上海市徐匯區漕溪北路88號"
    assert {m["channel"]: m["recipient"] for m in case["messages"]} == {
        "sms": "138-0000-1234",
        "email": "wang.xm@example.com",
    }
    assert "王小明" in case["messages"][0]["body"]
    kinds = [e["kind"] for e in case["events"]]
    assert kinds[0] == "case_started" and "task_completed" in kinds
    assert data["cases"][1]["data"]["customer_name"] == "王小明"
    assert other not in json.dumps(data)

    # By name too; each export is recorded on each case it showed.
    by_name = export_customer(db, name="王小明", actor="sue", now=clock.now())
    assert [c["number"] for c in by_name["cases"]] == [first, second]
    assert [c["number"] for c in export_customer(db, "13911112222", "王小明")["cases"]] == []
    exported = [v for v in view_log(db, case_number=first) if v["kind"] == "personal_data_exported"]
    assert len(exported) == 2 and exported[0]["actor"] == "sue"
    with pytest.raises(ValidationFailed):
        export_customer(db)
    with pytest.raises(ValidationFailed):
        export_customer(db, "123")


# ----- the command line -----------------------------------------------------------------------


def cli(db_url, settings, now, *args):
    from caseflow.cli import main

    env = {"DATABASE_URL": db_url, "CASEFLOW_SETTINGS": str(settings.path), "CASEFLOW_NOW": now}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_purge_and_export_commands(flows, db, db_url, settings, clock):
    from caseflow.cli import main

    require_wiring(
        "caseflow purge / export-customer",
        {"purge", "export-customer"} <= set(main.commands),
    )
    number = start(flows, WANG)
    finish(flows, number)
    later = (clock.now() + timedelta(days=366)).isoformat()
    result = cli(db_url, settings, later, "export-customer", "13800001234", "--as", "sue")
    assert result.exit_code == 0, result.output
    assert [c["number"] for c in json.loads(result.output)["cases"]] == [number]
    result = cli(db_url, settings, later, "purge", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    dry = json.loads(result.output)
    assert (dry["dry_run"], dry["cases"]) == (True, 1)
    result = cli(db_url, settings, later, "purge", "--json")
    assert json.loads(result.output)["numbers"] == [number]
    result = cli(db_url, settings, later, "purge")
    assert result.exit_code == 0 and "0 case" in result.output
    assert "王小明" not in everything_about(db, number)


def test_personal_keys_are_documented_and_matched():
    for key in ("customer_name", "Phone", "email", "address", "id_number", "contact"):
        assert privacy.is_personal_key(key), key
    for key in ("mother_phone", "customer_email", "shoot_address", "cleaner_phone"):
        assert privacy.is_personal_key(key), key
    for key in ("service_item", "satisfaction", "comment", "appointment_at", "phone_count"):
        assert not privacy.is_personal_key(key), key
    for key in sorted(privacy.PERSONAL_KEYS) + list(privacy.PERSONAL_SUFFIXES):
        assert key in privacy.__doc__, key
