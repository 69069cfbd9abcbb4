"""Process versions: what is deployed (processes, their versions and forms), checking and
deploying a diagram or a decision table edited in the browser, and a blank diagram to start
from. How two versions
differ is in engine.runtime.compare; moving running cases between versions in
engine.runtime.migration."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core.errors import NotFound
from engine.core.status import ACTIVE_CASE
from engine.definitions.deploy import Deployed, latest_forms
from engine.definitions.sources import (
    BPMN_NS,
    SPIFF_NS,
    DefinitionError,
    Problem,
    SourceFile,
    local_name,
)
from engine.definitions.validation import validate
from engine.spiff.xmlsafe import UnsafeXML, parse_xml
from engine.store.database import Database
from engine.store.tables import Case, Form, ProcessVersion

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
    decisions: tuple[str, ...] = ()  # the DMN files the version uses


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
                    tuple(s["filename"] for s in row.sources if s["kind"] == "dmn"),
                )
            )
    return list(processes.values())


def get_process(db: Database, key: str) -> ProcessInfo:
    """One deployed process with its versions; NotFound when there is none."""
    found = next((p for p in list_processes(db) if p.key == key), None)
    if found is None:
        raise NotFound(f"no deployed process {key!r}", reason="process_not_found", process=key)
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


# ----- decision tables edited in the browser ----------------------------------------------------


def _newest_rows(db: Database) -> list[ProcessVersion]:
    """Every version, newest deploy first."""
    with db.read() as session:
        return list(
            session.scalars(select(ProcessVersion).order_by(ProcessVersion.id.desc())).all()
        )


@dataclass(frozen=True)
class DecisionTable:
    """A deployed DMN file as the editor opens it: its newest deployed text, its decision, and
    the processes whose newest version uses it (key, version)."""

    filename: str
    xml: str
    decision_id: str | None
    name: str | None
    used_by: list[tuple[str, int]]


def decision_table(runtime: Any, filename: str) -> DecisionTable:
    """The newest deployed text of a DMN file with what uses it; NotFound when no version of
    any process has it."""
    rows = _newest_rows(runtime.db)
    text = next(
        (
            s["text"]
            for r in rows
            for s in r.sources
            if s["filename"] == filename and s["kind"] == "dmn"
        ),
        None,
    )
    if text is None:
        raise NotFound(
            f"no deployed decision table {filename!r}",
            reason="decision_table_not_found",
            file=filename,
        )
    decision_id = name = None
    try:
        root = parse_xml(text.encode("utf-8"), runtime.settings.max_definition_bytes)
        decision = next((n for n in root if local_name(n.tag) == "decision"), None)
        if decision is not None:
            decision_id, name = decision.get("id"), decision.get("name")
    except (UnsafeXML, etree.XMLSyntaxError, ValueError):
        pass  # deployed files were checked; the page then shows the file name only
    users = _decision_users(rows, filename)
    return DecisionTable(filename, text, decision_id, name, [(r.key, r.version) for r in users])


def _decision_users(rows: list[ProcessVersion], filename: str) -> list[ProcessVersion]:
    """The newest version of each process, where it uses the DMN file `filename`."""
    newest: dict[str, ProcessVersion] = {}
    for row in rows:
        newest.setdefault(row.key, row)
    return [
        row
        for key, row in sorted(newest.items())
        if any(s["filename"] == filename and s["kind"] == "dmn" for s in row.sources)
    ]


def _decision_files(db: Database, filename: str, xml: str) -> tuple[list[SourceFile], list[str]]:
    """The edited table with what it deploys with: every file of the newest versions that use
    it (their BPMN files, the other DMN files, templates), each as last deployed; and the keys
    of those processes."""
    rows = _newest_rows(db)
    users = _decision_users(rows, filename)
    files = {filename: SourceFile(filename, xml.encode("utf-8"))}
    for row in users:
        for source in row.sources:
            name = source["filename"]
            if name in files:
                continue
            latest = next(s for r in rows for s in r.sources if s["filename"] == name)
            files[name] = SourceFile(name, latest["text"].encode("utf-8"))
    return list(files.values()), [row.key for row in users]


def check_decision(runtime: Any, filename: str, xml: str) -> list[Problem]:
    """Validate one edited DMN file as deploy would, with the processes that use it and their
    other files; an empty list means it can be deployed."""
    files, _ = _decision_files(runtime.db, filename, xml)
    known = {name: form.schema for name, form in deployed_forms(runtime.db).items()}
    try:
        validate(files, runtime.settings, known)
    except DefinitionError as exc:
        return exc.problems
    return []


def deploy_decision(runtime: Any, filename: str, xml: str, actor: str | None) -> list[Deployed]:
    """Deploy one edited DMN file with the processes whose newest version uses it: a new
    version of each (running cases keep theirs). Raises DefinitionError like any deploy, also
    when no process uses the table (a table is only stored with a process)."""
    files, users = _decision_files(runtime.db, filename, xml)
    if not users:
        raise DefinitionError(
            [
                Problem(
                    filename,
                    None,
                    "no process's newest version uses this decision table, so there is "
                    "nothing to deploy it with",
                )
            ]
        )
    return [d for d in runtime.deploy(files, actor=actor) if d.kind == "process" and d.key in users]


def form_users(db: Database, name: str) -> list[tuple[str, int, str]]:
    """(process, version, element id) of the user tasks whose newest process version uses
    form `name`."""
    users = []
    for process in list_processes(db):
        with db.read() as session:
            row = version_row(session, process.key, process.latest.version)
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
        raise NotFound(f"no deployed form {name!r}", reason="form_not_found", form=name)
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


def version_row(session: Session, key: str, version: int) -> ProcessVersion:
    row = session.scalars(
        select(ProcessVersion).where(ProcessVersion.key == key, ProcessVersion.version == version)
    ).first()
    if row is None:
        raise NotFound(
            f"no version {version} of process {key!r}",
            reason="version_not_found",
            version=version,
            process=key,
        )
    return row
