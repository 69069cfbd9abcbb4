"""The case variables the KPIs read, named by process properties (satisfactionField,
promisedTimeField, actualTimeField, categoryField), and the deploy check that the process
sets each of them."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from engine.definitions.properties import process_properties
from engine.definitions.sources import Validation, local_name

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
