"""The case's SpiffWorkflow state as stored text: SpiffWorkflow's serializer for its own
structures, Caseflow's data codec (engine.core.datacodec) for every piece of case data, so no
stored value is ever turned back into an object."""

from __future__ import annotations

import functools
import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnEventConverter,
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from engine.core import datacodec
from engine.spiff.patches import attach_event_subprocesses

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
    spec = registry.restore(dct["spec"])
    subprocess_specs = {name: registry.restore(s) for name, s in dct["subprocess_specs"].items()}
    for each in (spec, *subprocess_specs.values()):
        attach_event_subprocesses(each)
    return spec, subprocess_specs


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
