"""KPIs per process and month from case and task rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.casework.metrics import monthly_kpis, recent_months
from engine.store.tables import Case, Task

T0 = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)


def add_case(session, number, process, status, started, ended=None):
    case = Case(
        number=number,
        process_version_id=1,
        process_key=process,
        status=status,
        state="{}",
        serializer_version="1",
        started_at=started,
        updated_at=started,
        ended_at=ended,
        version=1,
    )
    session.add(case)
    session.flush()
    return case


def add_task(session, case, due, completed, data=None, status="done"):
    session.add(
        Task(
            case_id=case.id,
            spiff_task_id="x",
            element_id="t",
            name="t",
            role="service_desk",
            status=status,
            created_at=T0,
            due_at=due,
            completed_at=completed,
            data=data,
            version=1,
        )
    )


def seed(db):
    from engine.store.tables import ProcessVersion

    with db.write() as s:
        s.add(
            ProcessVersion(
                id=1,
                key="p",
                version=1,
                name="p",
                content_hash="h",
                case_prefix="P",
                sources=[],
                spec_json="{}",
                task_meta={},
                serializer_version="1",
                deployed_at=T0,
            )
        )
        s.flush()
        a = add_case(s, "A-1", "store_appointment", "completed", T0, T0 + timedelta(hours=10))
        b = add_case(s, "A-2", "store_appointment", "cancelled", T0, T0 + timedelta(hours=1))
        c = add_case(s, "A-3", "store_appointment", "running", T0)
        d = add_case(s, "C-1", "complaint_handling", "running", T0)
        add_case(
            s,
            "OLD",
            "store_appointment",
            "completed",
            T0 - timedelta(days=40),
            T0 - timedelta(days=39),
        )
        add_task(s, a, T0 + timedelta(hours=5), T0 + timedelta(hours=4), {"satisfaction": 5})
        add_task(s, a, T0 + timedelta(hours=5), T0 + timedelta(hours=6), {"rating": "3"})
        add_task(s, b, None, T0 + timedelta(hours=1), {"satisfaction": 9})  # out of range: ignored
        add_task(s, c, T0 + timedelta(hours=1), None, status="open")
        add_task(s, d, None, T0 + timedelta(hours=2))
        s.commit()


def test_monthly_kpis(db):
    seed(db)
    now = T0 + timedelta(days=1)
    rows = {r.process: r for r in monthly_kpis(db, "2026-11", "Asia/Shanghai", now)}
    store = rows["store_appointment"]
    assert (store.cases_started, store.cases_completed, store.cases_cancelled) == (3, 1, 1)
    assert store.on_time_rate == 0.5
    assert store.booking_success_rate == 0.5
    assert store.mean_hours_to_service == 10.0
    assert (store.satisfaction, store.satisfaction_answers) == (4.0, 2)
    assert store.overdue_count == 2  # one completed late, one open and overdue now
    total = rows["*"]
    assert total.cases_started == 4 and total.complaint_rate == 25.0
    october = {r.process: r for r in monthly_kpis(db, "2026-10", "Asia/Shanghai", now)}
    assert (
        october["store_appointment"].cases_started == 1
        and october["store_appointment"].overdue_count == 0
    )


def test_recent_months_cross_the_year():
    assert recent_months(datetime(2026, 2, 1, 0, 0, tzinfo=UTC), "Asia/Shanghai", 3) == [
        "2025-12",
        "2026-01",
        "2026-02",
    ]
