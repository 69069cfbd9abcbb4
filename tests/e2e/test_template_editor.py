"""The wording editors in real Chromium, as a process owner: the reminder SMS of 門店預約
(store_appointment) is reworded with its live preview and segment count on a booked case and
deployed; the attendance task's instructions likewise. A booking made afterwards gets the new
reminder when its timer fires, while the booking made before keeps the old wording."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.store.tables import Case, Outbox
from engine.worker.timers import fire_due_timers
from tests.e2e.staff_browser import SHOTS, huaihai_store, sign_in
from tests.processes.test_store_appointment import CUSTOMER, FILES, NOTES, PLACE

NEW_REMINDER = (
    "{{ customer_name }} 您好：{{ when }} 在 {{ store }} 的 {{ service_item_name }} "
    "預約請提前十分鐘到店，預約號 {{ booking_ref }}。"
)
NEW_INSTRUCTIONS = (
    "請接待 {{ customer_name }}（{{ service_item_name }}，{{ room_name }}），並記錄到店時間。"
)


@pytest.fixture
def store(runtime, db):
    huaihai_store(
        db,
        shifts=(
            ("2026-11-25T10:00", "2026-11-25T11:00"),
            ("2026-11-26T14:00", "2026-11-26T16:00"),
        ),
        prep_notes=NOTES + "。",
    )
    runtime.deploy(FILES, actor="owner")
    return runtime


def book(runtime, **changes):
    return runtime.start_case(
        "store_appointment", {**CUSTOMER, **changes}, actor="portal", prevalidated=True
    )


def reminders(db, number: str) -> list[str]:
    with db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        rows = session.scalars(
            select(Outbox).where(Outbox.case_id == case_id, Outbox.channel == "sms")
        ).all()
        return [r.body for r in rows if "提醒" in r.body or "提前十分鐘" in r.body]


def wait_for_preview(tab, text: str) -> None:
    tab.wait_for_function(
        "t => (document.getElementById('wording-preview') || {}).innerText.includes(t)", arg=text
    )


@pytest.mark.e2e
def test_reword_the_reminder_sms_and_the_attendance_instructions(page, store, db, clock):
    before = book(store)
    assert "booking_ref" in before.data, (before.status, before.error_message, before.data)
    ref = before.data["booking_ref"]

    sign_in(page, page.base, "olga")
    page.goto(f"{page.base}/models/store_appointment/1")
    row = page.locator('#templates tr[data-template="store_appointment.reminder"]')
    assert "簡訊" in row.inner_text()
    row.locator("a").click()

    # The preview renders the booked case as its reminder would read: 116 characters, 2 SMS.
    page.wait_for_selector("#sms-count")
    old_text = page.inner_text("#preview-text")
    assert old_text.startswith(f"王美玲 您好：提醒您即將到來的預約：2026-11-25 10:00，{PLACE}")
    assert page.get_attribute("#sms-count", "data-segments") == "2"

    # A mistake first: the preview names the line, and nothing can be deployed.
    page.fill("textarea[name=text]", "{{ customer_name }} 您好\n{{ when")
    page.wait_for_selector("#render-error")
    assert page.get_attribute("#render-error", "data-line") == "2"

    page.fill("textarea[name=text]", NEW_REMINDER)
    wait_for_preview(page, "提前十分鐘")
    shown = page.inner_text("#preview-text")
    assert shown == (
        f"王美玲 您好：2026-11-25 10:00 在 淮海店 的 面部護理 預約請提前十分鐘到店，預約號 {ref}。"
    )
    assert page.get_attribute("#sms-count", "data-segments") == "2"  # 76 characters: 67 + 9
    assert page.get_attribute("#sms-count", "data-length") == str(len(shown))
    assert "2" in page.inner_text("#sms-count")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "template-editor.png"), full_page=True)
    page.click("#btn-deploy")
    page.wait_for_selector("p.flash")
    assert "store_appointment v2" in page.inner_text("p.flash")

    # The attendance task's instructions, previewed on the booked case as its task sees it.
    page.goto(f"{page.base}/models/store_appointment/2")
    page.locator('#instructions tr[data-task="attend"] a').click()
    page.wait_for_selector("#preview-text")
    assert "at this task" in page.inner_text("#sample-case") or "正在此任務" in page.inner_text(
        "#sample-case"
    )
    page.fill("textarea[name=text]", NEW_INSTRUCTIONS)
    wait_for_preview(page, "請接待 王美玲")
    assert page.inner_text("#preview-text") == "請接待 王美玲（面部護理，1號房），並記錄到店時間。"
    page.screenshot(path=str(SHOTS / "instructions-editor.png"), full_page=True)
    page.click("#btn-deploy")
    page.wait_for_selector("p.flash")
    assert "store_appointment v3" in page.inner_text("p.flash")

    # A booking made now runs on version 3: new wording, new instructions.
    after = book(
        store, customer_name="陳小芳", phone="13900139000", appointment_at="2026-11-26T14:00"
    )
    assert (before.version, after.version) == (1, 3)
    (attend,) = [t for t in after.open_tasks if t.element_id == "attend"]
    assert store.get_task(attend.id).instructions == NEW_INSTRUCTIONS

    # 24 hours before each appointment its reminder goes out.
    clock.set("2026-11-24T02:00:00+00:00")
    assert fire_due_timers(store).fired == 1
    (kept,) = reminders(db, before.number)
    assert kept.startswith(f"王美玲 您好：提醒您即將到來的預約：2026-11-25 10:00，{PLACE}")
    clock.set("2026-11-25T06:00:00+00:00")
    assert fire_due_timers(store).fired == 1
    (reworded,) = reminders(db, after.number)
    after_ref = store.get_case(after.number).data["booking_ref"]
    assert reworded == (
        f"陳小芳 您好：2026-11-26 14:00 在 淮海店 的 面部護理 預約請提前十分鐘到店，預約號 {after_ref}。\n"
    )
    assert page.problems == []
