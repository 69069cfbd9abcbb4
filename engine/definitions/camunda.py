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

from lxml import etree

from engine.definitions.camunda_assignment import AssignmentRules
from engine.definitions.camunda_base import ZEEBE_NS, Imported, q
from engine.definitions.camunda_mappings import DataMappings
from engine.definitions.sources import BPMN_NS, CAMUNDA_NS, Validation, local_name

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


def _extension_children(node: etree._Element) -> list[etree._Element]:
    return [
        child
        for ext in node
        if isinstance(ext.tag, str) and ext.tag == q(BPMN_NS, "extensionElements")
        for child in ext
        if isinstance(child.tag, str)
    ]


class _Converter(AssignmentRules, DataMappings):
    """The walk over a diagram's camunda/zeebe attributes and extension elements, each one
    handed to its rule or refused."""

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
                self.multi_instance(node, value, node.get(q(CAMUNDA_NS, "elementVariable")))
            elif not node.get(q(CAMUNDA_NS, "collection")):
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
                node.get(q(CAMUNDA_NS, "resultVariable")),
                node.get(q(CAMUNDA_NS, "mapDecisionResult")) or "resultList",
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


def convert(
    v: Validation,
    filename: str,
    root: etree._Element,
    decisions: dict[str, tuple[str, list[str]]] | None = None,
) -> Imported:
    """Read (and for the parser, rewrite) the Camunda extensions of `root`, a copy of the
    owner's file; problems go to `v`."""
    return _Converter(v, filename, root, decisions or {}).run()
