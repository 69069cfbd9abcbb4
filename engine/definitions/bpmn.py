"""The plan of each process as SpiffWorkflow parsed it: the lanes, forms and assignee
expressions of its user tasks, its properties (defaults, start forms, start roles, case
prefix, KPI variables) and the message templates it sends, giving the version to store. The
checks made on the XML itself are in engine.definitions.bpmn_checks."""

from __future__ import annotations

from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.core.summaries import SUMMARY_PROPERTY
from engine.definitions import templates as message_templates
from engine.definitions.camunda_base import Imported
from engine.definitions.expressions import check_code
from engine.definitions.kpi_fields import check_kpi_fields, kpi_fields
from engine.definitions.parameters import process_defaults
from engine.definitions.properties import case_prefix, portal_forms, startable
from engine.definitions.sources import FormPlan, ProcessPlan, Validation, content_hash, local_name
from engine.definitions.starting import check_start_roles
from engine.spiff import adapter as spiff


def _camunda_start_form(root: etree._Element, key: str, found: Imported | None) -> str | None:
    """The form a Camunda start event of process `key` names (formKey or formData)."""
    if found is None:
        return None
    for node in root:
        if local_name(node.tag) == "process" and node.get("id") == key:
            for child in node:
                if local_name(child.tag) == "startEvent" and child.get("id") in found.forms:
                    return found.forms[child.get("id")]
    return None


def _with_start_form(
    v: Validation,
    filename: str,
    key: str,
    portal: dict[str, Any] | None,
    form: str | None,
    forms: dict[str, FormPlan],
    used_forms: dict[str, str],
) -> dict[str, Any] | None:
    """A Camunda start event's form is the form staff start a case with (staffStartForm)."""
    if form is None:
        return portal
    if portal and portal.get("staff_start_form"):
        v.add(filename, key, "the start event names a form and so does staffStartForm: keep one")
        return portal
    if not v.use_form(form, forms, used_forms):
        v.add(filename, key, f"start form {form!r} is not among the files deployed with it")
        return portal
    return {**(portal or {}), "staff_start_form": form}


def validation_message(exc: ValidationException) -> str:
    message = str(exc).split("\n")[0]
    return message or exc.__class__.__name__


def _templates_of(
    v: Validation,
    filename: str,
    key: str,
    roots: list[etree._Element],
    keys: set[str],
    deployed: dict[str, str],
) -> list[dict[str, str]]:
    """The message templates a version keeps (engine.definitions.templates): those its
    scripts name and those deployed under one of its processes' keys."""
    scripts = [
        node.text
        for root in roots
        for node in root.iter()
        if isinstance(node.tag, str)
        and local_name(node.tag) in message_templates.SCRIPT_ELEMENTS
        and node.text
    ]
    names = message_templates.named_in(scripts)
    names |= {n for n in deployed if any(n.startswith(f"{k}.") for k in keys)}
    out = []
    for name in sorted(names):
        text = deployed.get(name)
        if text is None:
            text = message_templates.read_from_folder(name)
            if text is not None and (problem := message_templates.syntax_problem(text)):
                v.add(f"{name}.txt", None, f"not a valid message template: {problem}")
                continue
        if text is None:
            v.add(
                filename,
                key,
                f"a script sends message template {name!r}: deploy {name}.txt with the process",
            )
            continue
        out.append({"filename": f"{name}.txt", "kind": "template", "text": text})
    return out


