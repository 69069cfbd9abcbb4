"""Process versions: what is deployed, how two versions differ, and moving running cases from
one version to another.

A deploy never touches running cases; `migrate_case` is the explicit move. It is allowed only
where nothing the case is doing right now would lose its meaning: every element the case is at
(an open user task, a waiting timer or message, a join waiting for its other branches) must
exist in the target version under the same id and with the same kind, and the case must be
running. Everything else (names, forms, conditions, later steps, steps already passed) may
change. The move happens in one transaction with the case's version counter, like any step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from lxml import etree
from SpiffWorkflow.bpmn.util.diff import diff_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from engine.core.errors import Conflict, InvalidState, NotFound
from engine.core.status import ACTIVE_CASE, ACTIVE_TASK, CaseStatus, TaskStatus
from engine.definitions.deploy import Deployed, latest_forms
from engine.definitions.sources import (
    BPMN_NS,
    CAMUNDA_NS,
    SPIFF_NS,
    DefinitionError,
    Problem,
    SourceFile,
)
from engine.definitions.validation import validate
from engine.runtime.projection import project
from engine.spiff import adapter as spiff
from engine.spiff.xmlsafe import UnsafeXML, parse_xml
from engine.store.audit import record
from engine.store.tables import Case, Database, Form, ProcessVersion, Task

# ----- what is deployed -----------------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    key: str
    version: int
    name: str
    deployed_by: str | None
    deployed_at: datetime
    running_cases: int
    filename: str | None


@dataclass(frozen=True)
class ProcessInfo:
    key: str
    name: str
    versions: list[VersionInfo] = field(default_factory=list)  # newest first

    @property
    def latest(self) -> VersionInfo:
        return self.versions[0]


def _bpmn_filename(row: ProcessVersion) -> str | None:
    own = next(
        (s for s in row.sources if s["kind"] == "bpmn" and f'id="{row.key}"' in s["text"]), None
    )
    own = own or next((s for s in row.sources if s["kind"] == "bpmn"), None)
    return own["filename"] if own else None


def list_processes(db: Database) -> list[ProcessInfo]:
    """Every deployed process with its versions (newest first) and how many cases of each
    version are still running (or stopped in error)."""
    with db.read() as session:
        running = dict(
            session.execute(
                select(Case.process_version_id, func.count())
                .where(Case.status.in_(ACTIVE_CASE))
                .group_by(Case.process_version_id)
            ).all()
        )
        rows = session.scalars(
            select(ProcessVersion).order_by(ProcessVersion.key, ProcessVersion.version.desc())
        ).all()
        processes: dict[str, ProcessInfo] = {}
        for row in rows:
            info = processes.setdefault(row.key, ProcessInfo(row.key, row.name))
            info.versions.append(
                VersionInfo(
                    row.key,
                    row.version,
                    row.name,
                    row.deployed_by,
                    row.deployed_at,
                    running.get(row.id, 0),
                    _bpmn_filename(row),
                )
            )
    return list(processes.values())


def get_process(db: Database, key: str) -> ProcessInfo:
    """One deployed process with its versions; NotFound when there is none."""
    found = next((p for p in list_processes(db) if p.key == key), None)
    if found is None:
        raise NotFound(f"no deployed process {key!r}")
    return found


def companion_files(db: Database, filename: str) -> list[SourceFile]:
    """The other files deployed together with `filename` (DMN tables, called processes), each
    as last deployed, so that one edited BPMN file validates and deploys as it would with its
    whole folder. Files that are unchanged deploy as no-ops."""
    with db.read() as session:
        rows = session.scalars(select(ProcessVersion).order_by(ProcessVersion.id.desc())).all()
    newest = next((r for r in rows if any(s["filename"] == filename for s in r.sources)), None)
    if newest is None:
        return []
    files = []
    for source in newest.sources:
        if source["filename"] == filename:
            continue
        latest = next(
            s for r in rows for s in r.sources if s["filename"] == source["filename"]
        )  # the newest deployed text of that file
        files.append(SourceFile(source["filename"], latest["text"].encode("utf-8")))
    return files


def process_keys_in(xml: str) -> list[str]:
    """The ids of the processes a BPMN text defines (empty when it cannot be read)."""
    try:
        root = parse_xml(xml.encode("utf-8"), 50_000_000)
    except (UnsafeXML, etree.XMLSyntaxError):
        return []
    return [p.get("id") for p in root.findall(f"{{{BPMN_NS}}}process") if p.get("id")]


def check_diagram(runtime: Any, filename: str, xml: str) -> list[Problem]:
    """Validate one edited BPMN file as deploy would (with the files deployed beside it and
    the forms already deployed); an empty list means it can be deployed."""
    files = [SourceFile(filename, xml.encode("utf-8")), *companion_files(runtime.db, filename)]
    known = {name: form.schema for name, form in deployed_forms(runtime.db).items()}
    try:
        validate(files, runtime.settings, known)
    except DefinitionError as exc:
        return exc.problems
    return []


def deploy_diagram(runtime: Any, filename: str, xml: str, actor: str | None) -> list[Deployed]:
    """Deploy one edited BPMN file; returns what happened to the processes it defines.
    Raises DefinitionError like any deploy."""
    files = [SourceFile(filename, xml.encode("utf-8")), *companion_files(runtime.db, filename)]
    keys = set(process_keys_in(xml))
    return [d for d in runtime.deploy(files, actor=actor) if d.kind == "process" and d.key in keys]


def form_users(db: Database, name: str) -> list[tuple[str, int, str]]:
    """(process, version, element id) of the user tasks whose newest process version uses
    form `name`."""
    users = []
    for process in list_processes(db):
        with db.read() as session:
            row = _version_row(session, process.key, process.latest.version)
        for element_id, meta in sorted((row.task_meta or {}).items()):
            if meta.get("form") == name:
                users.append((process.key, row.version, element_id))
    return users


def deployed_forms(db: Database) -> dict[str, Form]:
    """The newest version of every deployed form, by file name."""
    with db.read() as session:
        return dict(sorted(latest_forms(session).items()))


def form_text(db: Database, name: str) -> str:
    """The newest deployed version of a form as JSON text to edit."""
    form = deployed_forms(db).get(name)
    if form is None:
        raise NotFound(f"no deployed form {name!r}")
    return json.dumps(form.schema, ensure_ascii=False, indent=2)


def blank_diagram(key: str, name: str, lane: str = "service_desk") -> str:
    """A minimal new process with its layout: one pool, one lane, start → user task → end."""
    k = escape(key)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="{SPIFF_NS}" id="defs_{k}" targetNamespace="http://caseflow.example/processes">
  <bpmn:collaboration id="collab_{k}">
    <bpmn:participant id="pool_{k}" name={quoteattr(name)} processRef="{k}" />
  </bpmn:collaboration>
  <bpmn:process id="{k}" name={quoteattr(name)} isExecutable="true">
    <bpmn:laneSet id="lanes_{k}">
      <bpmn:lane id="lane_1" name={quoteattr(lane)}>
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>first_task</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="開始">
      <bpmn:outgoing>flow_start</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="first_task" name="處理">
      <bpmn:incoming>flow_start</bpmn:incoming>
      <bpmn:outgoing>flow_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="end" name="完成">
      <bpmn:incoming>flow_end</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_start" sourceRef="start" targetRef="first_task" />
    <bpmn:sequenceFlow id="flow_end" sourceRef="first_task" targetRef="end" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_{k}">
    <bpmndi:BPMNPlane id="plane_{k}" bpmnElement="collab_{k}">
      <bpmndi:BPMNShape id="pool_{k}_di" bpmnElement="pool_{k}" isHorizontal="true">
        <dc:Bounds x="120" y="60" width="700" height="220" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="lane_1_di" bpmnElement="lane_1" isHorizontal="true">
        <dc:Bounds x="150" y="60" width="670" height="220" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="212" y="152" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="first_task_di" bpmnElement="first_task">
        <dc:Bounds x="320" y="130" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="end_di" bpmnElement="end">
        <dc:Bounds x="712" y="152" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_start_di" bpmnElement="flow_start">
        <di:waypoint x="248" y="170" />
        <di:waypoint x="320" y="170" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="flow_end_di" bpmnElement="flow_end">
        <di:waypoint x="420" y="170" />
        <di:waypoint x="712" y="170" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


# ----- comparing two versions -----------------------------------------------------------------

FLOW_NODES = {
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "task",
    "userTask",
    "manualTask",
    "scriptTask",
    "serviceTask",
    "sendTask",
    "receiveTask",
    "businessRuleTask",
    "callActivity",
    "subProcess",
    "transaction",
    "adHocSubProcess",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
}
# What a change is reported on, in this order.
ASPECTS = (
    "type",
    "event",
    "name",
    "lane",
    "source",
    "target",
    "condition",
    "default",
    "attached_to",
    "timer",
    "message",
    "script",
    "pre_script",
    "post_script",
    "form",
    "instructions",
    "called",
)


def _local(node: Any) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _ns(node: Any) -> str:
    return etree.QName(node).namespace if isinstance(node.tag, str) else ""


def _text(node: Any) -> str:
    return "".join(node.itertext()).strip()


def _first(node: Any, ns: str, *names: str) -> str | None:
    for child in node.iter():
        if _ns(child) == ns and _local(child) in names and child is not node:
            return _text(child)
    return None


def _describe(node: Any, lanes: dict[str, str]) -> dict[str, Any]:
    kind = _local(node)
    info: dict[str, Any] = {"type": kind, "name": (node.get("name") or "").strip()}
    if kind == "sequenceFlow":
        info["source"], info["target"] = node.get("sourceRef"), node.get("targetRef")
        info["condition"] = _first(node, BPMN_NS, "conditionExpression")
        return info
    info["lane"] = lanes.get(node.get("id"))
    events = [
        _local(c).removesuffix("EventDefinition")
        for c in node
        if _ns(c) == BPMN_NS and _local(c).endswith("EventDefinition")
    ]
    info["event"] = ", ".join(events) or None
    timers = [
        f"{_local(c)}: {_text(c)}"
        for c in node.iter()
        if _ns(c) == BPMN_NS and _local(c) in ("timeDuration", "timeDate", "timeCycle")
    ]
    info["timer"] = "; ".join(timers) or None
    messages = [c.get("messageRef") for c in node if _local(c) == "messageEventDefinition"]
    info["message"] = ", ".join(m for m in messages if m) or None
    info["default"] = node.get("default")
    info["attached_to"] = node.get("attachedToRef")
    info["script"] = _first(node, BPMN_NS, "script")
    info["pre_script"] = _first(node, SPIFF_NS, "preScript")
    info["post_script"] = _first(node, SPIFF_NS, "postScript")
    info["instructions"] = _first(node, SPIFF_NS, "instructionsForEndUser")
    info["called"] = node.get("calledElement") or _first(node, SPIFF_NS, "calledDecisionId")
    form = node.get(f"{{{CAMUNDA_NS}}}formKey")
    for prop in node.iter():
        if _local(prop) == "property" and prop.get("name") == "formJsonSchemaFilename":
            form = prop.get("value")
    info["form"] = form
    return info


def elements_of(xml: str) -> dict[str, dict[str, Any]]:
    """Flow nodes and sequence flows of a BPMN text by element id, with what the comparison
    looks at (name, kind, lane, source and target, condition, timer, script, form …)."""
    root = parse_xml(xml.encode("utf-8"), 50_000_000)
    lanes: dict[str, str] = {}
    for lane in root.iter(f"{{{BPMN_NS}}}lane"):  # nested lanes come later and win
        for ref in lane.findall(f"{{{BPMN_NS}}}flowNodeRef"):
            lanes[(ref.text or "").strip()] = lane.get("name") or lane.get("id")
    found: dict[str, dict[str, Any]] = {}
    for node in root.iter():
        if _ns(node) == BPMN_NS and node.get("id"):
            if _local(node) in FLOW_NODES or _local(node) == "sequenceFlow":
                found[node.get("id")] = _describe(node, lanes)
    return found


def _version_row(session: Session, key: str, version: int) -> ProcessVersion:
    row = session.scalars(
        select(ProcessVersion).where(ProcessVersion.key == key, ProcessVersion.version == version)
    ).first()
    if row is None:
        raise NotFound(f"no version {version} of process {key!r}")
    return row


def _elements_of_version(row: ProcessVersion) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for source in row.sources:
        if source["kind"] == "bpmn":
            found.update(elements_of(source["text"]))
    return found


def compare_versions(db: Database, key: str, a: int, b: int) -> dict[str, list[dict[str, Any]]]:
    """What changed from version `a` to version `b` of a process, by element id:
    {added: [{id, type, name}], removed: [...], changed: [{id, type, name, what, details}]}
    where `what` names the aspects that differ and `details` gives [aspect, in a, in b]."""
    with db.read() as session:
        old = _elements_of_version(_version_row(session, key, a))
        new = _elements_of_version(_version_row(session, key, b))

    def brief(element_id: str, info: dict[str, Any]) -> dict[str, Any]:
        return {"id": element_id, "type": info["type"], "name": info["name"]}

    changed = []
    for element_id, before in old.items():
        after = new.get(element_id)
        if after is None:
            continue
        what = [k for k in ASPECTS if before.get(k) != after.get(k)]
        if what:
            changed.append(
                {
                    **brief(element_id, after),
                    "what": what,
                    "details": [[k, before.get(k), after.get(k)] for k in what],
                }
            )
    return {
        "added": [brief(i, info) for i, info in new.items() if i not in old],
        "removed": [brief(i, info) for i, info in old.items() if i not in new],
        "changed": changed,
    }


# ----- moving cases between versions ----------------------------------------------------------

# A task in one of these states is where the case "is".
_AT = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass(frozen=True)
class MigrationCheck:
    number: str
    version: int
    ok: bool
    reasons: list[str]
    at: list[str]  # element ids the case is at


def _kind(spec: Any) -> tuple[str, str | None]:
    definition = getattr(spec, "event_definition", None)
    return type(spec).__name__, type(definition).__name__ if definition is not None else None


def _label(spec: Any) -> str:
    if spec.bpmn_id and spec.bpmn_name:
        return f"{spec.bpmn_id} ({spec.bpmn_name})"
    return spec.bpmn_id or spec.name


def _pairs(workflow: Any, spec: Any, deps: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    """(workflow or sub-workflow, its spec in the target, where) for the case and every
    sub-process or call activity it is inside."""
    pairs = [(workflow, spec, "")]
    for sub in workflow.subprocesses.values():
        pairs.append((sub, deps.get(sub.spec.name), f"{sub.spec.name}: "))
    return pairs


def _obstacles(workflow: Any, spec: Any, deps: dict[str, Any], target: int) -> list[str]:
    reasons = []
    for wf, new_spec, where in _pairs(workflow, spec, deps):
        if new_spec is None:
            if wf.get_tasks(state=_AT, skip_subprocesses=True):
                reasons.append(f"{where}the sub-process is not in version {target}")
            continue
        for task in wf.get_tasks(state=_AT, skip_subprocesses=True):
            old = task.task_spec
            new = new_spec.task_specs.get(old.name)
            if new is None:
                reasons.append(f"{where}{_label(old)} is not in version {target}")
            elif _kind(new) != _kind(old):
                was, now = _kind(old), _kind(new)
                reasons.append(
                    f"{where}{_label(old)} is a {'/'.join(filter(None, was))} here but a "
                    f"{'/'.join(filter(None, now))} in version {target}"
                )
            elif (
                task.parent is not None
                and task.parent.task_spec.name in {s.name for s in old.inputs}
                and task.parent.task_spec.name not in {s.name for s in new.inputs}
            ):
                # e.g. a boundary event was added to or removed from the task the case is at
                before = task.parent.task_spec
                why = (
                    "its boundary events changed"
                    if "BoundaryEvent" in before.name
                    or any("BoundaryEvent" in s.name for s in new.inputs)
                    else f"it no longer follows {_label(before)}"
                )
                reasons.append(
                    f"{where}the way into {_label(old)} changed in version {target} ({why})"
                )
    return reasons


def _where_at(workflow: Any) -> list[str]:
    at = set()
    for wf, _spec, _where in _pairs(workflow, None, {}):
        for task in wf.get_tasks(state=_AT, skip_subprocesses=True):
            if task.task_spec.bpmn_id:
                at.add(task.task_spec.bpmn_id)
    return sorted(at)


def _check(runtime: Any, session: Session, case: Case, target: ProcessVersion) -> MigrationCheck:
    current = session.get(ProcessVersion, case.process_version_id)
    if current.key != target.key:
        reasons = [f"case {case.number} belongs to process {current.key}, not {target.key}"]
        return MigrationCheck(case.number, current.version, False, reasons, [])
    if current.id == target.id:
        reasons = [f"case {case.number} is already on version {target.version}"]
        return MigrationCheck(case.number, current.version, False, reasons, [])
    if case.status != CaseStatus.RUNNING:
        reasons = [f"case {case.number} is {case.status}; only running cases can move"]
        return MigrationCheck(case.number, current.version, False, reasons, [])
    workflow = runtime._load(case, current)
    spec, deps = runtime._specs_for(target)
    reasons = _obstacles(workflow, spec, deps, target.version)
    return MigrationCheck(case.number, current.version, not reasons, reasons, _where_at(workflow))


def _case_and_target(session: Session, number: str, to_version: int) -> tuple[Case, ProcessVersion]:
    case = session.scalars(select(Case).where(Case.number == number)).first()
    if case is None:
        raise NotFound(f"no case numbered {number!r}")
    return case, _version_row(session, case.process_key, to_version)


def can_migrate(runtime: Any, number: str, to_version: int) -> tuple[bool, list[str]]:
    """Whether case `number` can move to version `to_version` of its process, and if not, why
    (one sentence per obstacle). Changes nothing."""
    with runtime.db.read() as session:
        case, target = _case_and_target(session, number, to_version)
        check = _check(runtime, session, case, target)
    return check.ok, check.reasons


def migration_candidates(
    runtime: Any, key: str, from_version: int, to_version: int
) -> list[MigrationCheck]:
    """Every unfinished case on `from_version`, with whether it can move to `to_version`."""
    with runtime.db.read() as session:
        source = _version_row(session, key, from_version)
        target = _version_row(session, key, to_version)
        cases = session.scalars(
            select(Case)
            .where(Case.process_version_id == source.id, Case.status.in_(ACTIVE_CASE))
            .order_by(Case.id)
        ).all()
        return [_check(runtime, session, case, target) for case in cases]


def _move(wf: Any, new_spec: Any, diff: Any) -> None:
    """Point every task of `wf` at its element in `new_spec`, drop passed history of elements
    the new version no longer has, and re-predict the paths ahead of where the case is.

    Unlike SpiffWorkflow's migrate_workflow this does not reset the tasks the case is at:
    a reset clears their internal data, so a waiting timer would start counting again and a
    user task's pre-script would run a second time."""
    wf.spec = new_spec
    for task in list(wf.tasks.values()):
        aligned = diff.alignment.get(task) if diff is not None else None
        aligned = new_spec.task_specs.get(task.task_spec.name) or aligned
        if aligned is not None:
            task.task_spec = aligned
        elif task.has_state(TaskState.FINISHED_MASK) and task.parent is not None:
            spiff.splice_out(wf, task)
    # STARTED tasks (sub-processes, multi-instance) keep their children; they sync them
    # against the new outputs when they complete.
    for task in wf.get_tasks(state=TaskState.READY | TaskState.WAITING):
        if task.id not in wf.tasks:
            continue
        for child in list(task.children):
            if child.id in wf.tasks and child.has_state(
                TaskState.PREDICTED_MASK | TaskState.FUTURE
            ):
                spiff.remove_task(wf, child.id)
        spiff.predict(task, TaskState.PREDICTED_MASK | TaskState.FUTURE | task.state)
    for task in list(wf.tasks.values()):  # predictions of elements that are gone
        if task.id in wf.tasks and task.task_spec.name not in new_spec.task_specs:
            if task.has_state(TaskState.PREDICTED_MASK | TaskState.FUTURE):
                spiff.remove_task(wf, task.id)
    if wf.last_task is not None and wf.last_task.id not in wf.tasks:
        wf.last_task = None


