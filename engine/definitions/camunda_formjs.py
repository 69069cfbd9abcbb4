"""A Camunda Form file (form-js JSON, ``.form``) as a Caseflow form schema: the walk over its
components; each field type's conversion is in ``engine.definitions.camunda_formjs_fields``,
the conventions both Camunda converters share in ``engine.definitions.camunda_forms``.

Refused with a ``FormError`` naming the component: FEEL expressions (conditional visibility,
computed labels, ``readonly`` by expression), options given by ``valuesKey``/
``valuesExpression``, dotted keys, duplicate keys, groups with a data path, and the components
that have no counterpart here (dynamic lists, iframes, tables, expressions, file pickers,
document previews). A group without a data path only frames fields on screen, so its fields
become fields of the form (its label is not kept). Text components become the form's
description (a lone heading before the first field its title); html, images, spacers,
separators and buttons add nothing.

Screen-only settings are left out on purpose: layout, appearance (prefix/suffix), custom
properties, ``increment``, ``decimalDigits`` above 0 (a float ``multipleOf`` is not exact in
jsonschema; 0 makes the field an integer), ``serializeToString``, ``searchable``, the
date/time picker options (``use24h``, ``timeInterval``, ``timeSerializingFormat``: our time
and date-time checks take a value with or without an offset).
"""

from __future__ import annotations

import re
from typing import Any

from engine.definitions.camunda_formjs_fields import FIELD_BUILDERS, static_text, with_common
from engine.definitions.camunda_forms import FIELD_KEY_RE, checked_schema
from engine.definitions.forms import DRAFT_2020_12, FormError, json_kind, parse_form_json

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
    return checked_schema(builder.schema(), name)


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
        prop = FIELD_BUILDERS[kind](c, validate, required, where)
        self.properties[key] = with_common(prop, c, kind, where)
        if required:
            self.required.append(key)

    def add_text(self, c: dict, where: str) -> None:
        text = static_text(c.get("text"), "text", where)
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
    if FIELD_KEY_RE.fullmatch(key):
        return key
    if "." in key and all(FIELD_KEY_RE.fullmatch(part) for part in key.split(".")):
        raise FormError(
            f"{where}: the key {key!r} is a dotted path (form-js stores it as nested data); "
            f"Caseflow fields need plain names, e.g. {key.replace('.', '_')!r}"
        )
    raise FormError(
        f"{where}: the key {key!r} is not a plain name; use letters, digits and _ "
        "(not starting with a digit)"
    )


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
