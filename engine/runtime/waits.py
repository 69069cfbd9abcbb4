"""What a case's SpiffWorkflow state waits on: its timers with their due times, the messages
it listens for, the tasks that are still going and the data they hold.

Read-only: the projection (engine.runtime.projection) writes rows from these answers, and the
step and the case views read them for the case's view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.util.task import TaskState

from engine.spiff import adapter as spiff


def timer_due(task: Any) -> datetime | None:
    """When a waiting timer task falls due, from what SpiffWorkflow stored on it."""
    value = spiff.event_value(task)
    if value is None:
        return None
    if isinstance(value, dict):
        if value.get("cycles") == 0 or not value.get("next"):
            return None
        value = value["next"]
    return TimerEventDefinition.get_datetime(value)


def catch_definitions(task: Any) -> list[Any]:
    """The event definitions a waiting catch task listens for (an event-based gateway or a
    multiple event holds several)."""
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition] if definition is not None else []


def timer_definition(task: Any) -> TimerEventDefinition | None:
    return next((d for d in catch_definitions(task) if isinstance(d, TimerEventDefinition)), None)


def caught_element(task: Any, definition: Any) -> tuple[str | None, str | None]:
    """The id and name of the diagram element that waits for `definition` (a timer or a
    message, one of catch_definitions(task)). An event-based gateway waits on its following
    events' definitions itself (SpiffWorkflow moves them onto the gateway, in the order of its
    outputs): there the definition belongs to the catch event after the gateway, which is what
    the diagram and the supervisor call it."""
    spec = task.task_spec
    gathered = getattr(spec, "event_definition", None)
    if isinstance(spec, EventBasedGateway) and isinstance(gathered, MultipleEventDefinition):
        for index, candidate in enumerate(gathered.event_definitions):
            if candidate is definition and index < len(spec.outputs):
                event = spec.outputs[index]
                return event.bpmn_id or spec.bpmn_id, event.bpmn_name or spec.bpmn_name
    return spec.bpmn_id, spec.bpmn_name


@dataclass(frozen=True)
class _EventStart:
    """The start event of an event sub-process, in place of a waiting task: the sub-process
    begins only when its message arrives."""

    task_spec: Any


def waiting_messages(workflow: BpmnWorkflow) -> list[tuple[Any, Any]]:
    """(task, message definition) for every message the case waits for, including the
    messages that start one of its event sub-processes (then `task` holds only the start
    event's `task_spec`)."""
    found = [
        (task, definition)
        for task in list(workflow.event_manager.tasks.values())
        for definition in catch_definitions(task)
        if isinstance(definition, MessageEventDefinition)
    ]
    if workflow.is_completed():
        return found
    start = workflow.spec.start
    for name in getattr(start, "trigger_specs", ()):
        sub = workflow.subprocess_specs.get(name)
        for event in getattr(sub, "bpmn_start_events", ()) if sub is not None else ():
            start_event = _EventStart(event)
            for definition in catch_definitions(start_event):
                if isinstance(definition, MessageEventDefinition):
                    found.append((start_event, definition))
    return found


def message_waits(workflow: BpmnWorkflow) -> set[tuple[str, str]]:
    """(element id, message name) for every message a waiting task of the case listens for:
    message catch events, receive tasks, the message events after an event-based gateway and
    on a boundary. Unlike waiting_messages(), not the messages that would start an event
    sub-process: those say what the case could receive, not where it waits (as the timer rows
    hold no timer start events of event sub-processes either)."""
    found = set()
    for task in list(workflow.event_manager.tasks.values()):
        if not task.has_state(TaskState.WAITING):
            continue
        for definition in catch_definitions(task):
            if isinstance(definition, MessageEventDefinition) and definition.name:
                element_id, _ = caught_element(task, definition)
                if element_id:  # as long as their columns (names are not checked on deploy)
                    found.add((element_id[:200], definition.name[:300]))
    return found


def waiting_timers(workflow: BpmnWorkflow) -> list[tuple[Any, datetime]]:
    """Every timer the case waits on, with its due time, earliest first."""
    found = []
    for task in list(workflow.event_manager.tasks.values()):
        if timer_definition(task) is None:
            continue
        if not task.has_state(TaskState.WAITING):
            continue
        due = timer_due(task)
        if due is not None:
            found.append((task, due))
    found.sort(key=lambda pair: pair[1])
    return found


PENDING = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


def pending_tasks(workflow: BpmnWorkflow) -> list[Any]:
    """The tasks that are still going (ready, waiting, started, or failed)."""
    return workflow.get_tasks(state=PENDING)


def case_data(workflow: BpmnWorkflow, pending: list[Any] | None = None) -> dict[str, Any]:
    """The case's data as the tasks that are still going hold it (newest wins), or as the last
    task left it when nothing is going any more. `pending`: pending_tasks(workflow) if the
    caller has it already."""
    if pending is None:
        pending = pending_tasks(workflow)
    if not pending:
        task = workflow.last_task or workflow.task_tree
        return dict(task.data)
    data: dict[str, Any] = {}
    for task in sorted(pending, key=lambda t: t.last_state_change):
        data.update(task.data)
    return data
