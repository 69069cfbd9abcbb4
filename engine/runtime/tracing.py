"""A runtime that notes the way its cases go: every element a case reaches, in order, with the
engine's time at that moment (a timer's own due time when it fires). The dry run
(engine.casework.dryrun) draws this path on the diagram; the audit trail only holds the steps
people and timers took, not the gateways and scripts between them.

An element is noted when it completes or fails, when a user task opens (READY), and when a
sub-process or call activity starts; a user task or sub-process is noted again when it
completes. A waiting catch event (a timer, a message) counts when it fires, not while it
waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine.runtime.stepstate import StepState
from engine.runtime.verbs import Runtime
from engine.spiff import adapter as spiff

# How many elements one runtime notes at most (a loop that runs away stops being noted).
MAX_NOTED = 5_000


@dataclass(frozen=True)
class Reached:
    element_id: str
    name: str | None
    kind: str  # "completed", "opened" (a user task), "started" (a sub-process), "error"
    at: datetime  # engine time (UTC)
    case_id: int | None


class TracingRuntime(Runtime):
    """A Runtime whose `reached` lists what its cases reached (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reached: list[Reached] = []
        self._noted: set[Any] = set()

    def _run_engine(self, st: StepState, fn: Any) -> Any:
        try:
            return super()._run_engine(st, fn)
        finally:
            self._note(st)

    def _note(self, st: StepState) -> None:
        at = spiff.engine_now()
        workflow = st.workflow
        fresh: list[tuple[float, int, Any, str]] = []
        order = 0
        for wf in (workflow, *workflow.subprocesses.values()):
            for task in list(wf.tasks.values()):
                order += 1
                spec = task.task_spec
                if not getattr(spec, "bpmn_id", None):
                    continue  # SpiffWorkflow's own bookkeeping tasks
                kind = _kind(task, workflow)
                if kind is None or (task.id, kind) in self._noted:
                    continue
                fresh.append((task.last_state_change, order, task, kind))
        fresh.sort(key=lambda item: (item[0], item[1]))
        for _changed, _order, task, kind in fresh:
            self._noted.add((task.id, kind))
            if len(self.reached) >= MAX_NOTED:
                continue
            spec = task.task_spec
            self.reached.append(
                Reached(spec.bpmn_id, getattr(spec, "bpmn_name", None), kind, at, st.case.id)
            )


def _kind(task: Any, workflow: Any) -> str | None:
    if task.has_state(TaskState.COMPLETED):
        return "completed"
    if task.has_state(TaskState.ERROR):
        return "error"
    if task.has_state(TaskState.READY) and getattr(task.task_spec, "manual", False):
        return "opened"
    if task.has_state(TaskState.STARTED) and task.id in workflow.subprocesses:
        return "started"
    return None
