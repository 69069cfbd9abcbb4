"""Changes Caseflow makes to SpiffWorkflow's behaviour, installed by one explicit call (install(),
made by the Runtime): timers read the engine's clock and fire when due (not one refresh later),
naive timer dates are in the company's zone, the task iterators have no depth limit, a
called process's defaults fill what its caller did not give, event sub-processes started
by a message or signal no longer change the shared spec, and a parallel join in a loop does
not count an earlier round's branches. Importing this module changes
nothing."""

from __future__ import annotations

import contextvars
import copy
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.control import BpmnStartTask
from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.bpmn.util import task as bpmn_task_util
from SpiffWorkflow.util import task as task_util
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

_engine_now: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "caseflow_engine_now", default=None
)


class _EngineDatetime(datetime):
    """`datetime` as seen by SpiffWorkflow's timer module: `now()` is the engine's clock."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        current = _engine_now.get()
        if current is None:
            return datetime.now(tz)
        return current.astimezone(tz) if tz is not None else current


@contextmanager
def engine_time(now: datetime) -> Iterator[None]:
    """Run SpiffWorkflow code with `now` as the current instant (aware datetime)."""
    token = _engine_now.set(now.astimezone(UTC))
    try:
        yield
    finally:
        _engine_now.reset(token)


def engine_now() -> datetime:
    current = _engine_now.get()
    return current if current is not None else datetime.now(UTC)


def set_company_timezone(name: str) -> None:
    """Naive timer dates are read in the company's zone, not the server's."""
    timer_module.LOCALTZ = ZoneInfo(name)


def company_timezone() -> tzinfo:
    """The zone naive timer dates are read in (set_company_timezone)."""
    return timer_module.LOCALTZ


def _lift_depth_limit() -> None:
    for cls in (task_util.TaskIterator, bpmn_task_util.BpmnTaskIterator):
        defaults = list(cls.__init__.__defaults__)
        # max_depth is the second keyword of both signatures (after end_at_spec).
        defaults[1] = sys.maxsize
        cls.__init__.__defaults__ = tuple(defaults)


def _due_now(due: datetime) -> bool:
    # Stock compares with "<": a timer due exactly now would wait for the next refresh.
    return due <= _EngineDatetime.now(UTC)


def _timer_value(self: Any, my_task: Any, kind: str) -> str:
    """The timer's expression evaluated, as the ISO 8601 text SpiffWorkflow parses. A case
    variable may hold a date or date-time (a naive one is in the company's zone) as well as a
    text; anything that does not parse puts the case in error, naming the timer."""
    value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
    if kind == "date" and isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timer_module.LOCALTZ)
        return value.isoformat()
    if kind == "date" and isinstance(value, date):
        return datetime.combine(value, time(), timer_module.LOCALTZ).isoformat()
    if kind == "duration" and isinstance(value, timedelta):
        return f"PT{int(value.total_seconds())}S"
    text = value.strip() if isinstance(value, str) else None
    try:
        if text is None:
            raise ValueError
        if kind == "date":
            if text.upper().startswith("P"):
                raise ValueError  # a duration where a date belongs
            timer_module.TimerEventDefinition.parse_time_or_duration(text)
        elif kind == "duration":
            timer_module.TimerEventDefinition.parse_iso_duration(text)
        else:
            timer_module.TimerEventDefinition.parse_iso_recurring_interval(text)
    except Exception:
        shown = repr(value)[:80]
        raise WorkflowTaskException(
            f"timer {self.expression!r} gave {shown}, which is not an ISO 8601 {kind}",
            task=my_task,
        ) from None
    return text


def _time_date_has_fired(self: Any, my_task: Any) -> bool:
    event_value = my_task._get_internal_data("event_value")
    if event_value is None:
        event_value = _timer_value(self, my_task, "date")
        my_task._set_internal_data(event_value=event_value)
    if _due_now(timer_module.TimerEventDefinition.parse_time_or_duration(event_value)):
        my_task._set_internal_data(event_fired=True)
    return my_task._get_internal_data("event_fired", False)


def _duration_has_fired(self: Any, my_task: Any) -> bool:
    event_value = my_task._get_internal_data("event_value")
    if event_value is None:
        expression = _timer_value(self, my_task, "duration")
        parsed = timer_module.TimerEventDefinition.parse_iso_duration(expression)
        start = _EngineDatetime.now(UTC)
        event_value = (
            start + timer_module.TimerEventDefinition.get_timedelta_from_start(parsed, start)
        ).isoformat()
        my_task._set_internal_data(event_value=event_value)
    if _due_now(timer_module.TimerEventDefinition.get_datetime(event_value)):
        my_task._set_internal_data(event_fired=True)
    return my_task._get_internal_data("event_fired", False)


def set_called_defaults(
    subprocess_specs: dict[str, Any], defaults: dict[str, dict[str, Any]] | None
) -> None:
    """Give each called process spec its own "default:" properties (see _copy_data_with_
    defaults), as starting that process on its own would apply them."""
    for name, values in (defaults or {}).items():
        spec = subprocess_specs.get(name)
        if spec is not None:
            spec.caseflow_defaults = values


def _copy_data_with_defaults(self: Any, my_task: Any, subworkflow: Any) -> None:
    """A call activity hands the caller's data to the called process (SpiffWorkflow); the
    called process's own defaults then fill what the caller did not give."""
    _stock_copy_data(self, my_task, subworkflow)
    defaults = getattr(subworkflow.spec, "caseflow_defaults", None)
    if defaults:
        start = subworkflow.get_next_task(
            subworkflow.task_tree, skip_subprocesses=True, spec_name="Start"
        )
        for name, value in defaults.items():
            if name not in start.data:
                start.data[name] = copy.deepcopy(value)


def _cycle_complete(self: Any, my_task: Any) -> bool:
    """SpiffWorkflow's CycleTimerEventDefinition.cycle_complete with "due" meaning due at or
    before the engine's clock (stock: strictly before the wall clock, so a worker that runs the
    case at exactly the due time never saw a cycle timer due, and it never fired)."""
    event_value = my_task._get_internal_data("event_value")
    if event_value is None:
        expression = _timer_value(self, my_task, "cycle")
        cycles, start, duration = timer_module.TimerEventDefinition.parse_iso_recurring_interval(
            expression
        )
        event_value = {
            "cycles": cycles,
            "next": start.isoformat(),
            "duration": duration.total_seconds(),
        }
    ready = False
    if event_value["cycles"] != 0:
        next_event = datetime.fromisoformat(event_value["next"])
        if _due_now(next_event):
            event_value["next"] = (
                next_event + timedelta(seconds=event_value["duration"])
            ).isoformat()
            event_value["cycles"] -= 1
            ready = True
    else:
        my_task.internal_data.pop("event_value", None)
        my_task.internal_data["event_fired"] = True
    my_task._set_internal_data(event_value=event_value)
    return ready


def attach_event_subprocesses(spec: Any) -> None:
    """Give each event sub-process started by a message or signal its place in `spec` once,
    when the spec is loaded: started by its start event (an input, so the task may become
    ready) and leading to the process end (an output). It is deliberately not an output of the
    start: that would start it in every new case.

    SpiffWorkflow made these links only when the event first arrived (`trigger_wf`), by
    changing the spec: a spec loaded in another process lacked them ("No input task
    connected"), and the start's new output made every later case of the same loaded spec
    run the sub-process's branch, so those cases never completed."""
    start = getattr(spec, "start", None)
    if not isinstance(start, BpmnStartTask):
        return
    for name in start.trigger_specs:
        sub = spec.task_specs.get(name)
        if sub is None:
            continue
        if start.name not in sub._inputs:
            sub._inputs.append(start.name)
        if spec.end.name not in sub._outputs:
            sub.connect(spec.end)


def _trigger_wf(self: Any, my_task: Any, spec_name: str) -> Any:
    """BpmnStartTask.trigger_wf without changing the shared spec (see above)."""
    attach_event_subprocesses(self._wf_spec)
    child = my_task._add_child(self._wf_spec.task_specs[spec_name], TaskState.FUTURE)
    child.triggered = True
    child.task_spec._update(child)
    return child.id


# A join task whose arrival a join has already used (it fired, or it was merged into the one
# that fired). SpiffWorkflow recognised earlier rounds only by ancestry, so in a loop the
# cancelled join tasks of round 1's other branches counted as arrivals in round 2: a nested
# parallel diagram went on with a branch still open. History compaction (engine.spiff.adapter)
# keeps every join task that is not consumed, with its parent (the branch it stands for).
JOIN_CONSUMED = "caseflow_join_consumed"


def join_consumed(task: Any) -> bool:
    return bool(task._get_internal_data(JOIN_CONSUMED, False))


def _parallel_threshold(self: Any, my_task: Any) -> bool:
    """ParallelGateway._check_threshold_unstructured, not counting consumed join tasks."""
    waiting_inputs = set(self.inputs)

    def remove_ancestor(task: Any) -> None:
        if task.task_spec in waiting_inputs:
            waiting_inputs.remove(task.task_spec)
        elif task.parent is not None:
            remove_ancestor(task.parent)

    for task in my_task.workflow.get_tasks(spec_name=self.name):
        if task is not my_task and join_consumed(task):
            continue
        if task.is_descendant_of(my_task):
            remove_ancestor(task)  # a first round: this task is reached only after my_task
        elif my_task.is_descendant_of(task):
            continue  # an earlier round
        elif task.parent.state == TaskState.COMPLETED and task.parent.task_spec in waiting_inputs:
            waiting_inputs.remove(task.parent.task_spec)
    return len(waiting_inputs) == 0


def _join_run_hook(self: Any, my_task: Any) -> bool:
    """UnstructuredJoin._run_hook: merge the data of the branches that arrived for this firing
    (not of earlier rounds) and mark them, and this task, consumed."""
    others = [
        t
        for t in my_task.workflow.tasks.values()
        if t.task_spec == self
        and t is not my_task
        and t.has_state(TaskState.FINISHED_MASK)
        and not join_consumed(t)
        and not my_task.is_descendant_of(t)
    ]
    for task in sorted(others, key=lambda t: t.last_state_change):
        DeepMerge.merge(my_task.data, task.parent.data)
        if task.has_state(TaskState.COMPLETED):
            task._drop_children(force=True)
        task._set_internal_data(**{JOIN_CONSUMED: True})
    my_task._set_internal_data(**{JOIN_CONSUMED: True})
    my_task._inherit_data()
    return True


_installed = False


def install() -> None:
    """Install the changes above into SpiffWorkflow (once per process; later calls do
    nothing). The Runtime calls it before it runs any workflow."""
    global _installed, _stock_copy_data
    if _installed:
        return
    timer_module.datetime = _EngineDatetime
    timer_module.TimeDateEventDefinition.has_fired = _time_date_has_fired
    timer_module.DurationTimerEventDefinition.has_fired = _duration_has_fired
    timer_module.CycleTimerEventDefinition.cycle_complete = _cycle_complete
    BpmnStartTask.trigger_wf = _trigger_wf
    ParallelGateway._check_threshold_unstructured = _parallel_threshold
    UnstructuredJoin._run_hook = _join_run_hook
    _lift_depth_limit()
    _stock_copy_data = CallActivity.copy_data
    CallActivity.copy_data = _copy_data_with_defaults
    _installed = True


def installed() -> bool:
    return _installed


_stock_copy_data: Any = None
