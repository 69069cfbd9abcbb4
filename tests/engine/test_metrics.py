"""KPIs as the procedures define them, from cases run through the runtime over two months.

Every figure below is worked out by hand from the scenario in `two_months` (times are UTC;
Shanghai is 8 hours ahead, so every case starts at 10:00 local). The fixture process
`kpi_flow` declares satisfactionField=stars, promisedTimeField=appointment_at and
actualTimeField=arrived_at; its service-desk task is due two hours after the start, after which
a senior takes it over (the desk's task is cancelled: a missed deadline).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.casework import kpi_periods, metrics
from engine.casework.kpi_periods import quarter_months, recent_months
from engine.casework.kpi_rebuild import rebuild_kpis
from engine.casework.metrics import period_kpis, staff_kpis
from engine.definitions.sources import DefinitionError
from engine.store.rows import read
from tests.conftest import FIXTURES, fixture_files

ZONE = "Asia/Shanghai"
KPI_FILES = ("kpi_flow.bpmn", "kpi_start.json", "kpi_serve.json")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Scenario:
    def __init__(self, runtime, clock):
        self.runtime, self.clock = runtime, clock

    def start(self, when: str, appointment: str | None = None) -> str:
        self.clock.set(at(when))
        data = {"appointment_at": appointment} if appointment else {}
        return self.runtime.start_case("kpi_flow", data).number

    def complete(self, number: str, after_hours: float, user: str, **data) -> None:
        case = self.runtime.get_case(number)
        self.clock.set(case.started_at + timedelta(hours=after_hours))
        self.runtime.fire_timers(number)
        (task,) = self.runtime.get_case(number).open_tasks
        self.runtime.complete_task(task.id, data, user)


@pytest.fixture
def two_months(runtime, clock, users):
    runtime.deploy(fixture_files(*KPI_FILES))
    s = Scenario(runtime, clock)
    # October 2026
    a1 = s.start("2026-10-05T02:00", "2026-10-05T12:00:00+08:00")
    s.complete(a1, 1, "alice", result="served", arrived_at="2026-10-05T11:50:00+08:00", stars=5)
    a2 = s.start("2026-10-06T02:00", "2026-10-06T11:00:00+08:00")
    s.complete(a2, 1.5, "carol", result="served", arrived_at="2026-10-06T11:30:00+08:00", stars=3)
    a3 = s.start("2026-10-07T02:00")
    s.complete(a3, 4, "bob", result="no_show")  # escalated at +2 h: the desk's task was late
    a4 = s.start("2026-10-08T02:00", "2026-10-08T11:00:00+08:00")
    s.complete(a4, 0.5, "alice", result="cancelled")  # a late cancellation by the customer
    a5 = s.start("2026-10-09T02:00", "2026-10-09T11:00:00+08:00")
    s.complete(a5, 1, "alice", result="served", arrived_at="2026-10-09T10:30:00+08:00", stars=4)
    a6 = s.start("2026-10-10T02:00")
    clock.set(at("2026-10-10T03:00"))  # before the task's due time: no deadline missed
    runtime.cancel_case(a6, "門店停電", "sue")
    # November 2026
    b1 = s.start("2026-11-02T02:00", "2026-11-02T11:00:00+08:00")
    s.complete(b1, 0.5, "alice", result="served", arrived_at="2026-11-02T10:48:00+08:00", stars=4)
    b2 = s.start("2026-11-03T02:00", "2026-11-03T13:00:00+08:00")
    s.complete(b2, 5, "bob", result="served", arrived_at="2026-11-03T14:30:00+08:00", stars=2)
    b3 = s.start("2026-11-04T02:00")
    s.complete(b3, 1, "carol", result="no_show")
    clock.set(at("2026-12-01T02:00"))
    return {"october": [a1, a2, a3, a4, a5, a6], "november": [b1, b2, b3]}


def row(period: str, db, now, process: str = "kpi_flow"):
    (found,) = period_kpis(db, period, ZONE, now, process)
    return found


def test_each_case_ends_with_the_outcome_of_its_end_event(two_months, runtime):
    outcomes = [runtime.get_case(n).outcome for n in two_months["october"]]
    assert outcomes == [
        "served",
        "served",
        "no_show",
        "cancelled_by_customer",
        "served",
        "cancelled_by_company",  # cancelled from the case page
    ]


def test_october_as_the_documents_define_the_figures(two_months, db, clock):
    october = row("2026-10", db, clock.now())
    assert (october.cases_started, october.cases_ended, october.cases_served) == (6, 6, 3)
    assert (october.cases_cancelled, october.no_shows) == (2, 1)
    # a no-show and both cancellations are not successes: 3 served of 6 ended
    assert october.booking_success_rate == 0.5
    # deadlines: 5 desk tasks with a due time (A3's escalated past due: late; A6's cancelled
    # before it: not counted) + 3 promised appointment times (A2 arrived 30 min late) = 8, 2 late
    assert october.on_time_rate == 0.75
    assert october.overdue_count == 2
    # served cases only, start → arrival: 1 h 50 min, 1 h 30 min, 30 min
    assert october.mean_hours_to_service == round((110 + 90 + 30) / 60 / 3, 2) == 1.28
    # the score is in the field the process declares ("stars")
    assert (october.satisfaction, october.satisfaction_answers) == (4.0, 3)


def test_november_and_the_quarter_as_the_sum_of_its_months(two_months, db, clock):
    now = clock.now()
    november = row("2026-11", db, now)
    assert (november.cases_started, november.cases_served, november.no_shows) == (3, 2, 1)
    assert november.booking_success_rate == round(2 / 3, 4)
    # deadlines: B1 ok, B2 escalated (late), B3 ok; promises: B1 kept, B2 90 min late
    assert november.on_time_rate == 0.6
    assert november.mean_hours_to_service == 2.65  # (48 min + 4 h 30 min) / 2
    assert (november.satisfaction, november.satisfaction_answers) == (3.0, 2)

    quarter = row("2026-Q4", db, now)
    months = [
        r for m in quarter_months("2026-Q4") for r in period_kpis(db, m, ZONE, now, "kpi_flow")
    ]
    assert [m.month for m in months] == ["2026-10", "2026-11"]  # nothing in December
    for name in ("cases_started", "cases_ended", "cases_served", "cases_cancelled", "no_shows"):
        assert getattr(quarter, name) == sum(getattr(m, name) for m in months)
    assert quarter.satisfaction_answers == 5 and quarter.overdue_count == 4
    assert quarter.booking_success_rate == round(5 / 9, 4)
    assert quarter.on_time_rate == round(9 / 13, 4)
    assert quarter.satisfaction == 3.6  # (5 + 3 + 4 + 4 + 2) / 5
    assert quarter.mean_hours_to_service == round((110 + 90 + 30 + 48 + 270) / 60 / 5, 2)


def test_staff_table_and_ranking(two_months, db):
    october = {s.staff: s for s in staff_kpis(db, "2026-10")}
    alice, carol, bob = october["alice"], october["carol"], october["bob"]
    assert (alice.tasks_done, alice.on_time_rate, alice.satisfaction) == (3, 1.0, 4.5)
    assert (carol.tasks_done, carol.on_time_rate, carol.satisfaction) == (1, 1.0, 3.0)
    assert (bob.tasks_done, bob.on_time_rate, bob.satisfaction) == (1, None, None)
    assert [s.staff for s in staff_kpis(db, "2026-10")] == ["alice", "carol", "bob"]
    november = staff_kpis(db, "2026-11")
    assert [(s.rank, s.staff, s.satisfaction) for s in november] == [
        (1, "alice", 4.0),
        (2, "bob", 2.0),
        (3, "carol", None),
    ]


def _rollup(db):
    with read(db) as rows:
        return sorted(
            (r[0], r[1], r[2], r[3], r[4], round(r[5], 6))
            for r in rows.all("SELECT process_key, day, staff, metric, count, total FROM kpi_day")
        )


def test_the_rollup_equals_a_rebuild_from_scratch(two_months, db):
    kept = _rollup(db)
    assert kept
    rebuild_kpis(db, ZONE)
    assert _rollup(db) == kept


def test_complaint_rate_per_100_cases_of_the_customer_facing_processes(
    runtime, clock, users, db, monkeypatch
):
    monkeypatch.setattr(metrics, "CUSTOMER_FACING_PROCESSES", ("kpi_flow",))
    monkeypatch.setattr(metrics, "COMPLAINT_PROCESSES", ("review_flow",))
    runtime.deploy(fixture_files(*KPI_FILES, "review_flow.bpmn", "review_form.json"))
    s = Scenario(runtime, clock)
    for day in range(2, 6):
        s.start(f"2026-11-0{day}T02:00")
    clock.set(at("2026-11-06T02:00"))
    runtime.start_case("review_flow", {"customer_name": "王小明"})
    total = period_kpis(db, "2026-11", ZONE, clock.now())[-1]
    assert total.process == "*" and total.complaint_rate == 25.0  # 1 complaint, 4 bookings


def test_an_unknown_outcome_is_refused_at_deploy_on_its_element(runtime, tmp_path):
    text = (FIXTURES / "kpi_flow.bpmn").read_text(encoding="utf-8")
    bad = tmp_path / "kpi_flow.bpmn"
    bad.write_text(text.replace('value="no_show"', 'value="absent"'), encoding="utf-8")
    files = [bad, *(FIXTURES / n for n in KPI_FILES[1:])]
    with pytest.raises(DefinitionError) as refused:
        runtime.deploy(files)
    (problem,) = refused.value.problems
    assert problem.element_id == "end_no_show" and "'absent'" in problem.message


def _deploy_changed(runtime, tmp_path, old: str, new: str):
    text = (FIXTURES / "kpi_flow.bpmn").read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "kpi_flow.bpmn"
    bad.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(DefinitionError) as refused:
        runtime.deploy([bad, *(FIXTURES / n for n in KPI_FILES[1:])])
    return refused.value.problems


def test_a_kpi_field_that_nothing_sets_is_refused_at_deploy(runtime, tmp_path):
    (problem,) = _deploy_changed(runtime, tmp_path, 'value="arrived_at"', 'value="arrival_time"')
    assert problem.element_id == "kpi_flow"
    assert "actualTimeField" in problem.message and "'arrival_time'" in problem.message


def test_a_satisfaction_field_must_be_a_number_of_a_form(runtime, tmp_path):
    (problem,) = _deploy_changed(runtime, tmp_path, 'value="stars"', 'value="result"')
    assert "satisfactionField" in problem.message and "not a number" in problem.message
    (problem,) = _deploy_changed(runtime, tmp_path, 'value="stars"', 'value="rating"')
    assert "no form of the process has a field 'rating'" in problem.message


def test_a_kpi_field_set_by_a_script_is_accepted(runtime, tmp_path):
    text = (FIXTURES / "kpi_flow.bpmn").read_text(encoding="utf-8")
    changed = text.replace('value="arrived_at"', 'value="served_time"').replace(
        '<bpmn:userTask id="serve" name="接待客戶">\n      <bpmn:extensionElements>',
        '<bpmn:userTask id="serve" name="接待客戶">\n      <bpmn:extensionElements>\n'
        "        <spiffworkflow:postScript>served_time = arrived_at</spiffworkflow:postScript>",
    )
    assert "served_time = arrived_at" in changed
    path = tmp_path / "kpi_flow.bpmn"
    path.write_text(changed, encoding="utf-8")
    runtime.deploy([path, *(FIXTURES / n for n in KPI_FILES[1:])])


def test_a_summary_kind_is_refused_unless_known_and_on_a_user_task(runtime, tmp_path):
    serve = (
        '<spiffworkflow:property name="formJsonSchemaFilename" value="kpi_serve.json" />\n'
        "        </spiffworkflow:properties>\n      </bpmn:extensionElements>\n"
        "      <bpmn:incoming>f_start</bpmn:incoming>"
    )
    (problem,) = _deploy_changed(
        runtime,
        tmp_path,
        serve,
        serve.replace(
            "/>\n", '/>\n<spiffworkflow:property name="summary" value="callback" />\n', 1
        ),
    )
    assert problem.element_id == "serve" and "'callback'" in problem.message
    (problem,) = _deploy_changed(
        runtime,
        tmp_path,
        '<spiffworkflow:property name="casePrefix" value="KP" />',
        '<spiffworkflow:property name="casePrefix" value="KP" />'
        '<spiffworkflow:property name="summary" value="followup" />',
    )
    assert "user tasks only" in problem.message


def test_recent_months_cross_the_year():
    assert recent_months(datetime(2026, 2, 1, 0, 0, tzinfo=UTC), "Asia/Shanghai", 3) == [
        "2025-12",
        "2026-01",
        "2026-02",
    ]


def test_a_period_is_a_month_or_a_quarter():
    assert kpi_periods.period_days("2026-Q4") == ("2026-10-01", "2027-01-01")
    assert kpi_periods.period_days("2026-02") == ("2026-02-01", "2026-03-01")
    assert kpi_periods.quarter_of("2026-11") == "2026-Q4"
    with pytest.raises(ValueError):
        kpi_periods.period_days("2026-Q5")


def test_a_second_properties_block_is_refused_rather_than_ignored(runtime, tmp_path):
    block = (
        "        <spiffworkflow:properties>\n"
        '          <spiffworkflow:property name="formJsonSchemaFilename" value="kpi_serve.json" />\n'
        "        </spiffworkflow:properties>\n"
    )
    extra = (
        "        <spiffworkflow:properties>\n"
        '          <spiffworkflow:property name="summary" value="followup" />\n'
        "        </spiffworkflow:properties>\n"
    )
    problems = _deploy_changed(runtime, tmp_path, block, block + extra)
    assert {p.element_id for p in problems} == {"serve", "serve_late"}
    assert all("only the first is read" in p.message for p in problems)
