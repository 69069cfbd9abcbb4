"""Validation of a deploy: reads every file (size, XML safety, forms), checks BPMN and DMN,
lets SpiffWorkflow parse them and plans each process; runs completely before anything is
written, and one problem means nothing is deployed."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from engine.core.settings import Settings
from engine.definitions import camunda
from engine.definitions import templates as templates_module
from engine.definitions.bpmn import plan_process, validation_message
from engine.definitions.bpmn_checks import check_bpmn_tree
from engine.definitions.camunda_base import Imported
from engine.definitions.camunda_formjs import schema_from_camunda_form
from engine.definitions.camunda_mappings import decision_outputs
from engine.definitions.dmn import check_dmn_tree
from engine.definitions.forms import FormError, load_form_schema
from engine.definitions.sources import (
    BPMN_NS,
    DefinitionError,
    FormPlan,
    ProcessPlan,
    SourceFile,
    Validation,
    content_hash,
    local_name,
    namespace,
)
from engine.spiff.xmlsafe import UnsafeXML, parse_xml

_FLOW_NODES = {
    "startEvent",
    "endEvent",
    "task",
    "userTask",
    "scriptTask",
    "serviceTask",
    "manualTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "subProcess",
    "callActivity",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
}


def _form_plan(name: str, schema: dict[str, Any]) -> FormPlan:
    return FormPlan(
        name, schema, content_hash(json.dumps(schema, sort_keys=True, ensure_ascii=False))
    )


def validate(
    files: Sequence[SourceFile], settings: Settings, known_forms: dict[str, dict[str, Any]]
) -> tuple[list[ProcessPlan], list[FormPlan]]:
    """Check every file and build what deploying them would store; raise DefinitionError."""
    v = Validation(settings, known_forms)
    trees: dict[str, tuple[str, etree._Element]] = {}
    forms: dict[str, FormPlan] = {}
    templates: dict[str, str] = {}
    if not files:
        return [], []
    seen: set[str] = set()
    for f in files:
        if f.filename in seen:
            v.add(f.filename, None, "two files with the same name")
            continue
        seen.add(f.filename)
        if f.kind == "unknown":
            v.add(
                f.filename,
                None,
                "not a BPMN (.bpmn), DMN (.dmn), form (.json, Camunda .form) or message"
                " template (.txt) file",
            )
        elif len(f.data) > settings.max_definition_bytes:
            v.add(
                f.filename,
                None,
                f"file is {len(f.data):,} bytes; the limit is {settings.max_definition_bytes:,} bytes",
            )
        elif f.kind == "template":
            name = templates_module.template_name(f.filename)
            try:
                text = f.data.decode("utf-8")
            except UnicodeDecodeError:
                v.add(f.filename, None, "a message template must be UTF-8 text")
                continue
            if name is None:
                v.add(
                    f.filename,
                    None,
                    "a template's name may only use letters, digits, '.', '_' and '-'",
                )
            elif problem := templates_module.syntax_problem(text):
                v.add(f.filename, None, f"not a valid message template: {problem}")
            else:
                templates[name] = text
        elif f.kind == "form":
            try:
                if f.filename.lower().endswith(".form"):
                    # Converted and checked as a form file of our own.
                    schema = schema_from_camunda_form(f.data, f.filename)
                else:
                    schema = load_form_schema(f.data, f.filename)
            except FormError as exc:
                v.add(f.filename, None, str(exc))
                continue
            forms[f.filename] = _form_plan(f.filename, schema)
        else:
            try:
                trees[f.filename] = (f.kind, parse_xml(f.data, settings.max_definition_bytes))
            except UnsafeXML as exc:
                v.add(f.filename, None, str(exc))
            except etree.XMLSyntaxError as exc:
                v.add(f.filename, None, f"not well-formed XML: {exc}")
    if v.problems:
        raise DefinitionError(v.problems)

    parser = SpiffBpmnParser(validator=VALIDATOR)
    process_files: dict[str, str] = {}
    # The checks, conversions (Camunda extensions, bare ISO timers) and the parser work on a
    # copy; `trees` keeps the files as written, which is what a version stores.
    working = {name: (kind, copy.deepcopy(root)) for name, (kind, root) in trees.items()}
    decisions = decision_outputs([r for k, r in working.values() if k == "dmn"])
    imported: dict[str, Imported] = {}
    for filename, (kind, root) in working.items():
        if kind == "bpmn":
            if local_name(root.tag) != "definitions" or namespace(root.tag) != BPMN_NS:
                v.add(
                    filename,
                    None,
                    "not a BPMN 2.0 file (the root element must be bpmn:definitions)",
                )
                continue
            # A pool drawn as a black box (the customer, a partner) is an empty process in
            # Camunda Modeler's files: nothing to run, so it is not deployed.
            processes = [
                n
                for n in root
                if local_name(n.tag) == "process"
                and any(isinstance(c.tag, str) and local_name(c.tag) in _FLOW_NODES for c in n)
            ]
            if not processes:
                v.add(filename, None, "the file contains no process")
                continue
            check_bpmn_tree(v, filename, root)
            found = imported[filename] = camunda.convert(v, filename, root, decisions)
            for name, schema in found.generated_forms.items():
                if name in forms:
                    v.add(
                        filename, None, f"a deployed file is named like a generated form {name!r}"
                    )
                    continue
                forms[name] = _form_plan(name, schema)  # checked by the conversion
            for node in processes:
                process_files[node.get("id")] = filename
        elif not check_dmn_tree(v, filename, root):
            continue  # nothing SpiffWorkflow's parser could read (it would fail unexplained)
        try:
            if kind == "bpmn":
                parser.add_bpmn_xml(root, filename)
            else:
                parser.add_dmn_xml(root, filename)
        except ValidationException as exc:
            v.add(filename, exc.id or None, validation_message(exc))
        except (
            SpiffWorkflowException,
            etree.LxmlError,
            ValueError,
            KeyError,
            AttributeError,
        ) as exc:
            v.add(filename, None, f"cannot be read as {kind.upper()}: {exc}")
    if v.problems:
        raise DefinitionError(v.problems)

    plans = [
        plan_process(v, parser, key, filename, working, forms, trees, imported, templates)
        for key, filename in process_files.items()
    ]
    if v.problems:
        raise DefinitionError(v.problems)
    return [p for p in plans if p is not None], list(forms.values())
