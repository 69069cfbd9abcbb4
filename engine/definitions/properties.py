"""Process properties read at deploy and what they decide: variable defaults, the start forms
and the customer booking page, whether a process starts on its own, who may start it, the case
number prefix."""

from __future__ import annotations

import json
import re
from typing import Any

from lxml import etree

from engine.core.settings import Settings
from engine.definitions.sources import (
    BPMN_NS,
    CAMUNDA_NS,
    FormPlan,
    Validation,
    local_name,
)


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


def process_defaults(
    v: Validation, filename: str, root: etree._Element, key: str
) -> dict[str, Any]:
    """Process properties named "default:<variable>" hold JSON values (2, "abc", true, [..]).

    A process parameter (a default the owner tunes: reminder hours, a fee) may say what it is
    in "parameter:<variable>": JSON {"unit": …, "description": …}, both optional texts. It
    describes a default, so one without its "default:<variable>" is refused."""
    out: dict[str, Any] = {}
    props = process_properties(root, key)
    for name, value in props.items():
        if name.startswith(PARAMETER):
            check_parameter(v, filename, key, name, value, props)
        if not name.startswith("default:"):
            continue
        variable = name.split(":", 1)[1].strip()
        if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", variable):
            v.add(
                filename,
                key,
                f"default {name!r}: {variable!r} is not a valid variable name",
                name,
            )
            continue
        try:
            out[variable] = json.loads(value)
        except json.JSONDecodeError:
            v.add(
                filename,
                key,
                f"default {name!r}: {value!r} is not a JSON value (write strings in quotes)",
                name,
            )
    return out


# Process property describing a parameter (a default): parameter:<variable>.
PARAMETER = "parameter:"
PARAMETER_KEYS = ("unit", "description")


def check_parameter(
    v: Validation, filename: str, key: str, name: str, value: str, props: dict[str, str]
) -> None:
    """`parameter:<variable>` is a JSON object with only "unit" and "description" (texts),
    beside a `default:<variable>`."""
    variable = name[len(PARAMETER) :].strip()
    if f"default:{variable}" not in props:
        v.add(
            filename,
            key,
            f"parameter {variable!r} has a unit or description but no value: add"
            f" default:{variable} (a JSON value) or remove {name}",
            name,
        )
        return
    try:
        found = json.loads(value or "{}")
    except json.JSONDecodeError:
        found = None
    if not isinstance(found, dict):
        v.add(
            filename,
            key,
            f"{name}: {value!r} is not a JSON object such as"
            ' {"unit": "hours", "description": "…"}',
            name,
        )
        return
    unknown = sorted(set(found) - set(PARAMETER_KEYS))
    if unknown:
        v.add(
            filename,
            key,
            f"{name}: unknown key(s) {', '.join(map(repr, unknown))}; only"
            f" {' and '.join(map(repr, PARAMETER_KEYS))} are read",
            name,
        )
    for what in PARAMETER_KEYS:
        if what in found and not isinstance(found[what], str):
            v.add(filename, key, f"{name}: {what!r} must be a text", name)


def version_parameters(xml: str, key: str) -> list[dict[str, Any]]:
    """The parameter table (process_parameters) of process `key` in a stored version's BPMN,
    for the process page; empty when the text cannot be read."""
    from engine.spiff.xmlsafe import UnsafeXML, parse_xml

    data = xml.encode("utf-8")
    try:
        return process_parameters(parse_xml(data, len(data)), key)
    except (UnsafeXML, etree.XMLSyntaxError):
        return []


def process_parameters(root: etree._Element, key: str) -> list[dict[str, Any]]:
    """The process's defaults as a table: [{"name", "value", "unit", "description"}] in the
    order written (the unit and description from parameter:<name>, empty when not given).
    Values that are not JSON come as written; deploy refuses them."""
    props = process_properties(root, key)
    rows = []
    for name, value in props.items():
        if not name.startswith("default:"):
            continue
        variable = name.split(":", 1)[1].strip()
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        try:
            about = json.loads(props.get(f"{PARAMETER}{variable}") or "{}")
        except json.JSONDecodeError:
            about = {}
        about = about if isinstance(about, dict) else {}
        rows.append(
            {
                "name": variable,
                "value": parsed,
                "unit": str(about.get("unit") or ""),
                "description": str(about.get("description") or ""),
            }
        )
    return rows


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


SUPERVISOR_ROLE = "supervisor"


def start_roles(
    props: dict[str, str], spec: Any, subprocess_specs: dict[str, Any], settings: Settings
) -> tuple[list[str], list[str]]:
    """(the roles that may start the process, the names in its `startRoles` that are no role).

    Process property `startRoles`: role ids or lane names, comma-separated. Without it: the
    role of the process's first user task (the lane of the first one reached from the start
    event, looking into called and embedded subprocesses) and supervisor."""
    written = (props.get("startRoles") or "").strip()
    if written:
        roles: list[str] = []
        unknown: list[str] = []
        for name in (n.strip() for n in re.split(r"[,，]", written)):
            if not name:
                continue
            role = settings.role_for_lane(name)
            if role is None:
                unknown.append(name)
            elif role not in roles:
                roles.append(role)
        return roles, unknown
    first = _first_user_task(spec, subprocess_specs)
    roles = [] if first is None else [settings.role_for_lane(first.lane) or settings.default_role]
    return list(dict.fromkeys([*roles, SUPERVISOR_ROLE])), []


