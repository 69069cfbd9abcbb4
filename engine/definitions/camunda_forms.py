"""Camunda forms as Caseflow forms: form-js files (``.form``) and Camunda 7 ``camunda:formData``.

Process owners bring diagrams drawn in Camunda Modeler. A user task there names its form either
as a Camunda Form file (form-js JSON, linked by ``camunda:formKey`` or ``formRef``) or inline as
``camunda:formData`` fields. Caseflow forms are JSON Schema (Draft 2020-12, see
``engine.definitions.forms``), so this module converts both into the shape our own files in
``forms/`` use:

* a field is a property: ``title`` from the label, ``description``, ``default``, and the
  constraints as JSON Schema keywords; long text is ``"x-widget": "textarea"``, radio buttons
  ``"x-widget": "radio"``, a read-only (or disabled) field ``"readOnly": true`` (shown, never
  taken from the submitter);
* options are an ``enum`` of their values; when a label differs from its value the labels
  follow in ``"x-labels"``, a list beside the ``enum`` in the same order (the shape the
  renderer takes as a field's ``labels``);
* a phone number is our usual ``pattern`` ``^\\+?[0-9 ()-]{6,20}$`` with ``maxLength`` 20;
* a required text field also gets ``minLength`` 1, and a required checkbox ``const: true``
  (form-js refuses an unticked required checkbox), as our own forms write them.

What cannot be honoured is refused with a ``FormError`` naming the component, never dropped
in silence: FEEL expressions (conditional visibility, computed labels, ``readonly`` by
expression), options given by ``valuesKey``/``valuesExpression``, dotted keys, duplicate keys,
groups with a data path, and the components that have no counterpart here (dynamic lists,
iframes, tables, expressions, file pickers, document previews). A group without a data path
only frames fields on screen, so its fields become fields of the form (its label is not kept).
Text components become the form's description (a lone heading before the first field its
title); html, images, spacers, separators and buttons add nothing.

Screen-only settings are left out on purpose: layout, appearance (prefix/suffix), custom
properties, ``increment``, ``decimalDigits`` above 0 (a float ``multipleOf`` is not exact in
jsonschema; 0 makes the field an integer), ``serializeToString``, ``searchable``, the
date/time picker options (``use24h``, ``timeInterval``, ``timeSerializingFormat``: our time
and date-time checks take a value with or without an offset).

Every result is checked with ``load_form_schema`` before it is returned.

Nothing here imports Flask or lxml: ``form_data_fields`` only walks the element it is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.core.linear_re import PatternError, compile_pattern
from engine.definitions.formchecks import _NO_REMOTE, FORMAT_CHECKER, FormValidator
from engine.definitions.forms import (
    DRAFT_2020_12,
    FormError,
    json_kind,
    load_form_schema,
    parse_form_json,
)
from engine.definitions.sources import BPMN_NS, CAMUNDA_NS

if TYPE_CHECKING:
    from lxml import etree

__all__ = [
    "LABELS_KEY",
    "PHONE_MAX_LENGTH",
    "PHONE_PATTERN",
    "form_data_fields",
    "schema_from_camunda_form",
    "schema_from_form_data",
]

# The phone check our own forms use for a phone number anywhere (consultation.record,
# signed_service_booking.request, ...): digits, spaces, brackets and dashes, "+" in front.
PHONE_PATTERN = r"^\+?[0-9 ()-]{6,20}$"
PHONE_MAX_LENGTH = 20
# Option labels, in the order of the "enum" they stand beside.
LABELS_KEY = "x-labels"

_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)

# --------------------------------------------------------------------------- form-js files

# Components that show something but hold no value.
_DISPLAY_ONLY = frozenset({"text", "html", "spacer", "separator", "image", "button"})
# Components with no counterpart in a Caseflow form.
_UNSUPPORTED = {
    "dynamiclist": "a repeating list of groups",
    "iframe": "an embedded web page",
    "table": "a table filled from process data",
    "expression": "a value computed by a FEEL expression",
    "filepicker": "a file upload bound to the Camunda document store",
    "documentPreview": "a preview of Camunda documents",
}
# The "validate" entries each field type may carry.
_VALIDATE_KEYS: dict[str, frozenset[str]] = {
    "textfield": frozenset({"required", "minLength", "maxLength", "pattern", "validationType"}),
    "textarea": frozenset({"required", "minLength", "maxLength"}),
    "number": frozenset({"required", "min", "max"}),
    "checkbox": frozenset({"required"}),
    "checklist": frozenset({"required"}),
    "radio": frozenset({"required"}),
    "select": frozenset({"required"}),
    "taglist": frozenset({"required"}),
    "datetime": frozenset({"required"}),
}
_DATETIME_FORMATS = {"date": "date", "time": "time", "datetime": "date-time"}


def schema_from_camunda_form(data: bytes | str, name: str) -> dict:
    """A Camunda Form file (form-js JSON as Camunda Modeler writes it) as a Caseflow form schema.

    ``name`` is only used in messages (the file name the process owner will look for). Raises
    ``FormError`` naming the component (its id, key and type) for anything that cannot be
    converted without changing what the form asks or checks.
    """
    form = parse_form_json(data, name)
    if not isinstance(form, dict):
        raise FormError(f"{name}: a Camunda form must be a JSON object, not {json_kind(form)}")
    components = form.get("components")
    if not isinstance(components, list):
        raise FormError(
            f'{name}: not a Camunda form: the top level has no "components" list '
            '(a form-js file starts with {"components": [...], "type": "default"})'
        )
    builder = _FormBuilder(name)
    builder.add_components(components, parent="")
    return _checked(builder.schema(), name)


class _FormBuilder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.title: str | None = None
        self.texts: list[str] = []
        self.properties: dict[str, dict] = {}
        self.required: list[str] = []

    def schema(self) -> dict:
        schema: dict[str, Any] = {"$schema": DRAFT_2020_12}
        if self.title:
            schema["title"] = self.title
        if self.texts:
            schema["description"] = "\n\n".join(self.texts)
        schema["type"] = "object"
        schema["properties"] = self.properties
        if self.required:
            schema["required"] = self.required
        return schema

    def add_components(self, components: list, parent: str) -> None:
        for index, component in enumerate(components):
            position = f"{parent}#{index + 1}"
            if not isinstance(component, dict):
                raise FormError(
                    f"{self.name}: component {position} is {json_kind(component)}, "
                    "not a component object"
                )
            self.add(component, _describe(component, self.name, position))

    def add(self, c: dict, where: str) -> None:
        kind = c.get("type")
        if not isinstance(kind, str) or not kind:
            raise FormError(f"{where} has no type")
        _refuse_conditional(c, where)
        if kind in _DISPLAY_ONLY:
            if kind == "text":
                self.add_text(c, where)
            return
        if kind == "group":
            path = c.get("path")
            if path:
                raise FormError(
                    f"{where}: the group stores its fields under the path {path!r} (nested "
                    "data), which is not supported; clear the group's path so its fields are "
                    "plain fields of the form"
                )
            children = c.get("components")
            if not isinstance(children, list):
                raise FormError(f'{where}: the group has no "components" list')
            # A group only frames its fields on screen: they become fields of the form itself.
            self.add_components(children, parent=f"{c.get('id') or 'group'} ")
            return
        if kind in _UNSUPPORTED:
            raise FormError(
                f"{where}: {kind!r} components ({_UNSUPPORTED[kind]}) are not supported in "
                "Caseflow forms"
            )
        if kind not in _VALIDATE_KEYS:
            raise FormError(f"{where}: unknown component type {kind!r}")
        key = _field_key(c.get("key"), where)
        if key in self.properties:
            raise FormError(f"{where}: the key {key!r} is used by two fields of this form")
        validate = c.get("validate") or {}
        if not isinstance(validate, dict):
            raise FormError(f'{where}: "validate" must be an object')
        for entry in validate:
            if entry not in _VALIDATE_KEYS[kind]:
                raise FormError(f"{where}: validate.{entry} is not supported on a {kind} field")
        required = validate.get("required") is True
        prop = _FIELD_BUILDERS[kind](c, validate, required, where)
        self.properties[key] = _with_common(prop, c, kind, where)
        if required:
            self.required.append(key)

    def add_text(self, c: dict, where: str) -> None:
        text = _static_text(c.get("text"), "text", where)
        if not text or not text.strip():
            return
        if "{{" in text:
            raise FormError(
                f"{where}: the text uses a template ({{{{ ... }}}}), which Caseflow cannot "
                "fill in; write the text itself"
            )
        lines = text.strip().splitlines()
        heading = re.fullmatch(r"#{1,6}\s+(.+)", lines[0].strip())
        if len(lines) == 1 and heading and self.title is None and not self.properties:
            self.title = heading.group(1).strip()
        else:
            self.texts.append(text.strip())


def _textfield(c: dict, validate: dict, required: bool, where: str) -> dict:
    prop = _string(validate, required, where)
    kind = validate.get("validationType")
    pattern = validate.get("pattern")
    if kind in (None, "", "custom"):
        pass
    elif kind == "email":
        prop["format"] = "email"
    elif kind == "phone":
        if pattern:
            raise FormError(
                f'{where}: validate.pattern and validationType "phone" are both set; keep one'
            )
        prop["pattern"] = PHONE_PATTERN
        prop["maxLength"] = min(prop.get("maxLength", PHONE_MAX_LENGTH), PHONE_MAX_LENGTH)
    else:
        raise FormError(f"{where}: validationType {kind!r} is not supported")
    if pattern:
        pattern = _static_text(pattern, "validate.pattern", where)
        try:
            compile_pattern(pattern)
        except PatternError as exc:
            raise FormError(f"{where}: validate.pattern: {exc}") from None
        prop["pattern"] = pattern
    return prop


def _textarea(c: dict, validate: dict, required: bool, where: str) -> dict:
    return {**_string(validate, required, where), "x-widget": "textarea"}


def _string(validate: dict, required: bool, where: str) -> dict:
    prop: dict[str, Any] = {"type": "string"}
    low = _count(validate.get("minLength"), "validate.minLength", where)
    high = _count(validate.get("maxLength"), "validate.maxLength", where)
    if required:
        low = max(low or 0, 1)  # "" is no answer, as in form-js
    if low:
        prop["minLength"] = low
    if high is not None:
        prop["maxLength"] = high
    return prop


def _number(c: dict, validate: dict, required: bool, where: str) -> dict:
    digits = c.get("decimalDigits")
    whole = digits == 0
    prop: dict[str, Any] = {"type": "integer" if whole else "number"}
    for entry, keyword in (("min", "minimum"), ("max", "maximum")):
        bound = _static(validate.get(entry), f"validate.{entry}", where)
        if bound is None or bound == "":
            continue
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise FormError(f"{where}: validate.{entry} must be a number, not {bound!r}")
        prop[keyword] = bound
    return prop


def _checkbox(c: dict, validate: dict, required: bool, where: str) -> dict:
    prop: dict[str, Any] = {"type": "boolean"}
    if required:
        prop["const"] = True  # form-js: a required checkbox must be ticked
    return prop


def _choice(c: dict, validate: dict, required: bool, where: str) -> dict:
    prop = {"type": "string", **_options(c, where)}
    if c.get("type") == "radio":
        prop["x-widget"] = "radio"
    return prop


def _many(c: dict, validate: dict, required: bool, where: str) -> dict:
    prop: dict[str, Any] = {
        "type": "array",
        "items": {"type": "string", **_options(c, where)},
        "uniqueItems": True,
    }
    if required:
        prop["minItems"] = 1  # form-js: an empty selection is no answer
    return prop


def _datetime(c: dict, validate: dict, required: bool, where: str) -> dict:
    subtype = c.get("subtype") or "date"
    if subtype not in _DATETIME_FORMATS:
        raise FormError(f"{where}: datetime subtype {subtype!r} is not supported")
    if c.get("disallowPassedDates") is True:
        raise FormError(
            f"{where}: disallowPassedDates (no date before today) cannot be checked by a "
            "Caseflow form; clear it and check the date in the process"
        )
    return {"type": "string", "format": _DATETIME_FORMATS[subtype]}


_FIELD_BUILDERS: dict[str, Callable[[dict, dict, bool, str], dict]] = {
    "textfield": _textfield,
    "textarea": _textarea,
    "number": _number,
    "checkbox": _checkbox,
    "checklist": _many,
    "taglist": _many,
    "radio": _choice,
    "select": _choice,
    "datetime": _datetime,
}


def _options(c: dict, where: str) -> dict:
    """``enum`` (and ``x-labels``) from a component's static ``values``."""
    for dynamic in ("valuesKey", "valuesExpression"):
        if c.get(dynamic):
            raise FormError(
                f"{where}: the options come from {dynamic} {c[dynamic]!r} (filled in at run "
                "time), which is not supported; list the options in the form (static values)"
            )
    values = c.get("values")
    if not isinstance(values, list) or not values:
        raise FormError(f"{where}: has no options (static values)")
    enum: list[str] = []
    labels: list[str] = []
    for option in values:
        value = option.get("value") if isinstance(option, dict) else None
        if not isinstance(value, str) or not value:
            raise FormError(f"{where}: option {option!r} has no text value")
        if value in enum:
            raise FormError(f"{where}: the option value {value!r} appears twice")
        label = _static_text(option.get("label"), "an option label", where)
        enum.append(value)
        labels.append(label if label else value)
    result: dict[str, Any] = {"enum": enum}
    if labels != enum:
        result[LABELS_KEY] = labels
    return result