def migrate_case(
    runtime: Any, number: str, to_version: int, actor: str | None = None
) -> MigrationCheck:
    """Move running case `number` to version `to_version` of its process, in one transaction:
    its state is rewritten against the new version, its open tasks take the new version's
    names, roles and forms, and a "case_migrated" event is recorded. Raises InvalidState with
    the reasons when the move is not safe (nothing changes then)."""
    now = runtime.clock.now()
    try:
        with runtime.db.write() as session:
            case, target = _case_and_target(session, number, to_version)
            check = _check(runtime, session, case, target)
            if not check.ok:
                raise InvalidState(
                    f"case {number} cannot move to version {to_version}: "
                    + "; ".join(check.reasons)
                )
            current = session.get(ProcessVersion, case.process_version_id)
            workflow = runtime._load(case, current)
            spec, deps = runtime._specs_for(target)
            try:
                top, sub_diffs = diff_workflow(spiff.SERIALIZER.registry, workflow, spec, deps)
            except (KeyError, AttributeError):  # its alignment is a help, not a must
                top, sub_diffs = None, {}
            _move(workflow, spec, top)
            for sub_id, sub in workflow.subprocesses.items():
                if sub.spec.name in deps:
                    _move(sub, deps[sub.spec.name], sub_diffs.get(sub_id))
            state = spiff.dump_case_state(workflow)
            try:  # prove the new state loads on the new version before anything is written
                workflow = spiff.load_case_state(state, spec, deps, runtime.script_engine)
            except Exception as exc:  # noqa: BLE001 - any failure means "not safe"
                raise InvalidState(
                    f"case {number} cannot move to version {to_version}: its state does not "
                    f"fit the new version ({type(exc).__name__}: {exc})"
                ) from exc
            case.state = state
            case.process_version_id = target.id
            case.serializer_version = spiff.SERIALIZER_VERSION
            case.updated_at = now
            _retarget_tasks(session, case, target)
            project(session, case, target, workflow, now, runtime.settings.default_role)
            record(
                session,
                "case_migrated",
                at=now,
                actor=actor,
                case_id=case.id,
                detail={
                    "process": target.key,
                    "from": current.version,
                    "to": target.version,
                    "at": check.at,
                },
            )
            session.commit()
    except StaleDataError as exc:
        raise Conflict(
            f"case {number} was changed by someone else at the same time; nothing was moved"
        ) from exc
    return check


def _retarget_tasks(session: Session, case: Case, target: ProcessVersion) -> None:
    """Open task rows take the name, role, form and instructions of the new version."""
    for row in session.scalars(
        select(Task).where(Task.case_id == case.id, Task.status.in_(ACTIVE_TASK))
    ):
        meta = (target.task_meta or {}).get(row.element_id)
        if meta is None:
            continue
        if meta.get("role") and meta["role"] != row.role:
            row.role = meta["role"]
            if row.status == TaskStatus.CLAIMED:  # the holder may not have the new role
                row.status, row.assignee, row.claimed_at = TaskStatus.OPEN, None, None
        row.name = meta.get("name") or row.name
        row.form_id = meta.get("form_id")
        row.instructions = meta.get("instructions")
