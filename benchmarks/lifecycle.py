"""The 5-step case (start → user task → gateway → user task → end) three ways, interleaved in
rounds so that a busy neighbour on the machine slows all three alike:

- memory: plain SpiffWorkflow 3.2 in memory, nothing saved;
- blob:   the naive pattern — the whole workflow (spec included) as JSON in one SQLite row,
          loaded before and saved after every step, one committed transaction per step (the
          key lifecycle_ratio_vs_blob);
- json:   the same without the database (the workflow JSON kept in memory), as the notes
          measured the naive pattern (lifecycle_ratio_vs_json_in_memory, for reference);
- engine: Caseflow's runtime verbs (start_case, complete_task twice) on SQLite, each its own
          committed transaction with task, timer and event rows, returning the case's view.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from .common import FIXTURES, log, median, new_database, runtime

PROCESS = "bench_lifecycle"


def _memory_runner() -> Any:
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
    from SpiffWorkflow.util.task import TaskState

    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(FIXTURES / "lifecycle_flow.bpmn"))
    spec = parser.get_spec(PROCESS)

    def one() -> None:
        wf = BpmnWorkflow(spec)
        wf.task_tree.data.update(customer_name="王小明")
        wf.do_engine_steps()
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update(approve=True)
        task.run()
        wf.do_engine_steps()
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update(confirmed=True)
        task.run()
        wf.do_engine_steps()
        assert wf.is_completed()

    return one


def _blob_runner(path: str) -> Any:
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.util.task import TaskState

    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(FIXTURES / "lifecycle_flow.bpmn"))
    spec = parser.get_spec(PROCESS)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("CREATE TABLE IF NOT EXISTS workflow (id INTEGER PRIMARY KEY, state TEXT)")

    def step(case_id: int, data: dict[str, Any]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        state = conn.execute("SELECT state FROM workflow WHERE id = ?", (case_id,)).fetchone()[0]
        wf = serializer.deserialize_json(state)
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update(data)
        task.run()
        wf.do_engine_steps()
        conn.execute(
            "UPDATE workflow SET state = ? WHERE id = ?", (serializer.serialize_json(wf), case_id)
        )
        conn.execute("COMMIT")

    def one() -> None:
        conn.execute("BEGIN IMMEDIATE")
        wf = BpmnWorkflow(spec)
        wf.task_tree.data.update(customer_name="王小明")
        wf.do_engine_steps()
        case_id = conn.execute(
            "INSERT INTO workflow (state) VALUES (?)", (serializer.serialize_json(wf),)
        ).lastrowid
        conn.execute("COMMIT")
        step(case_id, {"approve": True})
        step(case_id, {"confirmed": True})

    return one


def _json_runner() -> Any:
    """The whole-JSON pattern without a database (as SPIFFWORKFLOW_NOTES.md measured it): the
    workflow serialized after and loaded before every step, kept in memory."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.util.task import TaskState

    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(FIXTURES / "lifecycle_flow.bpmn"))
    spec = parser.get_spec(PROCESS)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    def step(state: str, data: dict[str, Any]) -> str:
        wf = serializer.deserialize_json(state)
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update(data)
        task.run()
        wf.do_engine_steps()
        return serializer.serialize_json(wf)

    def one() -> None:
        wf = BpmnWorkflow(spec)
        wf.task_tree.data.update(customer_name="王小明")
        wf.do_engine_steps()
        state = serializer.serialize_json(wf)
        state = step(state, {"approve": True})
        step(state, {"confirmed": True})

    return one


def _engine_runner(rt: Any) -> Any:
    def one() -> None:
        case = rt.start_case(PROCESS, {"customer_name": "王小明"}, actor="desk")
        case = rt.complete_task(case.open_tasks[0].id, {"approve": True}, "desk")
        case = rt.complete_task(case.open_tasks[0].id, {"confirmed": True}, "senior")
        assert case.status == "completed", case.status

    return one


def _rate(one: Any, count: int) -> float:
    t0 = time.perf_counter()
    for _ in range(count):
        one()
    return count / (time.perf_counter() - t0)


def run(ws: Any, results: dict[str, Any], quick: bool = False) -> None:
    db = new_database(ws, ws.sqlite_url("lifecycle.db"))
    rt = runtime(ws, db)
    runners = {
        "memory": (_memory_runner(), 100 if quick else 400),
        "blob": (_blob_runner(str(ws.path / "blob.db")), 40 if quick else 150),
        "json": (_json_runner(), 60 if quick else 200),
        "engine": (_engine_runner(rt), 40 if quick else 150),
    }
    for one, _ in runners.values():  # warm up: imports, caches, the first pages of the files
        for _ in range(20):
            one()
    rates: dict[str, list[float]] = {name: [] for name in runners}
    rounds = 2 if quick else 5
    for n in range(rounds):
        for name, (one, count) in runners.items():
            rates[name].append(_rate(one, count))
        log(
            f"  round {n + 1}/{rounds}: "
            + ", ".join(f"{name} {rates[name][-1]:,.0f}/s" for name in runners)
        )
    memory, blob, engine = (median(rates[k]) for k in ("memory", "blob", "engine"))
    results["lifecycle_cases_per_s"] = round(engine, 1)
    results["lifecycle_memory_cases_per_s"] = round(memory, 1)
    results["lifecycle_blob_cases_per_s"] = round(blob, 1)
    results["lifecycle_json_in_memory_cases_per_s"] = round(median(rates["json"]), 1)
    results["lifecycle_ratio_vs_json_in_memory"] = round(engine / median(rates["json"]), 3)
    results["lifecycle_ratio_vs_memory"] = round(engine / memory, 3)
    results["lifecycle_ratio_vs_blob"] = round(engine / blob, 3)
    log(
        f"  median: engine {engine:,.0f} cases/s, in-memory {memory:,.0f}/s, whole-JSON blob"
        f" {blob:,.0f}/s → {engine / memory:.2f} × memory, {engine / blob:.2f} × blob"
    )