def _with_common(prop: dict, c: dict, kind: str, where: str) -> dict:
    """Title, description, read-only and default, in the order our own files write them."""
    label = _static_text(c.get("label"), "label", where)
    if kind == "datetime" and not label:
        subtype = c.get("subtype") or "date"
        label = _static_text(
            c.get("timeLabel" if subtype == "time" else "dateLabel"), "label", where
        )
    head: dict[str, Any] = {"type": prop.pop("type")}
    if label:
        head["title"] = label
    description = _static_text(c.get("description"), "description", where)
    if description:
        head["description"] = description
    prop = {**head, **prop}
    for flag in ("readonly", "disabled"):
        value = _static(c.get(flag), flag, where)
        if value not in (None, False, True):
            raise FormError(f"{where}: {flag} must be true or false, not {value!r}")
        if value is True:
            prop["readOnly"] = True
    default = c.get("defaultValue")
    if default is not None and default != "":
        _check_default(prop, default, where, "defaultValue")
        prop["default"] = default
    return prop


def _refuse_conditional(c: dict, where: str) -> None:
    conditional = c.get("conditional")
    if isinstance(conditional, dict) and conditional.get("hide"):
        raise FormError(
            f"{where}: conditional.hide {conditional['hide']!r} is a FEEL expression; Caseflow "
            "cannot evaluate FEEL, so conditional fields are refused (remove the condition, "
            "or split the form)"
        )


