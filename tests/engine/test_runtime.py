"""Runtime verbs beyond the acceptance diagram: messages, cancel, errors and retry, versions,
races and case numbers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine.core.errors import Conflict, InvalidState, NotFound, ValidationFailed
from engine.store.tables import Case, Event
from tests.conftest import FIXTURES, fixture_files


def test_message_reaches_the_waiting_case(runtime, users):
    runtime.deploy(fixture_files("message_flow.bpmn"))
    number = runtime.start_case(
        "message_flow", {"customer_name": "林小姐"}, prevalidated=True
    ).number
    other = runtime.start_case("message_flow").number
    with pytest.raises(InvalidState, match="customer_reply"):
        runtime.send_message(number, "change_request", {"x": 1})
    case = runtime.send_message(number, "customer_reply", {"answer": "好的"}, actor="portal")
    assert case.data["reply"] == {"answer": "好的"}
    assert [t.element_id for t in case.open_tasks] == ["handle_reply"]
    # Correlation is by case: the other case still waits.
    assert runtime.get_case(other).open_tasks == []
    with pytest.raises(InvalidState, match="not waiting"):
        runtime.send_message(number, "customer_reply", {})
    with pytest.raises(NotFound):
        runtime.send_message("XX-1", "customer_reply", {})


def test_cancel_needs_a_reason_and_ends_everything(runtime, users):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = runtime.start_case("review_flow").number
    with pytest.raises(ValidationFailed):
        runtime.cancel_case(number, "  ")
    case = runtime.cancel_case(number, "客戶來電取消", actor="sue")
    assert case.status == "cancelled" and case.cancel_reason == "客戶來電取消"
    assert case.open_tasks == [] and case.timers == []
    assert runtime.list_tasks(case=number)[0].status == "cancelled"
    with pytest.raises(InvalidState, match="cancelled"):
        runtime.cancel_case(number, "again")


def test_failing_script_puts_case_in_error_and_retry_with_fixed_data(runtime, users):
    runtime.deploy(fixture_files("divide_flow.bpmn"))
    case = runtime.start_case("divide_flow", {"total": 100, "people": 0}, prevalidated=True)
    assert case.status == "error"
    assert case.error_element == "compute_share"
    assert "division by zero" in case.error_message
    assert [e.kind for e in case.history if e.kind == "error"] == ["error"]
    healthy = runtime.start_case("divide_flow", {"total": 1, "people": 1}, prevalidated=True).number
    with pytest.raises(InvalidState, match="not in error"):
        runtime.retry_case(healthy)

    fixed = runtime.retry_case(case.number, actor="sue", data={"people": 4})
    assert fixed.status == "running"
    assert fixed.data["share"] == 25
    assert [t.element_id for t in fixed.open_tasks] == ["check_share"]


def test_new_version_for_changed_content_running_cases_stay(runtime, users, tmp_path):
    first = runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    assert {(d.key, d.version, d.changed) for d in first} == {
        ("review_flow", 1, True),
        ("review_form.json", 1, True),
        ("review_start.json", 1, True),
    }
    again = runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    assert {(d.key, d.version, d.changed) for d in again} == {
        ("review_flow", 1, False),
        ("review_form.json", 1, False),
        ("review_start.json", 1, False),
    }
    old_case = runtime.start_case("review_flow").number

    changed = tmp_path / "review_flow.bpmn"
    changed.write_text(
        (FIXTURES / "review_flow.bpmn").read_text().replace("受理審核", "受理審核（新）")
    )
    # The form is already deployed, so the BPMN file alone deploys.
    second = runtime.deploy([changed])
    assert [(d.key, d.version, d.changed) for d in second] == [("review_flow", 2, True)]
    new_case = runtime.start_case("review_flow").number

    assert runtime.get_case(old_case).version == 1
    assert runtime.get_case(old_case).open_tasks[0].name == "受理審核"
    assert runtime.get_case(new_case).version == 2
    assert runtime.get_case(new_case).open_tasks[0].name == "受理審核（新）"


def test_two_threads_completing_the_same_task_one_wins(runtime, users, db):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    number = runtime.start_case("review_flow").number
    task_id = runtime.get_case(number).open_tasks[0].id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def work(user: str) -> None:
        barrier.wait()
        try:
            runtime.complete_task(task_id, {"approve": False}, user)
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(f"conflict: {exc}")

    threads = [threading.Thread(target=work, args=(u,)) for u in ("alice", "carol")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.split(":")[0] for o in outcomes) == ["conflict", "ok"]
    assert "already completed by" in next(o for o in outcomes if o.startswith("conflict"))
    with db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.number == number))
        completions = session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.case_id == case_id, Event.kind == "task_completed")
        )
    assert completions == 1
    assert runtime.get_case(number).status == "completed"


def test_case_numbers_count_per_day(runtime, users, clock):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    numbers = [runtime.start_case("review_flow").number for _ in range(3)]
    assert numbers == ["RV-20261123-0001", "RV-20261123-0002", "RV-20261123-0003"]
    clock.set("2026-11-23T16:30:00+00:00")  # already 24 November in Shanghai
    assert runtime.start_case("review_flow").number == "RV-20261124-0001"


def test_unknown_process_and_bad_data(runtime):
    with pytest.raises(NotFound, match="no deployed process"):
        runtime.start_case("nope")
    with pytest.raises(ValidationFailed):
        runtime.start_case("nope", ["not", "a", "dict"], prevalidated=True)  # type: ignore[arg-type]


def test_process_defaults_fill_the_documents_blanks(runtime, users, tmp_path):
    text = (
        (FIXTURES / "review_flow.bpmn")
        .read_text()
        .replace(
            '<spiffworkflow:property name="casePrefix" value="RV" />',
            '<spiffworkflow:property name="casePrefix" value="RV" />'
            '<spiffworkflow:property name="default:review_working_days" value="2" />'
            '<spiffworkflow:property name="default:channel" value="&quot;phone&quot;" />',
        )
    )
    path = tmp_path / "review_flow.bpmn"
    path.write_text(text)
    runtime.deploy([path, *fixture_files("review_form.json", "review_start.json")])
    case = runtime.start_case("review_flow", {"channel": "web"})
    assert case.data["review_working_days"] == 2 and case.data["channel"] == "web"
    bad = tmp_path / "bad" / "review_flow.bpmn"
    bad.parent.mkdir()
    bad.write_text(text.replace('value="2"', 'value="two"'))
    with pytest.raises(Exception, match="not a JSON value"):
        runtime.deploy([bad])
