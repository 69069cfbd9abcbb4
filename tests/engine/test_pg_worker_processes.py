"""Two timer worker PROCESSES on one PostgreSQL database share 2,000 due timers: each timer
fires exactly once (FOR UPDATE SKIP LOCKED and the lease), both processes take part, and every
case finishes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.definitions.sources import SourceFile
from engine.runtime.verbs import Runtime
from engine.store.database import Database
from engine.store.tables import Case, Event, Timer

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
DUE = 2_000

TIMER_FLOW = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="defs_wait_a_day" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="wait_a_day" name="\xe7\xad\x89\xe4\xb8\x80\xe5\xa4\xa9" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="wait">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_timer"><bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""

# One worker process: the engine's Worker rounds (as `caseflow worker` runs them) with the
# test's clock; it starts on a line on stdin, so that both start together after their imports,
# and stops when a round finds nothing due and unleased.
WORKER = textwrap.dedent(
    """
    import json, sys
    from engine.core.clock import FixedClock
    from engine.runtime.verbs import Runtime
    from engine.core.settings import load_settings
    from engine.store.database import Database
    from engine.worker.timers import Worker

    db = Database(sys.argv[1])
    worker = Worker(Runtime(db, load_settings(), FixedClock(sys.argv[2])))
    print("ready", flush=True)
    sys.stdin.readline()
    while worker.round()[0].cases:
        pass
    print(json.dumps(worker.timers.to_dict()), flush=True)
    db.dispose()
    """
)


def _clone_waiting_cases(db: Database, number: str, count: int) -> None:
    """`count` copies of a waiting case (its state and its timer row), written with SQL."""
    import psycopg

    with db.read() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        timer = session.scalars(select(Timer).where(Timer.case_id == case.id)).one()
        values = {
            "pv": case.process_version_id,
            "key": case.process_key,
            "state": case.state,
            "ser": case.serializer_version,
            "started": case.started_at.replace(tzinfo=None),
            "next": case.next_timer_at.replace(tzinfo=None),
            "spiff": timer.spiff_task_id,
            "element": timer.element_id,
            "due": timer.due_at.replace(tzinfo=None),
        }
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            'INSERT INTO "case" (number, process_version_id, process_key, status, state,'
            " serializer_version, started_at, updated_at, next_timer_at, version)"
            " VALUES (%s, %s, %s, 'running', %s, %s, %s, %s, %s, 1)",
            [
                (f"WC-{n:05d}", values["pv"], values["key"], values["state"], values["ser"],
                 values["started"], values["started"], values["next"])
                for n in range(count)
            ],
        )  # fmt: skip
        cur.execute(
            "INSERT INTO timer (case_id, spiff_task_id, element_id, name, kind, due_at, status,"
            " created_at, attempts) SELECT id, %s, %s, 'wait', 'duration', %s, 'waiting', %s, 0"
            " FROM \"case\" WHERE number LIKE 'WC-%%'",
            (values["spiff"], values["element"], values["due"], values["started"]),
        )
        conn.commit()


def test_two_worker_processes_fire_each_of_2000_timers_once(pg_db_url, settings, clock, tmp_path):
    db = Database(pg_db_url)
    try:
        rt = Runtime(db, settings, clock)
        rt.deploy([SourceFile("wait_a_day.bpmn", TIMER_FLOW)])
        template = rt.start_case("wait_a_day").number
        # The copies are real cases: the state and the timer row the engine wrote, 2,000 times.
        _clone_waiting_cases(db, template, DUE)
        rt.cancel_case(template, "template for the copies")
        clock.advance(days=1, minutes=1)

        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "CASEFLOW_SETTINGS": str(tmp_path / "settings.toml"),
        }
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, pg_db_url, clock.now().isoformat()],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=str(ROOT),
                env=env,
            )
            for _ in range(2)
        ]
        try:
            assert [p.stdout.readline().strip() for p in procs] == ["ready", "ready"]
            for p in procs:
                p.stdin.write("go\n")
                p.stdin.flush()
            reports = [json.loads(p.stdout.readline()) for p in procs]
            for p in procs:
                assert p.wait(timeout=60) == 0
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                p.stdin.close()
                p.stdout.close()

        assert sum(r["fired"] for r in reports) == DUE
        assert all(r["fired"] > 0 for r in reports), reports  # both took part
        assert sum(r["failures"] for r in reports) == 0
        with db.read() as session:
            fired_events = session.scalar(
                select(func.count()).select_from(Event).where(Event.kind == "timer_fired")
            )
            twice = session.scalar(
                select(func.count()).select_from(
                    select(Event.case_id)
                    .where(Event.kind == "timer_fired")
                    .group_by(Event.case_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
            timers = dict(
                session.execute(
                    select(Timer.status, func.count())
                    .join(Case, Case.id == Timer.case_id)
                    .where(Case.number.like("WC-%"))
                    .group_by(Timer.status)
                ).all()
            )
            completed = session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.number.like("WC-%"), Case.status == "completed")
            )
        assert fired_events == DUE and twice == 0
        assert timers == {"fired": DUE}
        assert completed == DUE
    finally:
        db.dispose()
