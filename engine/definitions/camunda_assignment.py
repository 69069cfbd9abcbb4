"""Camunda's task assignment and task forms: candidate groups as the task's role, an assignee
or a single candidate user as its assignment, a form key naming a Camunda Form or JSON Schema
file, an embedded Camunda 8 form or inline Camunda 7 formData as a generated form."""

from __future__ import annotations

import re

from lxml import etree

from engine.definitions.camunda_base import Conversion, plain_value, q
from engine.definitions.camunda_formdata import form_data_fields, schema_from_form_data
from engine.definitions.camunda_formjs import schema_from_camunda_form
from engine.definitions.forms import FormError
from engine.definitions.sources import CAMUNDA_NS


class AssignmentRules(Conversion):
    """Who works a user task and with which form."""

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

    def form_data(self, node: etree._Element, child: etree._Element) -> None:

        element = node.get("id") or ""
        if element in self.out.forms or node.get(q(CAMUNDA_NS, "formKey")):
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
