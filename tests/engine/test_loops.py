"""Long-lived cases: stock SpiffWorkflow 3.2 stops walking its task tree at depth 1000, so a
loop silently "completes" after a few hundred rounds. Caseflow lifts the limit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from tests.conftest import FIXTURES, fixture_files

STOCK_LOOP = textwrap.dedent(
    f"""
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState
    import sys
    parser = BpmnParser()
    parser.add_bpmn_file({str(FIXTURES / "loop_flow.bpmn")!r})
    wf = BpmnWorkflow(parser.get_spec("loop_flow"))
    wf.task_tree.data.update(rounds=0)
    wf.do_engine_steps()
    for n in range(1, 501):
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        if not ready:
            print(f"stopped {{n}} {{wf.is_completed()}}")
            sys.exit(0)
        ready[0].data.update(confirmed=True, comment="again")
        ready[0].run()
        wf.do_engine_steps()
    print("ran 500")
    """
)


def run_loop(patched: bool) -> str:
    code = (
        "import engine.spiff.adapter; engine.spiff.adapter.install()\n" if patched else ""
    ) + STOCK_LOOP
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_stock_spiffworkflow_loop_stops_and_claims_completion():
    # The defect we fix: about 333 rounds of a three-task loop, then "completed".
    result = run_loop(patched=False)
    assert result.startswith("stopped")
    rounds, completed = result.split()[1:]
    assert 300 < int(rounds) < 400 and completed == "True"


def test_patched_loop_keeps_going_in_memory():
    assert run_loop(patched=True) == "ran 500"


def test_loop_runs_a_thousand_rounds_through_the_database(runtime, users):
    runtime.deploy(fixture_files("loop_flow.bpmn"))
    number = runtime.start_case("loop_flow", {"rounds": 0}, prevalidated=True).number
    started = time.perf_counter()
    timings = []
    for _ in range(1000):
        task = runtime.list_tasks(case=number, status="open")[0]
        t0 = time.perf_counter()
        runtime.complete_task(task.id, {"confirmed": True, "comment": "again"}, "alice")
        timings.append(time.perf_counter() - t0)
    case = runtime.get_case(number)
    assert case.status == "running"
    assert case.data["rounds"] == 1000
    assert [t.element_id for t in case.open_tasks] == ["poll"]
    print(
        f"\n1,000 loop rounds in {time.perf_counter() - started:.1f}s; completion at round 10:"
        f" {timings[9] * 1000:.1f} ms, round 1000: {timings[-1] * 1000:.1f} ms"
    )
    # And the loop still ends when asked to.
    task = runtime.list_tasks(case=number, status="open")[0]
    assert (
        runtime.complete_task(task.id, {"confirmed": True, "comment": "done"}, "alice").status
        == "completed"
    )


def test_compaction_keeps_parallel_joins_and_boundary_timers_working(runtime, users, clock):
    """80 rounds of a loop with a parallel split/join and a boundary timer, long enough for
    the finished history to be compacted many times."""
    import json

    from engine.worker.timers import fire_due_timers

    runtime.deploy(fixture_files("loop_parallel.bpmn"))
    number = runtime.start_case("loop_parallel", {"rounds": 0, "late": 0}, prevalidated=True).number
    sizes = []
    for n in range(80):
        if n % 10 == 9:
            clock.advance(hours=1)
            assert fire_due_timers(runtime).fired == 1  # the poll deadline interrupts
        else:
            poll = runtime.list_tasks(case=number, status="open")[0]
            assert poll.element_id == "poll"
            runtime.complete_task(poll.id, {"confirmed": True}, "alice")
        task_b = runtime.list_tasks(case=number, status="open")[0]
        assert task_b.element_id == "task_b"
        case = runtime.complete_task(task_b.id, {"confirmed": True}, "bob")
        assert case.data["rounds"] == n + 1
        with runtime.db.read() as session:
            from engine.store.tables import Case

            state = session.query(Case.state).filter(Case.number == number).scalar()
        sizes.append(len(json.loads(state)["tasks"]))
    assert case.status == "completed"
    assert case.data["late"] == 8 and "seen" in case.data
    assert max(sizes) < 200, sizes  # compacted, not growing with the rounds
