"""Process properties read at deploy: reading them from the diagram, the forms a case starts
with and the customer booking page, whether a process starts on its own, the case number
prefix. Defaults and parameters are in engine.definitions.parameters, the KPI variables in
engine.definitions.kpi_fields, who may start a process in engine.definitions.starting."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from engine.definitions.sources import BPMN_NS, CAMUNDA_NS, FormPlan, Validation, local_name


def process_properties(root: etree._Element, key: str) -> dict[str, str]:
    """The `spiffworkflow:property` / `camunda:property` values of process `key`; Camunda's
    `candidateStarterGroups` attribute stands for `startRoles` when that is not given."""
    for node in root:
        if local_name(node.tag) == "process" and node.get("id") == key:
            props = {}
            for ext in node:
                if local_name(ext.tag) != "extensionElements":
                    continue
                for prop in ext.iter():
                    if local_name(prop.tag) == "property" and prop.get("name"):
                        props[prop.get("name")] = prop.get("value") or ""
            starters = node.get(f"{{{CAMUNDA_NS}}}candidateStarterGroups")
            if starters and not props.get("startRoles"):
                props["startRoles"] = starters
            return props
    return {}


# Process property naming the form of a message from the customer: messageForm:<message>.
MESSAGE_FORM = "messageForm:"


def portal_forms(
    v: Validation,
    filename: str,
    root: etree._Element,
    key: str,
    forms: dict[str, FormPlan],
    used_forms: dict[str, str],
) -> dict[str, Any] | None:
    """The forms a case starts with, and the customer booking page.

    Process property `startForm` names the form a case starts with: a start may bring only its
    fields (besides the process defaults), valid by it. With `portalTitle` too, customers can
    book the process online with that form. `staffStartForm` names another form for starts by
    staff (the API, the command line), for a process whose first task completes the request,
    so that a phone call can start it with what is known so far. Stored as {"start_form",
    "title" (only when bookable), "staff_start_form" (only when given)}; deploy adds the ids.

    `messageForm:<message>` names the form of a message the case waits for from its customer
    (a resubmission, a survey answer): the page a customer's link opens shows it
    (engine.casework.links). Stored as {"message_forms": {message: form}}; deploy adds
    "message_form_ids"."""
    props = process_properties(root, key)
    title, start_form = props.get("portalTitle"), props.get("startForm")
    staff_form = props.get("staffStartForm")
    message_forms = {
        name[len(MESSAGE_FORM) :]: value.strip()
        for name, value in props.items()
        if name.startswith(MESSAGE_FORM)
    }
    if not title and not start_form and not staff_form and not message_forms:
        return None
    if title and not start_form:
        v.add(
            filename,
            key,
            "a customer booking page (portalTitle) needs a startForm",
            "startForm",
        )
        return None
    found: dict[str, Any] = {}
    wanted = [
        ("start form", start_form, "start_form", "startForm"),
        ("staff start form", staff_form, "staff_start_form", "staffStartForm"),
    ]
    messages = {m.get("name") for m in root.iter(f"{{{BPMN_NS}}}message")}
    for message in sorted(message_forms):
        if message not in messages:
            v.add(
                filename,
                key,
                f"{MESSAGE_FORM}{message}: the diagram has no message {message!r}",
                f"{MESSAGE_FORM}{message}",
            )
            return None
        wanted.append(
            (f"form of message {message!r}", message_forms[message], "", f"{MESSAGE_FORM}{message}")
        )
    for what, name, field_name, prop in wanted:
        if not name:
            continue
        if not v.use_form(name, forms, used_forms):
            v.add(
                filename,
                key,
                f"{what} {name!r} is not among the files deployed with it nor already deployed",
                prop,
            )
            return None
        if field_name:
            found[field_name] = name
    if message_forms:
        found["message_forms"] = message_forms
    if title:
        found["title"] = title
    return found


def startable(v: Validation, filename: str, root: etree._Element, key: str) -> bool:
    """Process property `startable`: "false" for a process that only other processes call
    (e.g. a shared matching step); it cannot be started on its own."""
    value = process_properties(root, key).get("startable")
    if value is None or value.strip().lower() == "true":
        return True
    if value.strip().lower() == "false":
        return False
    v.add(filename, key, f"property startable must be true or false, not {value!r}", "startable")
    return True


def case_prefix(root: etree._Element, key: str) -> str:
    for node in root.iter():
        if local_name(node.tag) == "process" and node.get("id") == key:
            for prop in node.iter():
                if local_name(prop.tag) == "property" and prop.get("name") == "casePrefix":
                    value = (prop.get("value") or "").strip().upper()
                    if re.match(r"^[A-Z]{1,6}$", value):
                        return value
    letters = "".join(word[0] for word in key.split("_") if word)[:3].upper()
    return re.sub(r"[^A-Z]", "", letters) or "CASE"
