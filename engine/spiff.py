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
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions import timer as timer_module
from SpiffWorkflow.bpmn.util import task as bpmn_task_util
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util import task as task_util

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


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _CaseStateConverter
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
