"""Checking a submission against its form: per-field messages (English text with a code and
parameters, engine.core.messages; the web layer translates them), and only the fields the form
declares."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import ValidationError
from referencing.exceptions import Unresolvable

from engine.core.errors import ValidationFailed
from engine.core.messages import Message
from engine.definitions.coercion import _items, _match_key, _resolve, _type
from engine.definitions.formchecks import _NO_REMOTE, FORMAT_CHECKER, FormValidator
from engine.definitions.forms import CHECKS, FormError

_TYPE_WORDS = {
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "empty",
}
_FORMAT_WORDS = {
    "date": "not a valid date",
    "date-time": "not a valid date and time",
    "time": "not a valid time",
    "email": "not a valid email address",
}
REQUIRED_MESSAGE = Message("required", "this field is required")


def validate_submission(schema: dict, data: dict) -> dict[str, list[str]]:
    """Check a (coerced) submission and return messages per field; ``{}`` means valid.

    Keys are field paths as the form names them: "name", "address.city", "items.0.qty".
    A missing required field is keyed by its own name (not by the object that lacks it), so
    the message lands next to the empty input. Errors about the whole form go under "".
    Each message is an engine.core.messages.Message: English text with a code and parameters
    that the web layer translates.
    """
    validator = FormValidator(schema, format_checker=FORMAT_CHECKER, registry=_NO_REMOTE)
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        messages = errors.setdefault(key, [])
        if message not in messages:
            messages.append(message)

    try:
        found = sorted(
            validator.iter_errors(data),
            key=lambda e: ([_sort_part(p) for p in e.absolute_path], str(e.validator)),
        )
    except Unresolvable as exc:
        raise FormError(f"form schema has a $ref that cannot be resolved: {exc}") from None
    # A wrong type already says it all; "must be one of" on top of it is noise.
    wrong_type = {tuple(e.absolute_path) for e in found if e.validator == "type"}
    for error in found:
        prefix = ".".join(str(part) for part in error.absolute_path)
        if error.validator in ("const", "enum") and tuple(error.absolute_path) in wrong_type:
            continue
        if error.validator in ("required", "dependentRequired"):
            for missing in _missing_names(error):
                add(f"{prefix}.{missing}" if prefix else missing, REQUIRED_MESSAGE)
        else:
            add(prefix, _message(error))
    return errors


def _sort_part(part: str | int) -> str:
    return f"{part:012d}" if isinstance(part, int) else part


def _missing_names(error: ValidationError) -> list[str]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    if error.validator == "required":
        wanted = list(error.validator_value)
    else:  # dependentRequired: {"present": ["also", "needed"]}
        wanted = [
            name
            for trigger, names in error.validator_value.items()
            if trigger in instance
            for name in names
        ]
    return [name for name in wanted if name not in instance]


def _message(error: ValidationError) -> Message:
    """A sentence for a clerk (code and parameters for translation); jsonschema's own text
    when we have nothing better."""
    kind, value = error.validator, error.validator_value
    if kind == "type":
        names = [value] if isinstance(value, str) else list(value)
        words = [_TYPE_WORDS.get(n, n) for n in names]
        return Message("type", f"must be {' or '.join(words)}", types=names)
    if kind in _BOUNDS:
        return Message(kind, _BOUNDS[kind].format(_num(value)), value=_num(value))
    if kind in _COUNTS:
        return Message(kind, _COUNTS[kind].format(_plural(value, *_COUNT_WORDS[kind])), num=value)
    if kind == "pattern":
        return Message("pattern", "is not in the expected format")
    if kind == "enum":
        choices = ", ".join(_show(v) for v in value)
        return Message("enum", f"must be one of: {choices}", choices=choices)
    if kind == "const":
        if value is True:
            return Message("checked", "must be checked")
        return Message("const", f"must be {_show(value)}", value=_show(value))
    if kind == "format":
        if value in _FORMAT_WORDS:
            return Message(f"format_{value}", _FORMAT_WORDS[value])
        return Message("format", f"not a valid {value}", format=str(value))
    if kind == "uniqueItems":
        return Message("uniqueItems", "must not contain the same item twice")
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = ", ".join(sorted(k for k in error.instance if k not in known))
        return Message("additionalProperties", f"unexpected fields: {extra}", fields=extra)
    return Message("schema", error.message)


_BOUNDS = {
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "exclusiveMinimum": "must be greater than {}",
    "exclusiveMaximum": "must be less than {}",
    "multipleOf": "must be a multiple of {}",
}
_COUNTS = {
    "minLength": "must be at least {}",
    "maxLength": "must be at most {}",
    "minItems": "must have at least {}",
    "maxItems": "must have at most {}",
}
_COUNT_WORDS = {
    "minLength": ("character",),
    "maxLength": ("character",),
    "minItems": ("item",),
    "maxItems": ("item",),
}


def _num(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _show(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- declared fields
#
# A submission may only set the fields its form declares. JSON Schema lets any other key pass
# unless the form says "additionalProperties": false (none of ours does), so without this a
# clerk completing a task could set a field the process reads later (a price, a decision, a
# flag). The engine applies `declared_submission` to every task completion and every start;
# the caller only picks whether undeclared keys are refused (the API, the command line) or
# dropped (an HTML form post, where the browser only sends the form's own fields).

EXTRAS_REFUSE = "refuse"


EXTRAS_DROP = "drop"


EXTRAS_MODES = (EXTRAS_REFUSE, EXTRAS_DROP)


UNDECLARED_MESSAGE = Message("undeclared", "not a field of this form; it cannot be submitted")


def split_declared(schema: dict, data: Mapping[str, Any]) -> tuple[dict, list[str]]:
    """(the submission with only what the form lets a submitter set, the paths left out).

    Kept: the top-level ``properties`` of the form, and inside a declared object (or the
    objects of a declared array) its own ``properties``. Left out, by dotted path as
    ``validate_submission`` names fields ("note", "parts.0.price"): every other key, and any
    property marked ``"readOnly": true`` (shown to the clerk, computed by the process, never
    taken from the submitter). An object whose schema says ``"additionalProperties": true``
    (or gives a schema for them, or has ``patternProperties``) accepts other keys, and one
    without ``properties`` is free-form: those are the form author's explicit choice.
    """
    dropped: list[str] = []
    kept = _keep_declared(schema, schema, dict(data), "", dropped)
    return (kept if isinstance(kept, dict) else {}), sorted(dropped)


def declared_submission(
    schema: dict, data: Mapping[str, Any], *, extras: str
) -> tuple[dict, list[str]]:
    """Check a submission against its form: only declared fields, then the schema.

    Returns (the data to store, the undeclared paths that were dropped). With ``extras`` =
    "refuse" undeclared keys are errors (each named, next to the schema's own errors) and
    nothing is dropped silently; with "drop" they are left out and returned, so the caller
    can note them in the audit trail. Raises ``ValidationFailed`` (its ``errors`` map field
    paths to messages) when anything is wrong.
    """
    if extras not in EXTRAS_MODES:
        raise ValueError(f"extras must be one of {EXTRAS_MODES}, not {extras!r}")
    kept, undeclared = split_declared(schema, data)
    errors = validate_submission(schema, kept)
    if undeclared and extras == EXTRAS_REFUSE:
        for path in undeclared:
            errors.setdefault(path, []).insert(0, UNDECLARED_MESSAGE)
        raise ValidationFailed(
            f"fields not on the form: {', '.join(undeclared)}; nothing was saved",
            errors,
            reason="undeclared_fields",
            fields=undeclared,
        )
    if errors:
        raise form_errors("the form has errors; nothing was saved", schema, errors)
    return kept, undeclared


def form_errors(message: str, schema: dict, errors: dict[str, list[str]]) -> ValidationFailed:
    """The ValidationFailed of a form with `errors`: reason "form_errors", with the titles of
    the fields in error (`fields`, in the form's order) and how many (`num`), so
    the summary names them as the form does."""
    order = {name: n for n, name in enumerate(schema.get("properties") or {})}
    paths = sorted(errors, key=lambda p: (order.get(p.split(".")[0], len(order)), p))
    titles = [field_title(schema, path) for path in paths]
    return ValidationFailed(message, errors, reason="form_errors", fields=titles, num=len(titles))


def field_title(schema: dict, path: str) -> str:
    """The title a field path has on its form ("items.1.qty" -> "零件 › 2 › 數量"): each
    property's "title" (its name without one), a row of a list by its number from 1; "" (the
    whole form) -> the form's own title."""
    if not path:
        return str(schema.get("title") or "")
    node: Any = schema
    words: list[str] = []
    for part in path.split("."):
        node = _resolve(schema, node)
        props = node.get("properties") if isinstance(node, dict) else None
        if isinstance(props, dict) and part in props:
            node = _resolve(schema, props[part])
            words.append(str(node.get("title") or part))
        elif part.isdigit() and isinstance(node.get("items"), dict):
            node = node["items"]
            words.append(str(int(part) + 1))
        else:
            words.append(part)
            node = {}
    return " › ".join(words)


def _open_object(schema: dict) -> bool:
    extra = schema.get("additionalProperties")
    return extra is True or isinstance(extra, dict) or bool(schema.get("patternProperties"))


def _keep_declared(root: dict, raw: object, value: Any, prefix: str, dropped: list[str]) -> Any:
    schema = _resolve(root, raw)
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        props, open_ = schema["properties"], _open_object(schema)
        kept: dict = {}
        for key, sub in value.items():
            path = f"{prefix}{key}"
            if key in props:
                if _resolve(root, props[key]).get("readOnly") is True:
                    dropped.append(path)
                else:
                    kept[key] = _keep_declared(root, props[key], sub, f"{path}.", dropped)
            elif open_:
                kept[key] = sub
            else:
                dropped.append(path)
        return kept
    if isinstance(value, list) and _type(schema) == "array":
        items = schema.get("items")
        if isinstance(items, dict):
            return [
                _keep_declared(root, items, item, f"{prefix}{index}.", dropped)
                for index, item in enumerate(value)
            ]
    return value


def undeclared_posted(schema: dict, form: Mapping[str, str | list[str]]) -> dict[str, Any]:
    """The posted names ``coerce_form_data`` does not map onto a field of the form, with
    their values, so an HTML post can hand them to the engine to be dropped and noted
    (instead of vanishing before anyone sees them)."""
    extra: dict[str, Any] = {}
    for key, values in _items(form):
        if _match_key(schema, schema, key) is None:
            extra[key] = values[0] if len(values) == 1 else values
    return extra


# --------------------------------------------------------------------------- checks on the case
#
# Some rules compare an answer with what the case knows: a charge against the warranty and the
# parts fitted, a person against the directory. A form states them as "x-checks" (see
# engine.definitions.forms.CHECKS), in the process owner's words, and they are made when the
# task is completed, before anything changes.


def check_refusals(
    schema: dict,
    answer: Mapping[str, Any],
    data: Mapping[str, Any],
    evaluate: Callable[[str, dict], Any],
    render: Callable[[str, dict], str],
) -> dict[str, list[str]]:
    """The form's "x-checks" that refuse `answer`, as field → messages (``{}``: none does).

    Each check's ``refuse_if`` is evaluated with `evaluate` on the case's `data` overlaid by
    the answer, where every top-level field of the form the answer leaves out is None (the
    answer is what counts, not an older value of the same name). When it is true the check's
    ``message`` is rendered with `render` on the same values. A check that reads a case
    variable the case does not have is left out (a form used outside its process), as a case
    limit is; any other failure refuses the answer with a message naming it, so a broken check
    never lets an answer through unchecked."""
    checks = schema.get(CHECKS) or []
    if not checks:
        return {}
    fields = dict.fromkeys(schema.get("properties") or {})
    values = {**data, **fields, **answer}
    refused: dict[str, list[str]] = {}
    for check in checks:
        field, condition, message = check["field"], check["refuse_if"], check["message"]
        try:
            hit = evaluate(condition, copy.deepcopy(values))
        except NameError:
            continue
        except Exception as exc:  # noqa: BLE001 - any failure of the owner's check refuses
            refused.setdefault(field, []).append(
                Message("check_failed", f"this check could not be made: {exc}", error=str(exc))
            )
            continue
        if not hit:
            continue
        try:
            text = render(message, copy.deepcopy(values))
        except Exception:  # noqa: BLE001 - the words as written rather than no refusal
            text = message
        refused.setdefault(field, []).append(Message("check", text.strip() or message))
    return refused