def _first_user_task(spec: Any, subprocess_specs: dict[str, Any]) -> Any | None:
    """The first user task reached from the start, breadth first (None when there is none)."""
    queue, seen = [spec.start], set()
    while queue:
        task_spec = queue.pop(0)
        if id(task_spec) in seen:
            continue
        seen.add(id(task_spec))
        if getattr(task_spec, "manual", False):
            return task_spec
        called = getattr(task_spec, "spec", None)
        if isinstance(called, str) and called in subprocess_specs:
            queue.append(subprocess_specs[called].start)
        queue.extend(task_spec.outputs)
    return None


def check_start_roles(
    v: Validation, filename: str, root: etree._Element, key: str, spec: Any, subs: dict[str, Any]
) -> None:
    """Refuse a `startRoles` that names no known role (as an unknown lane is refused)."""
    roles, unknown = start_roles(process_properties(root, key), spec, subs, v.settings)
    known = ", ".join(f"{k} ({n})" for k, n in v.settings.roles.items())
    for name in unknown:
        v.add(
            filename,
            key,
            f"startRoles: {name!r} is not a known role; known roles: {known}",
            "startRoles",
        )
    if not roles and not unknown:
        v.add(
            filename, key, "startRoles names no role (leave it out for the default)", "startRoles"
        )


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


# Process properties naming the case variables the KPIs read (engine.casework.metrics), so no
# KPI guesses at field names: the 1–5 score of the satisfaction form, the time promised to the
# customer (an appointment, a reply deadline) and the time the service or reply happened; and
# the category the case is classified into (a consultation's 咨詢分類, for the category report).
KPI_PROPERTIES = {
    "satisfactionField": "satisfaction",
    "promisedTimeField": "promised",
    "actualTimeField": "actual",
    "categoryField": "category",
}


def kpi_fields(v: Validation, filename: str, root: etree._Element, key: str) -> dict[str, str]:
    """{"satisfaction", "promised", "actual", "category"} -> variable name, for those the
    process declares."""
    props = process_properties(root, key)
    out: dict[str, str] = {}
    for prop, name in KPI_PROPERTIES.items():
        value = (props.get(prop) or "").strip()
        if not value:
            continue
        if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", value):
            v.add(filename, key, f"property {prop}: {value!r} is not a variable name", prop)
            continue
        out[name] = value
    return out


_SCRIPT_ELEMENTS = {"script", "preScript", "postScript"}


def _assigns(code: str, name: str) -> bool:
    """Whether Python `code` assigns `name` at some line's start (a = …, a, b = …, a += …)."""
    pattern = rf"(?m)^\s*(?:[A-Za-z_][\w\s,]*,\s*)?{re.escape(name)}\s*(?:,[\w\s,]*)?[-+*/]?=(?!=)"
    return re.search(pattern, code) is not None


def check_kpi_fields(
    v: Validation,
    filename: str,
    key: str,
    fields: dict[str, str] | None,
    schemas: list[dict[str, Any]],
    defaults: dict[str, Any] | None,
    trees: list[tuple[str, etree._Element]],
) -> None:
    """Each variable a KPI property names must be something the process sets: a field of one
    of its forms, a default, a script's assignment, a message variable or a decision's output
    (otherwise the figure stays blank and nobody is told). The satisfaction score must be a
    number field of a form."""
    if not fields:
        return
    form_fields: dict[str, dict[str, Any]] = {}
    for schema in schemas:
        for name, spec in (schema.get("properties") or {}).items():
            if isinstance(spec, dict):
                form_fields.setdefault(name, spec)
    codes: list[str] = []
    outputs: set[str] = set()
    for kind, root in trees:
        for node in root.iter():
            if not isinstance(node.tag, str):
                continue
            local = local_name(node.tag)
            if kind == "dmn" and local == "output" and node.get("name"):
                outputs.add(node.get("name"))
            elif local in _SCRIPT_ELEMENTS and node.text:
                codes.append(node.text)
            elif local == "messageVariable" and node.text:
                outputs.add(node.text.strip())
            if node.get("resultVariable"):
                outputs.add(node.get("resultVariable"))
    prop_of = {name: prop for prop, name in KPI_PROPERTIES.items()}
    for what, variable in fields.items():
        prop = prop_of.get(what, what)
        if what == "satisfaction":
            spec = form_fields.get(variable)
            if spec is None:
                v.add(
                    filename, key, f"{prop}: no form of the process has a field {variable!r}", prop
                )
            elif spec.get("type") not in ("integer", "number"):
                v.add(
                    filename,
                    key,
                    f"{prop}: field {variable!r} is not a number (a 1–5 score)",
                    prop,
                )
            continue
        if (
            variable in form_fields
            or variable in (defaults or {})
            or variable in outputs
            or any(_assigns(code, variable) for code in codes)
        ):
            continue
        v.add(
            filename,
            key,
            f"{prop}: {variable!r} is set by no form, default, script or decision of the process",
            prop,
        )
