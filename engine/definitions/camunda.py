"""Diagrams drawn in Camunda Modeler (Camunda 7 `camunda:` and Camunda 8 `zeebe:` extensions):
each extension is either honoured or refused with a message naming the element, never silently
dropped.

Honoured: candidate groups become the task's role, an assignee or a single candidate user its
assignment (the rules of `assigneeExpression`), a form key naming a Camunda Form or a JSON Schema
file its form, inline `camunda:formData` and a Camunda 8 embedded form a generated form, a
decision reference the business rule task's decision (with its result variable), and simple
input/output mappings pre- and post-scripts. Transaction hints (`asyncBefore`, job priority,
history time to live, version tag, …) change nothing in Caseflow, which runs each step in one
transaction; they are accepted. Everything else (Java delegates, listeners, external tasks,
connectors, FEEL or JUEL that is not a plain name) is refused.

`convert` works on a copy of the XML that only the parser sees: the stored source keeps what the
owner wrote, so the modeler shows it as it was drawn."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.definitions.camunda_formdata import form_data_fields, schema_from_form_data
from engine.definitions.camunda_formjs import schema_from_camunda_form
from engine.definitions.forms import FormError
from engine.definitions.sources import BPMN_NS, CAMUNDA_NS, SPIFF_NS, Validation, local_name

ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"

# Attributes that tune Camunda's job executor or history; Caseflow runs each step in one
# transaction and keeps all history, so they change nothing here.
NO_EFFECT = {
    "asyncBefore",
    "asyncAfter",
    "async",
    "exclusive",
    "jobPriority",
    "taskPriority",
    "versionTag",
    "historyTimeToLive",
    "isStartableInTasklist",
    "priority",
    "dueDate",
    "followUpDate",
    "failedJobRetryTimeCycle",
}
# Elements of the camunda/zeebe namespaces that are only data for tools (no behaviour).
NO_EFFECT_ELEMENTS = {"properties", "property", "taskHeaders", "header", "versionTag"}

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JUEL_NAME = re.compile(r"^\s*[$#]\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\s*$")
_FEEL_NAME = re.compile(r"^\s*=\s*([A-Za-z_][A-Za-z0-9_]*)\s*$")


@dataclass
class Imported:
    """What a Camunda diagram's extensions give each element (by element id)."""

    roles: dict[str, str] = field(default_factory=dict)
    assignees: dict[str, str] = field(default_factory=dict)
    forms: dict[str, str] = field(default_factory=dict)
    generated_forms: dict[str, dict[str, Any]] = field(default_factory=dict)


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _element_name(node: etree._Element) -> str:
    return node.get("id") or local_name(node.tag)


def plain_value(text: str) -> str | None:
    """A Python expression for a Camunda value that is a literal or a plain variable
    (`${name}`, `#{name}`, `= name`); None for any other expression."""
    text = text.strip()
    match = _JUEL_NAME.match(text) or _FEEL_NAME.match(text)
    if match:
        return match.group(1)
    if "${" in text or "#{" in text or text.startswith("="):
        return None
    return json.dumps(text, ensure_ascii=False)


def _extension_children(node: etree._Element) -> list[etree._Element]:
    return [
        child
        for ext in node
        if isinstance(ext.tag, str) and ext.tag == _q(BPMN_NS, "extensionElements")
        for child in ext
        if isinstance(child.tag, str)
    ]


def _spiff_extensions(node: etree._Element) -> etree._Element:
    ext = node.find(_q(BPMN_NS, "extensionElements"))
    if ext is None:
        ext = etree.Element(_q(BPMN_NS, "extensionElements"))
        node.insert(0, ext)
    return ext


def _add_script(node: etree._Element, which: str, line: str) -> None:
    ext = _spiff_extensions(node)
    existing = ext.find(_q(SPIFF_NS, which))
    if existing is None:
        existing = etree.SubElement(ext, _q(SPIFF_NS, which))
        existing.text = line
    elif which == "preScript":
        existing.text = f"{line}\n{existing.text or ''}"
    else:
        existing.text = f"{existing.text or ''}\n{line}"


