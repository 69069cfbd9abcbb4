"""Process versions: listing, comparing two versions, and moving running cases to another
version only where nothing the case is doing loses its meaning."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.core.errors import InvalidState, NotFound
from engine.definitions.sources import SourceFile
from engine.runtime.compare import compare_versions
from engine.runtime.migration import can_migrate, migrate_case, migration_candidates
from engine.runtime.versions import blank_diagram, check_diagram, companion_files, list_processes
from engine.store.tables import Case
from engine.worker.timers import fire_due_timers
from tests.conftest import FIXTURES, fixture_files

pytestmark = pytest.mark.usefixtures("users")

REVIEW = (FIXTURES / "review_flow.bpmn").read_text()
LOOP = (FIXTURES / "loop_parallel.bpmn").read_text()


def deploy_review(runtime, text: str | None = None) -> int:
    if text is None:
        return runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))[-1].version
    return runtime.deploy([SourceFile("review_flow.bpmn", text.encode())])[0].version


def at_task_b(runtime) -> str:
    """A case past task_a, at task_b with its two-working-day deadline waiting."""
    case = runtime.start_case("review_flow")
    return runtime.complete_task(case.open_tasks[0].id, {"approve": True}, "alice").number


def without_deadline(text: str) -> str:
    text = re.sub(r"<bpmn:boundaryEvent.*?</bpmn:boundaryEvent>", "", text, flags=re.S)
    for old in (
        '<bpmn:sequenceFlow id="f_deadline" sourceRef="deadline" targetRef="mark_escalated" />',
        "<bpmn:incoming>f_deadline</bpmn:incoming>",
        "<bpmn:flowNodeRef>deadline</bpmn:flowNodeRef>",
    ):
        assert old in text
        text = text.replace(old, "")
    return text


def with_step_after_a(text: str) -> str:
    """A new user task "double_check" between task_a and the gateway."""
    text = text.replace(
        '<bpmn:sequenceFlow id="f_a_gw" sourceRef="task_a" targetRef="gw_approved" />',
        '<bpmn:sequenceFlow id="f_a_check" sourceRef="task_a" targetRef="double_check" />'
        '<bpmn:sequenceFlow id="f_check_gw" sourceRef="double_check" targetRef="gw_approved" />',
    )
    text = text.replace(
        "<bpmn:outgoing>f_a_gw</bpmn:outgoing>", "<bpmn:outgoing>f_a_check</bpmn:outgoing>"
    )
    text = text.replace(
        "<bpmn:incoming>f_a_gw</bpmn:incoming>", "<bpmn:incoming>f_check_gw</bpmn:incoming>"
    )
    return text.replace(
        '<bpmn:exclusiveGateway id="gw_approved"',
        '<bpmn:userTask id="double_check" name="複查"><bpmn:incoming>f_a_check</bpmn:incoming>'
        '<bpmn:outgoing>f_check_gw</bpmn:outgoing></bpmn:userTask><bpmn:exclusiveGateway id="gw_approved"',
    )


def test_list_processes_counts_running_cases_per_version(runtime):
    deploy_review(runtime)
    runtime.start_case("review_flow")
    deploy_review(runtime, REVIEW.replace('name="受理審核"', 'name="審核"'))
    runtime.start_case("review_flow")
    runtime.start_case("review_flow")
    (process,) = list_processes(runtime.db)
    assert process.key == "review_flow" and process.latest.version == 2
    assert [(v.version, v.running_cases) for v in process.versions] == [(2, 2), (1, 1)]
    assert process.latest.filename == "review_flow.bpmn"


def test_compare_lists_added_removed_and_changed_elements(runtime):
    deploy_review(runtime)
    v2 = (
        with_step_after_a(REVIEW)
        .replace('name="專人處理"', 'name="專人跟進"')
        .replace("working_days_from_now(2)", "working_days_from_now(3)")
        .replace("approve == True", "approve")
        .replace(
            '<bpmn:lane id="lane_b" name="senior_service">', '<bpmn:lane id="lane_b" name="客服">'
        )
        .replace("escalated = True", "escalated = 1")
    )
    deploy_review(runtime, v2)
    diff = compare_versions(runtime.db, "review_flow", 1, 2)
    assert {e["id"] for e in diff["added"]} == {"double_check", "f_a_check", "f_check_gw"}
    assert {"id": "double_check", "type": "userTask", "name": "複查"} in diff["added"]
    assert diff["removed"] == [{"id": "f_a_gw", "type": "sequenceFlow", "name": ""}]
    changed = {e["id"]: e for e in diff["changed"]}
    assert changed["task_b"]["what"] == ["name", "lane"]
    assert ["name", "專人處理", "專人跟進"] in changed["task_b"]["details"]
    assert changed["deadline"]["what"] == ["lane", "timer"]
    assert changed["f_yes"]["what"] == ["condition"]
    assert changed["mark_escalated"]["what"] == ["lane", "script"]
    assert "task_a" not in changed  # its outgoing flow changed, which is the flow's change
    back = compare_versions(runtime.db, "review_flow", 2, 1)
    assert {e["id"] for e in back["removed"]} == {"double_check", "f_a_check", "f_check_gw"}
    with pytest.raises(NotFound):
        compare_versions(runtime.db, "review_flow", 1, 7)


def test_form_change_shows_in_the_comparison(runtime):
    deploy_review(runtime)
    runtime.deploy(
        [
            SourceFile("other_form.json", (FIXTURES / "review_form.json").read_bytes()),
            SourceFile(
                "review_flow.bpmn", REVIEW.replace("review_form.json", "other_form.json").encode()
            ),
        ]
    )
    (changed,) = compare_versions(runtime.db, "review_flow", 1, 2)["changed"]
    assert changed["id"] == "task_a" and changed["details"] == [
        ["form", "review_form.json", "other_form.json"]
    ]


def test_a_case_moves_and_continues_on_the_new_version(runtime):
    deploy_review(runtime)
    number = runtime.start_case("review_flow").number
    task_id = runtime.get_case(number).open_tasks[0].id
    deploy_review(runtime, with_step_after_a(REVIEW).replace('name="受理審核"', 'name="受理"'))
    assert can_migrate(runtime, number, 2) == (True, [])
    with runtime.db.read() as session:
        counter = session.scalars(select(Case.version).where(Case.number == number)).one()

    check = migrate_case(runtime, number, 2, actor="olga")
    assert check.ok and check.at == ["task_a"]
    case = runtime.get_case(number)
    assert case.version == 2
    (task,) = case.open_tasks
    assert (task.id, task.name) == (task_id, "受理")  # the same task, with the new name
    (event,) = [e for e in case.history if e.kind == "case_migrated"]
    assert event.actor == "olga" and event.detail == {
        "process": "review_flow",
        "from": 1,
        "to": 2,
        "at": ["task_a"],
    }
    with runtime.db.read() as session:
        assert session.scalars(select(Case.version).where(Case.number == number)).one() > counter

    case = runtime.complete_task(task_id, {"approve": True}, "alice")
    assert [t.element_id for t in case.open_tasks] == ["double_check"]  # the new step
    case = runtime.complete_task(case.open_tasks[0].id, {"confirmed": True}, "alice")
    assert [t.element_id for t in case.open_tasks] == ["task_b"]


def test_a_waiting_timer_keeps_its_due_time(runtime, clock):
    deploy_review(runtime)
    number = at_task_b(runtime)
    due = runtime.get_case(number).timers[0].due_at
    clock.advance(days=1)
    deploy_review(runtime, REVIEW.replace("working_days_from_now(2)", "working_days_from_now(5)"))
    migrate_case(runtime, number, 2)
    case = runtime.get_case(number)
    assert case.version == 2 and [(t.element_id, t.due_at) for t in case.timers] == [
        ("deadline", due)
    ]
    clock.set(due)
    fire_due_timers(runtime)
    case = runtime.get_case(number)
    assert case.open_tasks == [] and case.timers[0].element_id == "wait_3_days"
    assert case.data["escalated"] is True


def test_history_of_a_removed_step_does_not_block_the_move(runtime):
    deploy_review(runtime)
    number = at_task_b(runtime)
    # Version 2 starts straight at the gateway: task_a, which the case passed, is gone.
    v2 = re.sub(r'<bpmn:userTask id="task_a".*?</bpmn:userTask>', "", REVIEW, flags=re.S)
    v2 = v2.replace(
        '<bpmn:sequenceFlow id="f_a_gw" sourceRef="task_a" targetRef="gw_approved" />', ""
    )
    v2 = v2.replace('targetRef="task_a"', 'targetRef="gw_approved"')
    v2 = v2.replace(
        "<bpmn:incoming>f_a_gw</bpmn:incoming>", "<bpmn:incoming>f_start_a</bpmn:incoming>"
    )
    v2 = v2.replace("<bpmn:flowNodeRef>task_a</bpmn:flowNodeRef>", "")
    deploy_review(runtime, v2)
    migrate_case(runtime, number, 2)
    case = runtime.complete_task(
        runtime.get_case(number).open_tasks[0].id, {"confirmed": True}, "bob"
    )
    assert case.version == 2 and [t.element_id for t in case.timers] == ["wait_3_days"]


def test_unsafe_moves_are_refused_with_reasons_and_change_nothing(runtime):
    deploy_review(runtime)
    waiting_on_deadline = at_task_b(runtime)
    at_a = runtime.start_case("review_flow").number
    deploy_review(runtime, without_deadline(REVIEW))

    ok, reasons = can_migrate(runtime, waiting_on_deadline, 2)
    assert not ok
    assert "deadline (兩個工作日未處理) is not in version 2" in reasons
    assert any("boundary events changed" in r for r in reasons)
    with runtime.db.read() as session:
        before = session.scalars(select(Case).where(Case.number == waiting_on_deadline)).one()
        state, counter = before.state, before.version
    with pytest.raises(InvalidState, match="deadline"):
        migrate_case(runtime, waiting_on_deadline, 2)
    with runtime.db.read() as session:
        after = session.scalars(select(Case).where(Case.number == waiting_on_deadline)).one()
        assert (after.state, after.version, after.process_version_id) == (
            state,
            counter,
            before.process_version_id,
        )
    assert not any(e.kind == "case_migrated" for e in runtime.get_case(waiting_on_deadline).history)

    checks = {c.number: c for c in migration_candidates(runtime, "review_flow", 1, 2)}
    assert checks[at_a].ok and not checks[waiting_on_deadline].ok


def test_a_changed_kind_of_element_is_refused(runtime):
    deploy_review(runtime)
    number = runtime.start_case("review_flow").number
    manual = REVIEW.replace(
        '<bpmn:userTask id="task_a" name="受理審核">',
        '<bpmn:manualTask id="task_a" name="受理審核">',
    ).replace(
        "</bpmn:userTask>\n    <bpmn:exclusiveGateway",
        "</bpmn:manualTask>\n    <bpmn:exclusiveGateway",
    )
    deploy_review(runtime, manual)
    ok, reasons = can_migrate(runtime, number, 2)
    assert not ok and reasons == [
        "task_a (受理審核) is a UserTask here but a ManualTask in version 2"
    ]


def test_only_running_cases_of_the_same_process_move(runtime):
    deploy_review(runtime)
    number = runtime.start_case("review_flow").number
    assert can_migrate(runtime, number, 1) == (False, [f"case {number} is already on version 1"])
    deploy_review(runtime, REVIEW.replace('name="受理審核"', 'name="審核"'))
    runtime.cancel_case(number, "客戶取消")
    ok, reasons = can_migrate(runtime, number, 2)
    assert not ok and reasons == [f"case {number} is cancelled; only running cases can move"]
    with pytest.raises(NotFound):
        can_migrate(runtime, number, 9)
    with pytest.raises(NotFound):
        can_migrate(runtime, "RV-00000000-0000", 2)


def test_a_case_in_a_loop_waiting_at_a_join_moves(runtime):
    runtime.deploy(fixture_files("loop_parallel.bpmn"))
    case = runtime.start_case("loop_parallel", {"rounds": 0, "late": 0}, prevalidated=True)
    for _ in range(2):  # poll, then task_b, twice round the loop
        case = runtime.complete_task(case.open_tasks[0].id, {"confirmed": True}, "sue")
        case = runtime.complete_task(case.open_tasks[0].id, {"confirmed": True}, "bob")
    case = runtime.complete_task(case.open_tasks[0].id, {"confirmed": True}, "sue")
    assert [t.element_id for t in case.open_tasks] == ["task_b"] and "join" in case.active_elements
    v2 = LOOP.replace('name="複核"', 'name="複核二"').replace("rounds &gt;= 80", "rounds &gt;= 4")
    runtime.deploy([SourceFile("loop_parallel.bpmn", v2.encode())])
    assert migrate_case(runtime, case.number, 2).at == ["join", "task_b"]
    case = runtime.get_case(case.number)
    assert case.open_tasks[0].name == "複核二"
    case = runtime.complete_task(case.open_tasks[0].id, {"confirmed": True}, "bob")
    assert [t.element_id for t in case.open_tasks] == ["poll"] and case.data["rounds"] == 3
    case = runtime.complete_task(case.open_tasks[0].id, {"confirmed": True}, "sue")
    case = runtime.complete_task(case.open_tasks[0].id, {"confirmed": True}, "bob")
    assert case.status == "completed" and case.data["rounds"] == 4  # the new version's end


def test_a_bpmn_file_checks_with_the_files_deployed_beside_it(runtime):
    runtime.deploy(fixture_files("quote_flow.bpmn", "quote.dmn"))
    assert [f.filename for f in companion_files(runtime.db, "quote_flow.bpmn")] == ["quote.dmn"]
    text = (FIXTURES / "quote_flow.bpmn").read_text()
    assert check_diagram(runtime, "quote_flow.bpmn", text) == []
    assert companion_files(runtime.db, "new_file.bpmn") == []


def test_the_blank_diagram_deploys_and_runs(runtime):
    xml = blank_diagram("store_visit", '門店 "到訪" & <測試>')
    assert check_diagram(runtime, "store_visit.bpmn", xml) == []
    runtime.deploy([SourceFile("store_visit.bpmn", xml.encode())])
    case = runtime.start_case("store_visit")
    assert case.number.startswith("SV-") and case.open_tasks[0].role == "service_desk"
    assert list_processes(runtime.db)[0].name == '門店 "到訪" & <測試>'


NESTED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="nested_flow" name="巢狀" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:subProcess id="visit" name="到府">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:startEvent id="visit_start"><bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent>
      <bpmn:userTask id="inside" name="現場服務"><bpmn:incoming>s1</bpmn:incoming><bpmn:outgoing>s2</bpmn:outgoing></bpmn:userTask>
      <bpmn:endEvent id="visit_end"><bpmn:incoming>s2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="s1" sourceRef="visit_start" targetRef="inside" />
      <bpmn:sequenceFlow id="s2" sourceRef="inside" targetRef="visit_end" />
    </bpmn:subProcess>
    <bpmn:userTask id="after" name="結案"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="visit" />
    <bpmn:sequenceFlow id="f2" sourceRef="visit" targetRef="after" />
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_case_inside_a_sub_process_moves_where_its_task_still_exists(runtime):
    runtime.deploy([SourceFile("nested_flow.bpmn", NESTED.encode())])
    number = runtime.start_case("nested_flow").number
    runtime.deploy(
        [SourceFile("nested_flow.bpmn", NESTED.replace("現場服務", "到府服務").encode())]
    )
    assert migrate_case(runtime, number, 2).at == ["inside", "visit"]
    case = runtime.get_case(number)
    assert case.version == 2 and case.open_tasks[0].name == "到府服務"
    case = runtime.complete_task(case.open_tasks[0].id, {"confirmed": True}, "alice")
    assert [t.element_id for t in case.open_tasks] == ["after"]

    other = runtime.start_case("nested_flow").number
    renamed = NESTED.replace('id="inside"', 'id="on_site"').replace('"inside"', '"on_site"')
    runtime.deploy([SourceFile("nested_flow.bpmn", renamed.encode())])
    ok, reasons = can_migrate(runtime, other, 3)
    assert not ok and reasons == ["visit: inside (到府服務) is not in version 3"]


def test_a_changed_form_alone_makes_new_versions_of_its_processes(runtime, tmp_path):
    import json

    from tests.conftest import fixture_files

    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    running = runtime.start_case("review_flow", {"customer_name": "王"}).number
    form = json.loads(fixture_files("review_form.json")[0].read_text())
    form["properties"]["priority"] = {"type": "string", "title": "優先級"}
    changed = tmp_path / "review_form.json"
    changed.write_text(json.dumps(form, ensure_ascii=False))

    results = runtime.deploy([changed], actor="owner")
    assert [r.to_dict() for r in results] == [
        {"kind": "form", "key": "review_form.json", "version": 2, "changed": True},
        {
            "kind": "process",
            "key": "review_flow",
            "version": 2,
            "changed": True,
            "forms_changed": ["review_form.json"],
        },
    ]
    new = runtime.start_case("review_flow", {"customer_name": "陳"}).number
    assert runtime.get_case(new).version == 2
    (task,) = runtime.get_case(new).open_tasks
    assert "priority" in runtime.get_task(task.id).form["properties"]
    (old_task,) = runtime.get_case(running).open_tasks
    assert "priority" not in runtime.get_task(old_task.id).form["properties"]
    # Deploying the same form again changes nothing.
    assert [r.changed for r in runtime.deploy([changed])] == [False]
