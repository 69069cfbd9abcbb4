"""Camunda 7 inline forms (``camunda:formData`` on a user task or start event) as Caseflow
form schemas: the fields read from the element, their types (string, long, boolean, date,
enum), constraints and default values. Anything else is refused with a ``FormError`` naming
the field.

Nothing here imports lxml at run time: ``form_data_fields`` only walks the element it is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.definitions.camunda_forms import FIELD_KEY_RE, LABELS_KEY, check_default, checked_schema
from engine.definitions.forms import DRAFT_2020_12, FormError
from engine.definitions.sources import BPMN_NS, CAMUNDA_NS

if TYPE_CHECKING:
    from lxml import etree


_FORM_DATA_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "long": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "enum": {"type": "string"},
}
_CONSTRAINTS = ("required", "minlength", "maxlength", "min", "max", "readonly")


def form_data_fields(element: etree._Element) -> list[dict]:
    """The ``camunda:formData`` fields of a userTask or startEvent, as plain dicts.

    Each: ``{"id", "label", "type", "defaultValue", "values": [{"id", "name"}],
    "validation": [{"name", "config"}]}``; attributes that are absent are None. ``[]`` when
    the element has no formData.
    """
    extensions = element.find(f"{{{BPMN_NS}}}extensionElements")
    if extensions is None:
        return []
    form_data = extensions.find(f"{{{CAMUNDA_NS}}}formData")
    if form_data is None:
        return []
    fields: list[dict] = []
    for node in form_data.findall(f"{{{CAMUNDA_NS}}}formField"):
        values = node.findall(f"{{{CAMUNDA_NS}}}value")
        constraints = node.findall(f"{{{CAMUNDA_NS}}}validation/{{{CAMUNDA_NS}}}constraint")
        fields.append(
            {
                "id": node.get("id"),
                "label": node.get("label"),
                "type": node.get("type"),
                "defaultValue": node.get("defaultValue"),
                "values": [{"id": v.get("id"), "name": v.get("name")} for v in values],
                "validation": [
                    {"name": c.get("name"), "config": c.get("config")} for c in constraints
                ],
            }
        )
    return fields


def schema_from_form_data(fields: list[dict], name: str) -> dict:
    """Camunda 7 inline form fields (as ``form_data_fields`` reads them) as a Caseflow form.

    long → integer, date → ``format: date``, enum → ``enum`` (labels in ``x-labels``),
    required → ``required`` (a text also ``minLength`` 1; a boolean stays free to be false, as
    in Camunda 7), minlength/maxlength → minLength/maxLength, min/max → minimum/maximum,
    readonly → readOnly. Any other type or constraint raises ``FormError``.
    """
    properties: dict[str, dict] = {}
    required: list[str] = []
    for index, field in enumerate(fields):
        ident = field.get("id")
        where = f"{name}: form field {ident!r}" if ident else f"{name}: form field #{index + 1}"
        key = _form_data_key(ident, where)
        if key in properties:
            raise FormError(f"{where}: the id {key!r} is used by two form fields")
        kind = field.get("type")
        if kind not in _FORM_DATA_TYPES:
            raise FormError(
                f"{where}: type {kind!r} is not supported; Caseflow knows "
                + ", ".join(_FORM_DATA_TYPES)
            )
        prop: dict[str, Any] = dict(_FORM_DATA_TYPES[kind])
        if field.get("label"):
            prop["title"] = str(field["label"])
        if kind == "enum":
            prop.update(_form_data_options(field.get("values") or [], where))
        if _form_data_constraints(prop, kind, field.get("validation") or [], where):
            required.append(key)
        default = _form_data_default(prop, kind, field.get("defaultValue"), where)
        if default is not None:
            check_default(prop, default, where, "defaultValue")
            prop["default"] = default
        properties[key] = prop
    schema: dict[str, Any] = {"$schema": DRAFT_2020_12, "type": "object"}
    schema["properties"] = properties
    if required:
        schema["required"] = required
    return checked_schema(schema, name)


def _form_data_key(ident: object, where: str) -> str:
    if not isinstance(ident, str) or not ident:
        raise FormError(f"{where}: the form field has no id (the name its value is stored under)")
    if not FIELD_KEY_RE.fullmatch(ident):
        raise FormError(
            f"{where}: the id {ident!r} is not a plain name; use letters, digits and _ "
            "(not starting with a digit)"
        )
    return ident


def _form_data_options(values: Iterable[dict], where: str) -> dict:
    enum: list[str] = []
    labels: list[str] = []
    for value in values:
        ident = value.get("id") if isinstance(value, dict) else None
        if not isinstance(ident, str) or not ident:
            raise FormError(f"{where}: an enum value has no id")
        if ident in enum:
            raise FormError(f"{where}: the enum value {ident!r} appears twice")
        enum.append(ident)
        labels.append(str(value.get("name") or ident))
    if not enum:
        raise FormError(f"{where}: an enum field needs at least one value")
    result: dict[str, Any] = {"enum": enum}
    if labels != enum:
        result[LABELS_KEY] = labels
    return result


def _form_data_constraints(prop: dict, kind: str, constraints: Iterable[dict], where: str) -> bool:
    """Add the constraints to ``prop``; whether the field is required."""
    required = False
    for constraint in constraints:
        cname = constraint.get("name") if isinstance(constraint, dict) else None
        config = constraint.get("config") if isinstance(constraint, dict) else None
        if cname == "required":
            required = True
            if kind == "string":
                prop["minLength"] = max(prop.get("minLength", 0), 1)
        elif cname == "readonly":
            prop["readOnly"] = True
        elif cname in ("minlength", "maxlength"):
            if kind != "string":
                raise FormError(f"{where}: constraint {cname!r} only applies to string fields")
            count = _config_number(config, cname, where)
            if not isinstance(count, int) or count < 0:
                raise FormError(f"{where}: constraint {cname!r} needs a whole number of 0 or more")
            prop["minLength" if cname == "minlength" else "maxLength"] = count
        elif cname in ("min", "max"):
            if kind != "long":
                raise FormError(f"{where}: constraint {cname!r} only applies to long fields")
            prop["minimum" if cname == "min" else "maximum"] = _config_number(config, cname, where)
        else:
            raise FormError(
                f"{where}: constraint {cname!r} is not supported; Caseflow knows "
                + ", ".join(_CONSTRAINTS)
            )
    return required


def _config_number(config: object, cname: str, where: str) -> int | float:
    text = str(config).strip() if config is not None else ""
    try:
        value = float(text)
    except ValueError:
        raise FormError(
            f"{where}: constraint {cname!r} needs a number as config, not {config!r}"
        ) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FormError(f"{where}: constraint {cname!r} needs a number as config, not {config!r}")
    return int(value) if value.is_integer() else value


def _form_data_default(prop: dict, kind: str, default: object, where: str) -> Any:
    if default is None or default == "":
        return None
    text = str(default)
    if re.search(r"[$#]\{", text):
        raise FormError(
            f"{where}: defaultValue {text!r} is an expression; Caseflow cannot evaluate it, "
            "write the value itself"
        )
    if kind == "long":
        try:
            return int(text.strip())
        except ValueError:
            raise FormError(f"{where}: defaultValue {text!r} is not a whole number") from None
    if kind == "boolean":
        word = text.strip().lower()
        if word not in ("true", "false"):
            raise FormError(f"{where}: defaultValue {text!r} is not true or false")
        return word == "true"
    if kind == "date":
        # Camunda 7 writes dates as dd/MM/yyyy; an ISO date is taken as it is.
        for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
            try:
                return datetime.strptime(text.strip(), pattern).date().isoformat()
            except ValueError:
                continue
        raise FormError(f"{where}: defaultValue {text!r} is not a date (dd/MM/yyyy)")
    return text