def _field_key(key: object, where: str) -> str:
    if not isinstance(key, str) or not key:
        raise FormError(f"{where}: the field has no key (the name its value is stored under)")
    if _KEY_RE.fullmatch(key):
        return key
    if "." in key and all(_KEY_RE.fullmatch(part) for part in key.split(".")):
        raise FormError(
            f"{where}: the key {key!r} is a dotted path (form-js stores it as nested data); "
            f"Caseflow fields need plain names, e.g. {key.replace('.', '_')!r}"
        )
    raise FormError(
        f"{where}: the key {key!r} is not a plain name; use letters, digits and _ "
        "(not starting with a digit)"
    )


def _static(value: object, what: str, where: str) -> object:
    if isinstance(value, str) and value.startswith("="):
        raise FormError(
            f"{where}: {what} {value!r} is a FEEL expression; Caseflow cannot evaluate FEEL, "
            "write the value itself"
        )
    return value


def _static_text(value: object, what: str, where: str) -> str | None:
    value = _static(value, what, where)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FormError(f"{where}: {what} must be text, not {json_kind(value)}")
    return value


def _count(value: object, what: str, where: str) -> int | None:
    value = _static(value, what, where)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FormError(f"{where}: {what} must be a whole number of 0 or more, not {value!r}")
    return value


