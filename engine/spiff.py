"""Everything that reaches into SpiffWorkflow's internals lives here.

Three stock defects are mended in this module (see SPIFFWORKFLOW_NOTES.md):
- the task iterator stops at depth 1000, so long loops silently "complete": the limit is lifted;
- timers read the wall clock when the engine happens to process them: they read the engine's
  clock instead, which the runtime sets to the logical time of the step (a fired timer's due
  time), so a late worker does not shift later timers;
- naive timer dates use the server's zone: they use the company's zone.
The third defect, unrestricted eval/exec, is closed by engine.scripts.

It also provides the serializer that stores a case without its spec (the spec lives once on
its process version) and puts the cached spec back when a case is loaded.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.bpmn.util import task as bpmn_task_util
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
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


def _lift_depth_limit() -> None:
    for cls in (task_util.TaskIterator, bpmn_task_util.BpmnTaskIterator):
        defaults = list(cls.__init__.__defaults__)
        # max_depth is the second keyword of both signatures (after end_at_spec).
        defaults[1] = sys.maxsize
        cls.__init__.__defaults__ = tuple(defaults)


def _due_now(due: datetime) -> bool:
    # Stock compares with "<": a timer due exactly now would wait for the next refresh.
    return due <= _EngineDatetime.now(UTC)


def _time_date_has_fired(self: Any, my_task: Any) -> bool:
    event_value = my_task._get_internal_data("event_value")
    if event_value is None:
        event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        my_task._set_internal_data(event_value=event_value)
    if _due_now(timer_module.TimerEventDefinition.parse_time_or_duration(event_value)):
        my_task._set_internal_data(event_fired=True)
    return my_task._get_internal_data("event_fired", False)


def _duration_has_fired(self: Any, my_task: Any) -> bool:
    event_value = my_task._get_internal_data("event_value")
    if event_value is None:
        expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        parsed = timer_module.TimerEventDefinition.parse_iso_duration(expression)
        start = _EngineDatetime.now(UTC)
        event_value = (
            start + timer_module.TimerEventDefinition.get_timedelta_from_start(parsed, start)
        ).isoformat()
        my_task._set_internal_data(event_value=event_value)
    if _due_now(timer_module.TimerEventDefinition.get_datetime(event_value)):
        my_task._set_internal_data(event_fired=True)
    return my_task._get_internal_data("event_fired", False)


timer_module.datetime = _EngineDatetime
timer_module.TimeDateEventDefinition.has_fired = _time_date_has_fired
timer_module.DurationTimerEventDefinition.has_fired = _duration_has_fired
_lift_depth_limit()


class _CaseStateConverter(BpmnWorkflowConverter):
    """Serializes a top-level workflow without its specs; restores it with given spec objects."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs", {})
        if isinstance(spec, dict):  # a full serialization (not produced by us) still loads
            spec = self.registry.restore(spec)
            subprocess_specs = self.mapping_from_dict(subprocess_specs)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        from uuid import UUID

        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


@functools.lru_cache(maxsize=16384)
def _uuid(text: str) -> UUID:
    return UUID(text)


@functools.lru_cache(maxsize=16384)
def _uuid_text(value: UUID) -> str:
    return str(value)