def decision_outputs(dmn_roots: list[etree._Element]) -> dict[str, tuple[str, list[str]]]:
    """decision id → (hit policy, output names) for the deployed DMN files."""
    found: dict[str, tuple[str, list[str]]] = {}
    for root in dmn_roots:
        for decision in root.iter():
            if not isinstance(decision.tag, str) or local_name(decision.tag) != "decision":
                continue
            for table in decision:
                if isinstance(table.tag, str) and local_name(table.tag) == "decisionTable":
                    outputs = [
                        o.get("name") or o.get("id") or ""
                        for o in table
                        if isinstance(o.tag, str) and local_name(o.tag) == "output"
                    ]
                    found[decision.get("id") or ""] = (
                        table.get("hitPolicy", "UNIQUE").upper(),
                        outputs,
                    )
    return found


class _Converter:
    def __init__(
        self,
        v: Validation,
        filename: str,
        root: etree._Element,
        decisions: dict[str, tuple[str, list[str]]],
    ) -> None:
        self.v, self.filename, self.root, self.decisions = v, filename, root, decisions
        # Generated forms are named after the file and element, so two files' "Task_1" differ.
        self.form_prefix = re.sub(r"\.(bpmn20\.xml|bpmn)$", "", filename, flags=re.I)
        self.out = Imported()
        self.embedded_forms = {
            n.get("id"): n.text or ""
            for n in root.iter(_q(ZEEBE_NS, "userTaskForm"))
            if n.get("id")
        }

    def refuse(self, node: etree._Element, message: str) -> None:
        self.v.add(self.filename, _element_name(node), message)

    # ----- the walk ------------------------------------------------------------------------

    def run(self) -> Imported:
        for node in list(self.root.iter()):
            if not isinstance(node.tag, str):
                continue
            ns = etree.QName(node).namespace
            if ns in (CAMUNDA_NS, ZEEBE_NS):
                continue  # extension elements are read by their owner below
            for attr, value in node.attrib.items():
                qname = etree.QName(attr)
                if qname.namespace in (CAMUNDA_NS, ZEEBE_NS):
                    self.attribute(node, qname.localname, value)
            for child in _extension_children(node):
                if etree.QName(child).namespace in (CAMUNDA_NS, ZEEBE_NS):
                    self.element(node, child)
        return self.out

    # ----- attributes ----------------------------------------------------------------------

    def attribute(self, node: etree._Element, name: str, value: str) -> None:
        kind = local_name(node.tag)
        if name in NO_EFFECT:
            return
        if kind == "multiInstanceLoopCharacteristics" and name in ("collection", "elementVariable"):
            if name == "collection":
                self.multi_instance(node, value, node.get(_q(CAMUNDA_NS, "elementVariable")))
            elif not node.get(_q(CAMUNDA_NS, "collection")):
                self.refuse(node, "camunda:elementVariable needs camunda:collection")
            return
        if name == "candidateStarterGroups" and kind == "process":
            return  # read as the process's startRoles (engine.definitions.properties)
        if name == "candidateGroups" and kind == "userTask":
            self.candidate_groups(node, value)
        elif name in ("assignee", "candidateUsers") and kind == "userTask":
            self.assignee(node, name, value)
        elif name == "formKey" and kind in ("userTask", "startEvent"):
            self.form_key(node, value)
        elif name == "decisionRef" and kind == "businessRuleTask":
            self.decision(
                node,
                value,
                node.get(_q(CAMUNDA_NS, "resultVariable")),
                node.get(_q(CAMUNDA_NS, "mapDecisionResult")) or "resultList",
            )
        elif name in ("resultVariable", "mapDecisionResult", "decisionRefBinding") and (
            kind == "businessRuleTask"
        ):
            if name == "decisionRefBinding" and value not in ("latest", "deployment"):
                self.refuse(
                    node,
                    f"camunda:decisionRefBinding {value!r} is not supported:"
                    " Caseflow uses the decision deployed with the process",
                )
        elif name in ("class", "delegateExpression", "expression", "type", "topic"):
            self.refuse(
                node,
                f"camunda:{name}={value!r} runs Java or external worker code in Camunda;"
                " Caseflow cannot run it: use a script task (Python) or a user task",
            )
        elif name == "resource" and kind == "scriptTask":
            self.refuse(
                node,
                "camunda:resource (a script in a separate file) is not supported:"
                " write the script into the script task",
            )
        elif name == "initiator" and kind == "startEvent":
            self.refuse(
                node,
                f"camunda:initiator={value!r} is not supported: Caseflow records who started"
                " a case in its history; remove the attribute",
            )
        elif name == "calledElementBinding" or name == "calledElementVersion":
            if value not in ("latest",):
                self.refuse(
                    node,
                    f"camunda:{name} {value!r} is not supported: a call"
                    " activity calls the process deployed with it",
                )
        else:
            self.refuse(
                node,
                f"camunda:{name} on a {kind} is not supported; Caseflow refuses it rather"
                " than ignore it: remove it or model it in BPMN",
            )

    def candidate_groups(self, node: etree._Element, value: str) -> None:
        groups = [g.strip() for g in value.split(",") if g.strip()]
        if any("${" in g or "#{" in g or g.startswith("=") for g in groups):
            self.refuse(
                node,
                f"candidateGroups {value!r} is an expression; Caseflow needs a role name there",
            )
            return
        if len(groups) != 1:
            self.refuse(
                node,
                f"candidateGroups {value!r} names {len(groups)} groups; a Caseflow task goes"
                " to one role: keep one, or split the task",
            )
            return
        role = self.v.settings.role_for_lane(groups[0])
        if role is None:
            known = ", ".join(f"{k} ({n})" for k, n in self.v.settings.roles.items())
            self.refuse(
                node, f"candidateGroups {groups[0]!r} is not a known role; known roles: {known}"
            )
            return
        self.out.roles[node.get("id") or ""] = role

    def assignee(self, node: etree._Element, name: str, value: str) -> None:
        element = node.get("id") or ""
        if name == "candidateUsers":
            users = [u.strip() for u in value.split(",") if u.strip()]
            if len(users) != 1:
                self.refuse(
                    node,
                    f"candidateUsers {value!r} names {len(users)} people; Caseflow assigns a"
                    " task to one person or to a role (candidateGroups)",
                )
                return
            value = users[0]
            if element in self.out.assignees:
                self.refuse(node, "both assignee and candidateUsers are set: keep one")
                return
        expression = plain_value(value)
        if expression is None:
            self.refuse(
                node,
                f"{name} {value!r} is a Camunda expression; write a user name, or ${{name}}"
                " of a case variable holding one",
            )
            return
        self.out.assignees[element] = expression

    def form_key(self, node: etree._Element, value: str) -> None:
        element = node.get("id") or ""
        if value.startswith("camunda-forms:bpmn:"):
            self.embedded_form(node, value.split(":", 2)[2])
            return
        target = re.split(r"[:/]", value)[-1]
        if value.startswith(("embedded:", "app:")) and not target.endswith((".form", ".json")):
            self.refuse(
                node,
                f"formKey {value!r} names an HTML form of a Camunda web app, which Caseflow"
                " cannot show: deploy a Camunda Form (.form) or a JSON Schema form (.json)",
            )
            return
        if not target.endswith((".form", ".json")):
            self.refuse(node, f"formKey {value!r} does not name a .form or .json file")
            return
        self.out.forms[element] = target

    def embedded_form(self, node: etree._Element, form_id: str) -> None:

        text = self.embedded_forms.get(form_id)
        if text is None:
            self.refuse(node, f"the embedded form {form_id!r} is not in the file")
            return
        name = f"{self.form_prefix}.{node.get('id')}.form.json"
        try:
            self.out.generated_forms[name] = schema_from_camunda_form(text, name)
        except FormError as exc:
            self.refuse(node, str(exc))
            return
        self.out.forms[node.get("id") or ""] = name

    def multi_instance(self, node: etree._Element, collection: str, element: str | None) -> None:
        """Camunda 7's `collection`/`elementVariable`: one instance per item of a case list,
        as BPMN's loopDataInputRef and inputDataItem say it."""
        owner = node.getparent() if node.getparent() is not None else node
        match = _JUEL_NAME.match(collection)
        name = match.group(1) if match else collection.strip()
        if not _NAME.match(name):
            self.refuse(
                owner,
                f"camunda:collection {collection!r} is an expression; name a case variable"
                " holding the list (or compute it in a script task first)",
            )
            return
        if node.find(_q(BPMN_NS, "loopCardinality")) is not None:
            self.refuse(owner, "camunda:collection and a loop cardinality are both set: keep one")
            return
        if element is not None and not _NAME.match(element):
            self.refuse(owner, f"camunda:elementVariable {element!r} is not a plain name")
            return
        ref = etree.Element(_q(BPMN_NS, "loopDataInputRef"))
        ref.text = name
        node.insert(0, ref)
        if element:
            item = etree.Element(_q(BPMN_NS, "inputDataItem"), id=element, name=element)
            # After loopDataInputRef/loopDataOutputRef, before the rest (the schema's order).
            refs = [
                c
                for c in node
                if isinstance(c.tag, str)
                and local_name(c.tag) in ("loopDataInputRef", "loopDataOutputRef")
            ]
            node.insert(node.index(refs[-1]) + 1, item)

    def decision(self, node: etree._Element, ref: str, result: str | None, mapping: str) -> None:
        if "${" in ref or "#{" in ref or ref.startswith("="):
            self.refuse(node, f"decisionRef {ref!r} is an expression; name the decision's id")
            return
        ext = _spiff_extensions(node)
        called = etree.SubElement(ext, _q(SPIFF_NS, "calledDecisionId"))
        called.text = ref
        if not result:
            return
        if not _NAME.match(result):
            self.refuse(node, f"resultVariable {result!r} is not a plain variable name")
            return
        hit_policy, outputs = self.decisions.get(ref, ("UNIQUE", []))
        if not outputs:
            return  # the missing decision is reported by the parser
        names = [o for o in outputs if _NAME.match(o)]
        if len(names) != len(outputs):
            self.refuse(node, "the decision's output names are not all plain names")
            return
        row = "{" + ", ".join(f"{json.dumps(o)}: {o}" for o in names) + "}"
        if hit_policy.startswith("COLLECT") or hit_policy in ("RULE ORDER", "OUTPUT ORDER"):
            self.refuse(
                node,
                f"mapDecisionResult with a {hit_policy} decision is not supported: the"
                " decision's outputs are set as case variables of their own names",
            )
            return
        if mapping == "zeebe":  # Camunda 8: one output is the value, several a context
            mapping = "singleEntry" if len(names) == 1 else "singleResult"
        if mapping == "singleEntry":
            if len(names) != 1:
                self.refuse(
                    node,
                    "mapDecisionResult singleEntry needs a decision with one"
                    f" output; {ref!r} has {len(names)}",
                )
                return
            line = f"{result} = {names[0]}"
        elif mapping == "singleResult":
            line = f"{result} = {row}"
        elif mapping in ("resultList", "collectEntries"):
            line = (
                f"{result} = [{row}]"
                if mapping == "resultList"
                else (f"{result} = [{names[0]}]" if len(names) == 1 else "")
            )
            if not line:
                self.refuse(node, "mapDecisionResult collectEntries needs one output")
                return
        else:
            self.refuse(node, f"mapDecisionResult {mapping!r} is not known")
            return
        _add_script(node, "postScript", line)

    # ----- extension elements --------------------------------------------------------------

    def element(self, node: etree._Element, child: etree._Element) -> None:
        name = local_name(child.tag)
        kind = local_name(node.tag)
        if name in NO_EFFECT_ELEMENTS:
            return
        if name == "formData" and kind in ("userTask", "startEvent"):
            self.form_data(node, child)
        elif name == "inputOutput":
            self.input_output(node, child)
        elif name == "ioMapping":
            self.io_mapping(node, child)
        elif name == "assignmentDefinition" and kind == "userTask":
            for attr in ("assignee", "candidateUsers"):
                if child.get(attr):
                    self.assignee(node, attr, child.get(attr) or "")
            if child.get("candidateGroups"):
                self.candidate_groups(node, child.get("candidateGroups") or "")
        elif name == "formDefinition" and kind in ("userTask", "startEvent"):
            if child.get("formKey"):
                self.form_key(node, child.get("formKey") or "")
            elif child.get("formId"):
                self.refuse(
                    node,
                    f"the linked Camunda Form {child.get('formId')!r} cannot be"
                    " found by id; embed the form or name its .form file in formKey",
                )
        elif name == "userTaskForm":
            return  # read through formKey "camunda-forms:bpmn:<id>"
        elif name == "userTask" and kind == "userTask":
            return  # Camunda 8.5's marker for a Zeebe user task: a user task here anyway
        elif name == "calledDecision" and kind == "businessRuleTask":
            self.decision(node, child.get("decisionId") or "", child.get("resultVariable"), "zeebe")
        elif name in ("executionListener", "taskListener"):
            self.refuse(
                node,
                f"a {name} runs code on Camunda's events; Caseflow does not run listeners:"
                " model the work as a script task",
            )
        elif name in ("taskDefinition", "connector", "field", "subscription", "calledElement"):
            self.refuse(
                node,
                f"{etree.QName(child).namespace == ZEEBE_NS and 'zeebe' or 'camunda'}:{name}"
                " needs Camunda's job workers or connectors; Caseflow cannot run it",
            )
        else:
            self.refuse(
                node,
                f"the extension {name!r} on a {kind} is not supported; Caseflow refuses it"
                " rather than ignore it",
            )

    def form_data(self, node: etree._Element, child: etree._Element) -> None:

        element = node.get("id") or ""
        if element in self.out.forms or node.get(_q(CAMUNDA_NS, "formKey")):
            self.refuse(node, "both formKey and formData are set: keep one")
            return
        name = f"{self.form_prefix}.{element}.form.json"
        try:
            schema = schema_from_form_data(form_data_fields(node), name)
        except FormError as exc:
            self.refuse(node, str(exc))
            return
        self.out.generated_forms[name] = schema
        self.out.forms[element] = name

    def input_output(self, node: etree._Element, child: etree._Element) -> None:
        if local_name(node.tag) not in (
            "userTask",
            "scriptTask",
            "task",
            "manualTask",
            "serviceTask",
            "businessRuleTask",
            "callActivity",
            "subProcess",
            "sendTask",
            "receiveTask",
        ):
            self.refuse(node, "camunda:inputOutput is supported on tasks only")
            return
        for param in child:
            if not isinstance(param.tag, str):
                continue
            which = local_name(param.tag)
            target = param.get("name") or ""
            if any(isinstance(c.tag, str) for c in param):
                self.refuse(
                    node,
                    f"the {which} {target!r} is a script, list or map; only a text value or"
                    " ${name} is supported: compute it in a script task",
                )
                continue
            value = plain_value(param.text or "")
            if value is None or not _NAME.match(target):
                self.refuse(
                    node,
                    f"the {which} {target!r} = {(param.text or '').strip()!r} is an expression;"
                    " only a text value or ${name} is supported",
                )
                continue
            if which == "inputParameter":
                _add_script(node, "preScript", f"{target} = {value}")
            elif which == "outputParameter":
                _add_script(node, "postScript", f"{target} = {value}")

    def io_mapping(self, node: etree._Element, child: etree._Element) -> None:
        for param in child:
            if not isinstance(param.tag, str):
                continue
            which, source, target = (
                local_name(param.tag),
                param.get("source") or "",
                param.get("target") or "",
            )
            value = plain_value(source)
            if value is None or not _NAME.match(target):
                self.refuse(
                    node,
                    f"the {which} {source!r} → {target!r} is a FEEL expression; only = name is"
                    " supported: compute it in a script task",
                )
                continue
            _add_script(
                node, "preScript" if which == "input" else "postScript", f"{target} = {value}"
            )


def convert(
    v: Validation,
    filename: str,
    root: etree._Element,
    decisions: dict[str, tuple[str, list[str]]] | None = None,
) -> Imported:
    """Read (and for the parser, rewrite) the Camunda extensions of `root`, a copy of the
    owner's file; problems go to `v`."""
    return _Converter(v, filename, root, decisions or {}).run()
