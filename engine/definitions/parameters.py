"""Process defaults and parameters: the `default:<variable>` properties (JSON values a case
starts with) and the `parameter:<variable>` properties that describe them (unit, description),
checked at deploy and shown as a table on the process page."""

from __future__ import annotations

import json
import re
from typing import Any

from lxml import etree

from engine.definitions.properties import process_properties
from engine.definitions.sources import Validation


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