class _TaskConverter(TaskConverter):
    """SpiffWorkflow's task converter, writing and reading exactly its format, at about half
    the cost: the parent is looked up once instead of four times, and the ids (each written and
    read up to three times: as a task, as a parent, as a child) are converted once."""

    def to_dict(self, task: Any) -> dict[str, Any]:
        parent = task.parent
        if parent is None:
            data, delta = task.data, {}
        else:
            mine, theirs = task.data, parent.data
            data = {}
            delta = {
                "updates": {k: v for k, v in mine.items() if k not in theirs or v != theirs[k]},
                "deletions": [k for k in theirs if k not in mine],
            }
        return {
            "id": _uuid_text(task.id),
            "parent": _uuid_text(task._parent) if parent is not None else None,
            "children": [_uuid_text(child) for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(task.internal_data),
            "data": data,
            "delta": delta,
        }

    def from_dict(self, dct: dict[str, Any], workflow: Any) -> Any:
        registry = self.registry
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=_uuid(dct["id"]))
        parent_id = dct["parent"]
        task._parent = _uuid(parent_id) if parent_id is not None else None
        task._children = [_uuid(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        internal = dct["internal_data"]
        task.internal_data = registry.restore(internal) if internal else {}
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        parent = task.parent if delta else None
        if parent is not None:
            data = DeepMerge.merge({}, parent.data)
            updates = delta.get("updates", {})
            if updates:
                data.update(registry.restore(updates))
            for key in delta.get("deletions", {}):
                if key in data:
                    del data[key]
        else:
            data = registry.restore(dct["data"])
        task.data = data
        return task


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _CaseStateConverter
    config[Task] = _TaskConverter
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


SERIALIZER = _make_serializer()
SERIALIZER_VERSION = SERIALIZER.VERSION


def dump_specs(spec: Any, subprocess_specs: dict[str, Any]) -> str:
    """The parsed process spec and the specs its call activities need, as JSON."""
    registry = SERIALIZER.registry
    return json.dumps(
        {
            "spec": registry.convert(spec),
            "subprocess_specs": {name: registry.convert(s) for name, s in subprocess_specs.items()},
        },
        sort_keys=True,
        ensure_ascii=False,
    )


def load_specs(text: str) -> tuple[Any, dict[str, Any]]:
    registry = SERIALIZER.registry
    dct = json.loads(text)
    return (
        registry.restore(dct["spec"]),
        {name: registry.restore(s) for name, s in dct["subprocess_specs"].items()},
    )


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


_stock_copy_data = CallActivity.copy_data
CallActivity.copy_data = _copy_data_with_defaults


def dump_case_state(workflow: BpmnWorkflow) -> str:
    return SERIALIZER.serialize_json(workflow)


def load_case_state(
    text: str, spec: Any, subprocess_specs: dict[str, Any], script_engine: Any
) -> BpmnWorkflow:
    dct = json.loads(text)
    SERIALIZER.migrate(dct)
    dct["spec"] = spec
    dct["subprocess_specs"] = subprocess_specs
    workflow = SERIALIZER.from_dict(dct)
    workflow.script_engine = script_engine
    return workflow


def compact(workflow: BpmnWorkflow, threshold: int = 60, keep_depth: int = 8) -> int:
    """Drop finished history that nothing can reach again, so a long loop costs the same in
    round 1,000 as in round 10. Returns how many tasks were removed.

    SpiffWorkflow keeps every finished task and walks the whole tree on every step. Kept are:
    every unfinished task, its `keep_depth` nearest ancestors and their other children (joins
    and boundary events look a few levels up and across), the root, and every task that owns a
    subprocess. Removed are finished tasks with one child, whose child is spliced onto their
    parent, and finished leaves. Cases smaller than `threshold` tasks are left untouched (their
    full history stays available, e.g. for reset).
    """
    if len(workflow.tasks) < threshold or workflow.is_completed():
        return 0
    removed = _compact_tree(workflow, workflow, keep_depth)
    for subprocess in list(workflow.subprocesses.values()):
        if len(subprocess.tasks) >= threshold:
            removed += _compact_tree(subprocess, workflow, keep_depth)
    return removed


def _compact_tree(wf: Any, top: BpmnWorkflow, keep_depth: int) -> int:
    from SpiffWorkflow.util.task import TaskState

    tasks = wf.tasks
    protected = {wf.task_tree.id}
    for task in tasks.values():
        if task.has_state(TaskState.FINISHED_MASK):
            continue
        protected.add(task.id)
        node, depth = task.parent, 0
        while node is not None and depth < keep_depth:
            protected.add(node.id)
            node, depth = node.parent, depth + 1
    near = {child for pid in protected if pid in tasks for child in tasks[pid]._children}
    removed = 0
    for task in list(tasks.values()):
        tid = task.id
        if tid in protected or tid in near or tid in top.subprocesses:
            continue
        if not task.has_state(TaskState.FINISHED_MASK) or task._parent is None:
            continue
        parent = tasks.get(task._parent)
        if parent is None:
            continue
        if len(task._children) == 0:
            parent._children = [c for c in parent._children if c != tid]
        elif len(task._children) == 1:
            child = tasks[task._children[0]]
            child._parent = parent.id
            parent._children = [child.id if c == tid else c for c in parent._children]
        else:
            continue
        del tasks[tid]
        removed += 1
    if wf.last_task is not None and wf.last_task.id not in tasks:
        wf.last_task = None
    return removed
