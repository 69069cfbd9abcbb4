"""Everything that reaches into SpiffWorkflow's internals lives here.

Three stock defects are mended in this module (see SPIFFWORKFLOW_NOTES.md):
- the task iterator stops at depth 1000, so long loops silently "complete": the limit is lifted;
- timers read the wall clock when the engine happens to process them: they read the engine's
  clock instead, which the runtime sets to the logical time of the step (a fired timer's due
  time), so a late worker does not shift later timers;
- naive timer dates use the server's zone: they use the company's zone.
The third defect, unrestricted eval/exec, is closed by engine.spiff.scripts.

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
    BpmnEventConverter,
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity
from SpiffWorkflow.bpmn.util import task as bpmn_task_util
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util import task as task_util
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from engine.core import datacodec

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


# Case data never passes through SpiffWorkflow's registry, which rebuilds any dict with a
# "typename" key into a live object (SPIFFWORKFLOW_NOTES.md): task data, workflow data,
# correlations, event payloads and the data-carrying parts of a task's internal data are
# written and read by engine.core.datacodec. The registry keeps only SpiffWorkflow's own structures.

# Internal-data keys that hold SpiffWorkflow objects (a multiple event's caught events, whose
# payloads are data again); every other key holds data (timer values, message payloads,
# multi-instance items, counters).
_SPIFF_INTERNAL = frozenset({"seen_events"})


def _internal_to_dict(registry: Any, internal: dict[str, Any]) -> dict[str, Any]:
    return {
        key: registry.convert(value) if key in _SPIFF_INTERNAL else datacodec.encode(value, key)
        for key, value in internal.items()
    }


def _internal_from_dict(registry: Any, dct: dict[str, Any]) -> dict[str, Any]:
    # Data values were decoded while the text was parsed (datacodec.object_hook).
    return {
        key: registry.restore(value) if key in _SPIFF_INTERNAL else value
        for key, value in dct.items()
    }


def _workflow_data_to_dict(dct: dict[str, Any], workflow: Any) -> None:
    dct["data"] = datacodec.encode(workflow.data, "workflow data")
    dct["correlations"] = datacodec.encode(workflow.correlations, "correlations")


class _DataAttributes:
    """Workflow data as parsed (already decoded by datacodec), not through the registry."""

    def set_default_attributes(self, workflow: Any, dct: dict[str, Any]) -> None:
        data = dct.pop("data", {})
        dct["data"] = {}
        super().set_default_attributes(workflow, dct)  # type: ignore[misc]
        workflow.data = data


class _CaseStateConverter(_DataAttributes, BpmnWorkflowConverter):
    """Serializes a top-level workflow without its specs; restores it with given spec objects."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        _workflow_data_to_dict(dct, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs", {})
        if isinstance(spec, dict):
            raise ValueError("a case state must not carry its own process spec")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class _SubWorkflowConverter(_DataAttributes, BpmnSubWorkflowConverter):
    """A subprocess's data and correlations through datacodec, like the top workflow's."""

    def to_dict(self, workflow: Any) -> dict[str, Any]:
        dct = super().to_dict(workflow)
        _workflow_data_to_dict(dct, workflow)
        return dct


class _EventConverter(BpmnEventConverter):
    """A pending or caught event: its definition through the registry, its payload and
    correlations (data) through datacodec."""

    def to_dict(self, event: Any) -> dict[str, Any]:
        return {
            "event_definition": self.registry.convert(event.event_definition),
            "payload": datacodec.encode(event.payload, "event payload"),
            "correlations": datacodec.encode(event.correlations or {}, "event correlations"),
        }

    def from_dict(self, dct: dict[str, Any]) -> Any:
        return self.target_class(
            self.registry.restore(dct["event_definition"]),
            dct["payload"],
            dct["correlations"],
        )


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
            "internal_data": _internal_to_dict(self.registry, task.internal_data),
            "data": datacodec.encode(data, "data"),
            "delta": datacodec.encode(delta, "data") if delta else delta,
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
        task.internal_data = _internal_from_dict(registry, internal) if internal else {}
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        parent = task.parent if delta else None
        if parent is not None:
            data = DeepMerge.merge({}, parent.data)
            updates = delta.get("updates", {})
            if updates:
                data.update(updates)
            for key in delta.get("deletions", {}):
                if key in data:
                    del data[key]
        else:
            data = dct["data"]
        task.data = data
        return task


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _CaseStateConverter
    config[BpmnSubWorkflow] = _SubWorkflowConverter
    config[BpmnEvent] = _EventConverter
    config[Task] = _TaskConverter
    return BpmnWorkflowSerializer(
        BpmnWorkflowSerializer.configure(config), version=SERIALIZER_VERSION
    )


# SpiffWorkflow's format 1.5 with case data written by engine.core.datacodec. States of the plain
# 1.5 format (registry-encoded data) are converted on load; migration 0009 converts them all.
SERIALIZER_VERSION = "1.5+cf.data.1"
LEGACY_VERSION = "1.5"
SERIALIZER = _make_serializer()


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
    """The case's state as JSON text, without its specs. Raises datacodec.DataError when the
    case's data holds a value that is not data."""
    return SERIALIZER.serialize_json(workflow)


def parse_case_state(text: str) -> dict[str, Any]:
    """A stored state as dicts, its data decoded by datacodec (and nothing else rebuilt);
    a state of the older format is converted first."""
    try:
        dct = json.loads(text, object_hook=datacodec.object_hook)
        version = dct.get("serializer_version")
    except datacodec.DataError:
        version = json.loads(text).get("serializer_version")
        if version == SERIALIZER_VERSION:
            raise
    if version == SERIALIZER_VERSION:
        dct.pop("serializer_version")
        return dct
    if version != LEGACY_VERSION:
        raise ValueError(f"unknown case state format {version!r}")
    dct = json.loads(upgrade_legacy_state(text), object_hook=datacodec.object_hook)
    dct.pop("serializer_version", None)
    return dct


def upgrade_legacy_state(text: str) -> str:
    """A state of the plain 1.5 format rewritten in this one (see datacodec.upgrade_legacy)."""
    dct = json.loads(text)
    datacodec.upgrade_legacy_state(dct)
    dct["serializer_version"] = SERIALIZER_VERSION
    return json.dumps(dct, ensure_ascii=False)


def load_case_state(
    text: str, spec: Any, subprocess_specs: dict[str, Any], script_engine: Any
) -> BpmnWorkflow:
    dct = parse_case_state(text)
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


# ----- SpiffWorkflow's private task-tree operations: used only through these ----------------


def event_value(task: Any) -> Any:
    """What a catching event stored on its task (a timer's due time or cycle)."""
    return task._get_internal_data("event_value")


def make_ready(task: Any) -> None:
    """Put a task (one stopped in error) back to READY so the next run executes it again."""
    task._set_state(TaskState.READY)


def remove_task(wf: Any, task_id: Any) -> None:
    """Drop a task and its subtree from the workflow."""
    wf._remove_task(task_id)


def predict(task: Any, mask: int) -> None:
    """Let the task's spec predict its children again (after a spec change)."""
    task.task_spec._predict(task, mask=mask)


def splice_out(wf: Any, task: Any) -> None:
    """Remove a finished task from the tree, its children taking its place under its parent."""
    parent = task.parent
    position = parent._children.index(task.id)
    parent._children[position : position + 1] = list(task._children)
    for child in task.children:
        child._parent = parent.id
    task._children = []
    del wf.tasks[task.id]
