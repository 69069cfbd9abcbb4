"""User-task forms: JSON Schema files checked at deploy time and enforced on the server.

Every user task has a form written as a JSON Schema (Draft 2020-12). The web UI renders it
without JavaScript, so the server is the only place a submission is checked, and the browser
posts every value as a string. This module loads forms:
``load_form_schema`` refuses a broken form when a process is deployed, not when a clerk first
opens the task, and ``form_fields`` lists the fields a page shows. Beside it:
``engine.definitions.coercion`` turns the posted strings into the types the schema asks for,
``engine.definitions.submission`` answers per-field errors in words a clerk understands and
keeps only the declared fields, and ``engine.definitions.formchecks`` checks single values.

Date, date-time and time formats are checked by our own ``datetime.fromisoformat`` based
checkers instead of jsonschema's, which need the optional ``rfc3339-validator`` package for
date-time (without it jsonschema silently accepts "2026-13-40T99:00"). Our date-time check also
accepts what ``<input type="datetime-local">`` posts ("2026-03-05T14:30": no seconds, no
offset), which strict RFC 3339 would refuse.

Nothing here imports Flask: a form post is any mapping of names to strings or lists of
strings (a werkzeug ``MultiDict`` works too, through its ``getlist``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from engine.core.linear_re import PatternError, compile_pattern
from engine.definitions.coercion import _resolve, _type
from engine.spiff.scripts import ScriptError, check_expression

__all__ = [
    "CHECKS",
    "FormError",
    "default_confirmation_schema",
    "form_fields",
    "json_kind",
    "load_form_schema",
    "parse_form_json",
    "prefilled_values",
    "with_case_limits",
]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_REF_KEYWORDS = ("$ref", "$dynamicRef")


class FormError(Exception):
    """A form schema cannot be used; the message names the file and what is wrong."""


# --------------------------------------------------------------------------- loading


def parse_form_json(text: str | bytes, name: str) -> Any:
    """A form file's JSON (UTF-8, a BOM allowed): FormError names the line and column of a
    syntax error, a key given twice in one object (JSON would keep the last silently) and
    nesting too deep to read."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FormError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    text = text.removeprefix("\ufeff")  # a BOM left by Windows editors is not an error
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise FormError(
            f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except _DuplicateKey as exc:
        raise FormError(f"{name}: key {exc.args[0]!r} appears twice in the same object") from None
    except RecursionError:
        raise FormError(f"{name}: the JSON is nested too deeply") from None


def load_form_schema(text: str | bytes, name: str) -> dict:
    """Parse and check a form schema file so a broken form fails the deploy, not a clerk.

    ``name`` is only used in messages (the file name the process author will look for).
    Refuses: text that is not JSON (with line and column), duplicate keys (JSON silently
    keeps the last one, which hides editing mistakes), a ``$schema`` other than Draft
    2020-12 (we validate as 2020-12 whatever it says), anything Draft 2020-12 does not accept
    as a schema, a top level that is not ``"type": "object"`` with ``properties``, and any
    ``$ref`` outside the document (validation must never fetch anything from the network).
    """
    schema = parse_form_json(text, name)
    if not isinstance(schema, dict):
        raise FormError(f"{name}: a form schema must be a JSON object, not {json_kind(schema)}")

    declared = schema.get("$schema")
    if declared is not None and str(declared).rstrip("#") != DRAFT_2020_12:
        raise FormError(
            f"{name}: $schema is {declared!r}; forms are validated as Draft 2020-12 "
            f"({DRAFT_2020_12}), so say that or leave $schema out"
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise FormError(
            f"{name}: not a valid JSON Schema (Draft 2020-12) at {exc.json_path}: {exc.message}"
        ) from None

    if schema.get("type") != "object":
        raise FormError(f'{name}: the top level must have "type": "object"')
    if "properties" not in schema:
        raise FormError(f'{name}: the top level must have "properties" (the form fields)')
    for where, ref in _refs(schema, "$"):
        if not ref.startswith("#"):
            raise FormError(
                f"{name}: {where} = {ref!r} points outside the form file; only references "
                'inside the same file ("#/$defs/...") are allowed'
            )
    for where, pattern in _patterns(schema, "$"):
        try:
            compile_pattern(pattern)
        except PatternError as exc:
            raise FormError(f"{name}: the pattern at {where}: {exc}") from None
    for field, prop in (schema.get("properties") or {}).items():
        for key in (PREFILL, *CASE_LIMITS, CHOICES):
            source = prop.get(key) if isinstance(prop, dict) else None
            if source is not None and not (isinstance(source, str) and source.isidentifier()):
                raise FormError(
                    f"{name}: {field}.{key} must name a case variable (e.g. "
                    f'"{key}": "amount_due"), not {source!r}'
                )
    _check_checks(schema, name)
    return schema


def _check_checks(schema: dict, name: str) -> None:
    """The form's "x-checks" are well formed: each names a top-level field (or "" for the whole
    form), a condition the restricted evaluator accepts and a message that is a template."""
    checks = schema.get(CHECKS)
    if checks is None:
        return
    if not isinstance(checks, list):
        raise FormError(f"{name}: {CHECKS} must be a list of checks, not {json_kind(checks)}")
    fields = schema.get("properties") or {}
    for index, check in enumerate(checks):
        where = f"{name}: {CHECKS}[{index}]"
        if not isinstance(check, dict) or set(check) != {"field", "refuse_if", "message"}:
            raise FormError(
                f'{where} must be an object with exactly "field", "refuse_if" and "message"'
            )
        field, condition, message = check["field"], check["refuse_if"], check["message"]
        if not isinstance(field, str) or (field and field not in fields):
            raise FormError(f'{where}: field {field!r} is not a field of the form (or "")')
        if not isinstance(condition, str) or not condition.strip():
            raise FormError(f"{where}: refuse_if must be an expression")
        try:
            check_expression(condition)
        except ScriptError as exc:
            raise FormError(f"{where}: refuse_if refused: {exc}") from None
        except SyntaxError as exc:
            raise FormError(f"{where}: refuse_if is not valid Python: {exc.msg}") from None
        if not isinstance(message, str) or not message.strip():
            raise FormError(f"{where}: message must be a text for the person filling the form")
        try:
            SandboxedEnvironment().parse(message)
        except TemplateSyntaxError as exc:
            raise FormError(f"{where}: message is not a valid template: {exc.message}") from None


# --------------------------------------------------------------------------- case data

# A field starts filled only when it says from where: "x-prefill": "<case variable>". A field
# that merely shares a name with case data (another task's answer, a called process's value)
# starts empty, so a clerk never submits someone else's answer unread.
PREFILL = "x-prefill"
# A number field bounded by a case value: "x-minimum": "amount_due" (checked when the task is
# completed, with the value the case holds then).
CASE_LIMITS = {"x-minimum": "minimum", "x-maximum": "maximum"}
# A field whose options the case holds: "x-choices": "<case variable>", a list of values or of
# {"value": ..., "label": ...} (e.g. the technicians a script ranked from the directory). The
# form offers them and accepts only them.
CHOICES = "x-choices"
# Checks of an answer against the case: "x-checks": [{"field": "fee_charged", "refuse_if":
# "<expression>", "message": "<template>"}], made when the task is completed (see
# engine.definitions.submission.check_refusals).
CHECKS = "x-checks"


def prefilled_values(schema: dict, data: dict[str, Any]) -> dict[str, Any]:
    """The values a task form starts with: each top-level field marked "x-prefill" gets the
    named case variable, when the case has a value for it."""
    values: dict[str, Any] = {}
    for field, prop in (schema.get("properties") or {}).items():
        source = prop.get(PREFILL) if isinstance(prop, dict) else None
        if isinstance(source, str) and data.get(source) not in (None, ""):
            values[field] = data[source]
    return values


def with_case_limits(schema: dict, data: dict[str, Any]) -> dict:
    """The schema with "x-minimum"/"x-maximum" of its top-level fields made into "minimum" /
    "maximum" from the case's numbers (a limit whose variable holds no number is left out),
    and "x-choices" into "enum" with "x-labels" from the case's list of options (a variable
    that holds no list is left out)."""
    props = schema.get("properties") or {}
    bound_keys = {*CASE_LIMITS, CHOICES}
    if not any(isinstance(p, dict) and bound_keys & set(p) for p in props.values()):
        return schema
    bound = {**schema, "properties": dict(props)}
    for field, prop in props.items():
        if not isinstance(prop, dict):
            continue
        for key, keyword in CASE_LIMITS.items():
            value = data.get(prop.get(key)) if isinstance(prop.get(key), str) else None
            if isinstance(value, Decimal):
                value = float(value)
            if isinstance(value, int | float) and not isinstance(value, bool):
                bound["properties"][field] = {**bound["properties"][field], keyword: value}
        options = data.get(prop.get(CHOICES)) if isinstance(prop.get(CHOICES), str) else None
        if isinstance(options, list):
            values = [o.get("value") if isinstance(o, dict) else o for o in options]
            labels = [
                str(o.get("label", o.get("value"))) if isinstance(o, dict) else str(o)
                for o in options
            ]
            bound["properties"][field] = {
                **bound["properties"][field],
                "enum": values,
                "x-labels": labels,
            }
    return bound


def _patterns(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every regular expression of a schema (`pattern` values, `patternProperties` keys)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield f"{where}.pattern", value
            elif key == "patternProperties" and isinstance(value, dict):
                for pattern in value:
                    yield f"{where}.patternProperties", pattern
            yield from _patterns(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _patterns(item, f"{where}[{i}]")


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def json_kind(value: object) -> str:
    """What kind of JSON value `value` is, for messages ("an array", "a string", …)."""
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "an object" if isinstance(value, dict) else "a number"
    )


def _refs(node: object, where: str) -> Iterator[tuple[str, str]]:
    """Every string-valued $ref/$dynamicRef with its JSON path.

    Only string values count, so a form field that happens to be named "$ref" (a dict under
    "properties") is not mistaken for a reference.
    """
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _REF_KEYWORDS and isinstance(value, str):
                yield f"{where}.{key}", value
            else:
                yield from _refs(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, f"{where}[{index}]")


# --------------------------------------------------------------------------- helpers for tasks


def default_confirmation_schema() -> dict:
    """The form shown for a user task whose BPMN names no form.

    ``confirmed`` is required and must be ticked (``const: true``): an unticked checkbox is
    coerced to False, which would satisfy ``required`` alone.
    """
    return {
        "$schema": DRAFT_2020_12,
        "type": "object",
        "title": "確認",
        "properties": {
            "confirmed": {"type": "boolean", "title": "確認完成", "const": True},
            "comment": {
                "type": "string",
                "title": "備註",
                "maxLength": 2000,
                "x-widget": "textarea",
            },
        },
        "required": ["confirmed"],
    }


def form_fields(schema: dict) -> list[dict]:
    """A flat list of the form's fields for renderers, in schema order.

    Each entry: name (dotted path), title, description, type, format, required, enum, labels
    (from "x-labels"), widget ("ui:widget" or "x-widget"). Nested objects add their fields as "address.city";
    arrays of objects carry their row columns under "fields" (names relative to the row).
    """
    return _fields(schema, schema, prefix="")


def _fields(root: dict, schema: dict, prefix: str) -> list[dict]:
    required = set(schema.get("required") or [])
    fields: list[dict] = []
    for name, raw in (schema.get("properties") or {}).items():
        sub = _resolve(root, raw)
        kind = _type(sub)
        path = f"{prefix}{name}"
        if kind == "object":
            fields.extend(_fields(root, sub, prefix=f"{path}."))
            continue
        items = _resolve(root, sub.get("items", {})) if kind == "array" else {}
        field = {
            "name": path,
            "title": sub.get("title", name),
            "description": sub.get("description"),
            "type": kind,
            "format": sub.get("format"),
            "required": name in required,
            "enum": sub.get("enum", items.get("enum")),
            # Labels shown for the enum's values, in the same order (a form converted from
            # Camunda keeps its options' labels here).
            "labels": sub.get("x-labels", items.get("x-labels")),
            "widget": sub.get("ui:widget", sub.get("x-widget")),
        }
        if _type(items) == "object":
            field["fields"] = _fields(root, items, prefix="")
        fields.append(field)
    return fields
