"""The shipped definitions in processes/ and forms/: every diagram is drawn (process owners
open them in bpmn-js), ids are ASCII snake_case, tasks and events carry names, everything
deploys together, and every form is used by some user task.

With no process files yet the per-file checks still run, vacuously."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from engine.definitions.layout import ACTIVITIES, BPMN, EVENTS, missing_di
from engine.runtime.verbs import Runtime

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")

PROCESS_FILES = sorted(PROCESSES.glob("*.bpmn"))
FILE_PARAMS = [pytest.param(p, id=p.name) for p in PROCESS_FILES] or [
    pytest.param(None, id="no-process-files")
]


def _root(path: Path) -> etree._Element:
    return etree.fromstring(path.read_bytes())


def _bpmn_elements(root: etree._Element, names: set[str]) -> list[etree._Element]:
    return [
        el
        for el in root.iter()
        if isinstance(el.tag, str)
        and etree.QName(el).namespace == BPMN
        and etree.QName(el).localname in names
    ]


@pytest.mark.parametrize("path", FILE_PARAMS)
def test_every_flow_node_and_flow_has_diagram_layout(path: Path | None) -> None:
    if path is None:
        return
    missing = missing_di(path.read_bytes())
    assert missing == [], (
        f"{path.name}: no diagram layout for {', '.join(f'{k} {i}' for k, i in missing)}; "
        f"run: python -m engine.definitions.layout processes/{path.name}"
    )


@pytest.mark.parametrize("path", FILE_PARAMS)
def test_element_ids_are_ascii_snake_case(path: Path | None) -> None:
    if path is None:
        return
    bad = sorted(
        el.get("id")
        for el in _root(path).iter()
        if isinstance(el.tag, str) and el.get("id") and not SNAKE_CASE.match(el.get("id"))
    )
    assert bad == [], f"{path.name}: ids that are not ASCII snake_case: {bad}"


@pytest.mark.parametrize("path", FILE_PARAMS)
def test_tasks_and_events_have_names(path: Path | None) -> None:
    if path is None:
        return
    unnamed = [
        f"{etree.QName(el).localname} {el.get('id')}"
        for el in _bpmn_elements(_root(path), ACTIVITIES | EVENTS)
        if not (el.get("name") or "").strip()
    ]
    assert unnamed == [], f"{path.name}: tasks and events without a name: {unnamed}"


@pytest.mark.parametrize("path", FILE_PARAMS)
def test_every_end_event_declares_an_outcome(path: Path | None) -> None:
    """The case list and the KPIs read a case's outcome from the end event it reached."""
    if path is None:
        return
    missing = [
        el.get("id")
        for el in _bpmn_elements(_root(path), {"endEvent"})
        if not any(
            prop.get("name") == "outcome" and prop.get("value")
            for prop in el.iter(f"{{{SPIFF}}}property")
        )
    ]
    assert missing == [], f"{path.name}: end events without an outcome: {missing}"


def test_processes_and_forms_deploy_together(runtime: Runtime) -> None:
    # DefinitionError (with every problem listed) is what a failure looks like.
    sources = [folder for folder in (PROCESSES, FORMS) if folder.is_dir()]
    runtime.deploy(sources)


def _referenced_forms() -> set[str]:
    """Forms named by user tasks, start forms (process properties startForm, for customer
    booking pages and staff, and staffStartForm) and forms of customers' messages
    (messageForm:<message>)."""
    names: set[str] = set()
    for path in PROCESS_FILES:
        root = _root(path)
        for process in _bpmn_elements(root, {"process"}):
            for prop in process.iterfind(f"{{{BPMN}}}extensionElements//{{{SPIFF}}}property"):
                name = prop.get("name") or ""
                wanted = name in ("startForm", "staffStartForm") or name.startswith("messageForm:")
                if wanted and prop.get("value"):
                    names.add(prop.get("value").strip())
        for task in _bpmn_elements(root, {"userTask"}):
            for prop in task.iter(f"{{{SPIFF}}}property"):
                if prop.get("name") == "formJsonSchemaFilename" and prop.get("value"):
                    names.add(prop.get("value").strip())
            key = task.get(f"{{{CAMUNDA}}}formKey")
            if key:  # "embedded:app:forms/x.json" → x.json, as engine/definitions.py reads it
                names.add(re.split(r"[:/]", key)[-1])
    return names


def test_every_form_is_used_by_a_user_task() -> None:
    used = _referenced_forms()
    unused = sorted(p.name for p in FORMS.glob("*.json") if p.name not in used)
    assert unused == [], (
        "forms no user task (formJsonSchemaFilename), start (startForm, staffStartForm) or"
        f" customer's message (messageForm:<message>) uses: {unused}"
    )