def plan_process(
    v: Validation,
    parser: SpiffBpmnParser,
    key: str,
    filename: str,
    trees: dict[str, tuple[str, etree._Element]],
    forms: dict[str, FormPlan],
    originals: dict[str, tuple[str, etree._Element]] | None = None,
    imported: dict[str, Imported] | None = None,
    templates: dict[str, str] | None = None,
) -> ProcessPlan | None:
    """The plan of process `key`: `trees` are the files as checked and parsed, `originals`
    as written (what the version stores), `imported` what their Camunda extensions give,
    `templates` the message templates deployed with them (name -> text)."""
    originals = originals or trees
    imported = imported or {}
    try:
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        v.add(exc.file_name or filename, exc.id or key, validation_message(exc))
        return None
    except SpiffWorkflowException as exc:
        v.add(filename, key, str(exc))
        return None
    root = trees[filename][1]
    task_meta: dict[str, dict[str, Any]] = {}
    used_forms: dict[str, str] = {}
    for process_spec in [spec, *subprocess_specs.values()]:
        spec_file = getattr(process_spec, "file", None) or filename
        found = imported.get(spec_file) or Imported()
        for task_spec in process_spec.task_specs.values():
            if not getattr(task_spec, "manual", False):
                continue
            element_id = task_spec.bpmn_id
            extensions = getattr(task_spec, "extensions", {}) or {}
            properties = extensions.get("properties") or {}
            form = properties.get("formJsonSchemaFilename") or found.forms.get(element_id)
            if properties.get("formJsonSchemaFilename") and element_id in found.forms:
                v.add(
                    spec_file,
                    element_id,
                    "two forms are named (a Camunda form and formJsonSchemaFilename): keep one",
                )
            role = v.settings.role_for_lane(task_spec.lane)
            if role is None:
                v.add(spec_file, element_id, f"lane {task_spec.lane!r} is not a known role", "lane")
            elif element_id in found.roles:
                if task_spec.lane is not None and found.roles[element_id] != role:
                    v.add(
                        spec_file,
                        element_id,
                        f"the task is in lane {task_spec.lane!r} ({role}) but its"
                        f" candidateGroups say {found.roles[element_id]}: keep one",
                    )
                role = found.roles[element_id]
            if form:
                if not v.use_form(form, forms, used_forms):
                    v.add(
                        spec_file,
                        element_id,
                        f"form {form!r} is not among the files deployed with it nor already deployed",
                        "formJsonSchemaFilename",
                    )
            assignee = (properties.get("assigneeExpression") or "").strip()
            if assignee and element_id in found.assignees:
                v.add(
                    spec_file,
                    element_id,
                    "both assigneeExpression and a Camunda assignee are set: keep one",
                )
            assignee = assignee or found.assignees.get(element_id, "")
            if assignee:
                check_code(
                    v,
                    spec_file,
                    element_id,
                    assignee,
                    script=False,
                    what="assigneeExpression",
                    field="assigneeExpression",
                )
            task_meta[element_id] = {
                "name": task_spec.bpmn_name or element_id,
                "role": role,
                "form": form,
                "instructions": extensions.get("instructionsForEndUser"),
                "assignee": assignee or None,
                "summary": (properties.get(SUMMARY_PROPERTY) or "").strip() or None,
            }
    check_start_roles(v, filename, root, key, spec, subprocess_specs)
    spec_json = spiff.dump_specs(spec, subprocess_specs)
    bpmn_files = sorted(
        {getattr(s, "file", None) or filename for s in [spec, *subprocess_specs.values()]}
    )
    dmn_files = sorted(
        name
        for name, (kind, droot) in trees.items()
        if kind == "dmn"
        and any(f'"{d.get("id")}"' in spec_json for d in droot if local_name(d.tag) == "decision")
    )
    sources = [
        {
            "filename": name,
            "kind": trees[name][0],
            "text": etree.tostring(originals[name][1], encoding="unicode"),
        }
        for name in bpmn_files + dmn_files
        if name in originals
    ]
    sources += _templates_of(
        v,
        filename,
        key,
        [originals[n][1] for n in bpmn_files if n in originals],
        {key, *subprocess_specs},
        templates or {},
    )
    plan = ProcessPlan(
        key=key,
        name=next(
            (n.get("name") for n in root if local_name(n.tag) == "process" and n.get("id") == key),
            None,
        )
        or key,
        spec=spec,
        subprocess_specs=subprocess_specs,
        spec_json=spec_json,
        sources=sources,
        task_meta=task_meta,
        case_prefix=case_prefix(root, key),
        defaults=process_defaults(v, filename, root, key),
        portal=_with_start_form(
            v,
            filename,
            key,
            portal_forms(v, filename, root, key, forms, used_forms),
            _camunda_start_form(root, key, imported.get(filename)),
            forms,
            used_forms,
        ),
        startable=startable(v, filename, root, key),
        kpi_fields=kpi_fields(v, filename, root, key) or None,
        called_defaults={
            name: found
            for name, sub in subprocess_specs.items()
            if (sub_file := getattr(sub, "file", None) or filename) in trees
            and (found := process_defaults(v, sub_file, trees[sub_file][1], name))
        },
    )
    check_kpi_fields(
        v,
        filename,
        key,
        plan.kpi_fields,
        [
            forms[name].schema if name in forms else v.known_forms.get(name) or {}
            for name in used_forms
        ],
        plan.defaults,
        [(trees[name][0], trees[name][1]) for name in bpmn_files + dmn_files if name in trees],
    )
    plan.content_hash = content_hash(
        spec_json,
        *(s["text"] for s in sources),
        *(f"{k}={h}" for k, h in sorted(used_forms.items())),
    )
    return plan