def _describe(c: dict, name: str, position: str) -> str:
    """How messages name a component: "review.form: component 'Field_1' (textfield, key 'x')"."""
    ident = c.get("id")
    head = (
        f"{name}: component {ident!r}"
        if isinstance(ident, str) and ident
        else (f"{name}: component {position}")
    )
    details = [c["type"]] if isinstance(c.get("type"), str) else []
    if isinstance(c.get("key"), str):
        details.append(f"key {c['key']!r}")
    return f"{head} ({', '.join(details)})" if details else head


# --------------------------------------------------------------------------- Camunda 7 formData

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
            _check_default(prop, default, where, "defaultValue")
            prop["default"] = default
        properties[key] = prop
    schema: dict[str, Any] = {"$schema": DRAFT_2020_12, "type": "object"}
    schema["properties"] = properties
    if required:
        schema["required"] = required
    return _checked(schema, name)


def _form_data_key(ident: object, where: str) -> str:
    if not isinstance(ident, str) or not ident:
        raise FormError(f"{where}: the form field has no id (the name its value is stored under)")
    if not _KEY_RE.fullmatch(ident):
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


# --------------------------------------------------------------------------- shared


def _check_default(prop: dict, default: Any, where: str, what: str) -> None:
    validator = FormValidator(prop, format_checker=FORMAT_CHECKER, registry=_NO_REMOTE)
    error = next(iter(validator.iter_errors(default)), None)
    if error is not None:
        raise FormError(f"{where}: {what} {default!r} does not fit the field: {error.message}")


def _checked(schema: dict, name: str) -> dict:
    """The schema, after it passed the same checks as a form file of our own."""
    load_form_schema(json.dumps(schema, ensure_ascii=False), name)
    return schema
