"""A process owner's week in real Chromium, end to end: the store reminder moves from 24 to 12
hours before the appointment in the parameter table, its SMS is reworded in the template
editor, a row is added to the cleaning quote table in the decision table editor, and a
consultation's reply deadline changes in the parameter table. A dry run of the store draft
shows the reminder 12 hours before the appointment with the new text before anything reaches a
customer; after the deploys, new cases use all four changes while the cases already running
keep their version's values and wording."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine.identity.users import add_user
from engine.store.tables import Case, Outbox
from engine.worker.timers import fire_due_timers
from tests.e2e import staff_browser
from tests.e2e.staff_browser import ROOT, SHOTS, STORE_FILES, huaihai_store
from tests.e2e.test_dmn_editor import FILES as CLEANING
from tests.e2e.test_dmn_editor import (  # noqa: F401 - the editor's fixtures
    NEW_RULE,
    TABLE,
    console_noise,
    editor_bundles,
    quote,
)
from tests.e2e.test_dry_run import CUSTOMER
from tests.e2e.test_properties_panel import SELECT_PROCESS

CONSULTATION = [
    ROOT / "processes" / "consultation.bpmn",
    ROOT / "processes" / "consultation.category.dmn",
    *sorted((ROOT / "forms").glob("consultation.*.json")),
]
NEW_REMINDER = "{{ customer_name }} 您好：您在{{ store }}的預約將於 {{ when }} 開始，請準時到店。"
CALL = {"channel": "電話", "customer_name": "李四"}


@pytest.fixture
def world(runtime, db, settings, clock):
    add_user(db, settings, "desk", ["service_desk"], clock.now())
    huaihai_store(
        db,
        shifts=(
            ("2026-11-25T10:00", "2026-11-25T11:00"),
            ("2026-11-26T14:00", "2026-11-26T15:00"),
        ),
    )
    runtime.deploy([*STORE_FILES, *CLEANING, *CONSULTATION], actor="owner")
    return runtime


def sign_in(tab) -> None:
    staff_browser.sign_in(tab, tab.base, "olga")


def open_modeler(tab, key: str) -> None:
    staff_browser.open_modeler(tab, f"/models/{key}/edit")


def set_parameter(tab, name: str, value: str) -> None:
    tab.evaluate(SELECT_PROCESS)
    field = tab.locator(f'#properties tr[data-parameter="{name}"] [name="value:{name}"]')
    field.fill(value)
    tab.wait_for_selector('#modeler[data-checked="ok"]', timeout=15_000)


def deploy_from_modeler(tab) -> str:
    tab.click("#btn-deploy")
    tab.wait_for_selector("#modeler[data-deployed]")
    return tab.get_attribute("#modeler", "data-deployed")


def sms_to(db, number: str) -> list[tuple[str, str]]:
    with db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        rows = session.scalars(
            select(Outbox)
            .where(Outbox.case_id == case_id, Outbox.channel == "sms")
            .order_by(Outbox.id)
        )
        return [(r.created_at.isoformat(), r.body) for r in rows]


@pytest.mark.e2e
def test_four_changes_tried_deployed_and_only_new_cases_use_them(page, world, db, clock):  # noqa: F811
    # Cases running before the owner changes anything.
    booked = world.start_case("store_appointment", CUSTOMER, actor="portal", prevalidated=True)
    assert (booked.version, booked.data["reminder_hours"]) == (1, 24)
    cleaning = world.start_case("home_cleaning_dispatch", {}, actor="desk").number
    asked = world.start_case("consultation", CALL, actor="desk")
    assert asked.data["expected_reply_working_days"] == 1
    sign_in(page)

    # 1. The reminder SMS reworded (a new version of store_appointment: v2).
    page.goto(f"{page.base}/models/store_appointment/templates/store_appointment.reminder")
    page.wait_for_selector("#sms-count")
    page.fill("textarea[name=text]", NEW_REMINDER)
    page.wait_for_function(
        "() => (document.getElementById('preview-text') || {}).innerText.includes('請準時到店')"
    )
    page.click("#btn-deploy")
    page.wait_for_selector("p.flash")
    assert "store_appointment v2" in page.inner_text("p.flash")

    # 2. The reminder 12 hours before instead of 24, tried in a dry run before the deploy.
    open_modeler(page, "store_appointment")
    set_parameter(page, "reminder_hours", "12")
    page.wait_for_function(
        "document.getElementById('dry-run-data').value.includes('appointment_at')"
    )
    page.fill("#dry-run-data", json.dumps(CUSTOMER, ensure_ascii=False))
    page.click("#dry-run-steps li button")  # the default "run to the end" goes
    page.select_option("#dry-run-add-kind", "clock")
    page.click("#dry-run-add")
    page.fill("#dry-run-steps li input[type=text]", "P2D")
    page.click("#dry-run-run")
    page.wait_for_selector("#dry-run[data-status]")
    reminder = page.locator("#dry-run-messages li").nth(1).inner_text()
    # The appointment is at 10:00 on 25 November (company time): the reminder at 22:00 the
    # evening before, in the new words.
    assert "2026-11-24 22:00" in reminder, page.inner_text("#dry-run-results")
    assert "王美玲 您好：您在淮海店的預約將於 2026-11-25 10:00 開始，請準時到店。" in reminder
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "owner-dry-run-12-hours.png"), full_page=True)
    assert deploy_from_modeler(page) == "v3", page.inner_text("#problems")

    # 3. A row added to the cleaning quote table (home_cleaning_dispatch v2).
    page.goto(f"{page.base}/models/decisions/{TABLE}")
    page.wait_for_selector("#decision-editor[data-ready]")
    page.click('[data-element-id="r4_kind"]', button="right")
    page.click(".context-menu-entry-add-rule-above")
    cells = page.locator("#dmn-canvas tbody tr").nth(3).locator("td.input-cell, td.output-cell")
    for index, text in enumerate(NEW_RULE):
        cells.nth(index).click()
        page.keyboard.type(text)
    page.locator("h1").click()
    page.click("#btn-deploy")
    page.wait_for_selector("#decision-editor[data-deployed]")
    assert page.get_attribute("#decision-editor", "data-deployed") == "home_cleaning_dispatch v2"

    # 4. A consultation's reply deadline: 1 working day → 2 (consultation v2).
    open_modeler(page, "consultation")
    set_parameter(page, "expected_reply_working_days", "2")
    assert deploy_from_modeler(page) == "v2", page.inner_text("#problems")
    assert page.problems == []

    # New cases use all four changes ...
    later = world.start_case(
        "store_appointment",
        {
            **CUSTOMER,
            "customer_name": "陳小芳",
            "phone": "13900139000",
            "appointment_at": "2026-11-26T14:00",
        },
        actor="portal",
        prevalidated=True,
    )
    assert (later.version, later.data["reminder_hours"]) == (3, 12)
    new_cleaning = world.start_case("home_cleaning_dispatch", {}, actor="desk")
    assert new_cleaning.version == 2 and quote(world, new_cleaning.number) == 700
    new_call = world.start_case("consultation", CALL, actor="desk")
    assert (new_call.version, new_call.data["expected_reply_working_days"]) == (2, 2)
    # ... and the running ones keep theirs.
    assert quote(world, cleaning) == 800
    assert world.get_case(asked.number).data["expected_reply_working_days"] == 1

    # The reminders go out when their timers fire: the first booking's 24 hours before its
    # appointment (10:00 on the 25th, i.e. 02:00 UTC on the 24th) in the old words, the new
    # booking's 12 hours before 14:00 on the 26th (18:00 UTC on the 25th) in the new ones.
    clock.set("2026-11-24T02:00:00+00:00")
    assert fire_due_timers(world).fired == 1
    (old,) = [b for _, b in sms_to(db, booked.number) if "提醒" in b]
    assert old.startswith("王美玲 您好：提醒您即將到來的預約：2026-11-25 10:00")
    clock.set("2026-11-25T17:59:00+00:00")
    assert fire_due_timers(world).fired == 0
    clock.set("2026-11-25T18:00:00+00:00")
    assert fire_due_timers(world).fired == 1
    (_, new), *_ = [(at, b) for at, b in sms_to(db, later.number) if "準時到店" in b]
    assert new == "陳小芳 您好：您在淮海店的預約將於 2026-11-26 14:00 開始，請準時到店。\n"
