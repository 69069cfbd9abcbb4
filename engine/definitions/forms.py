"""User-task forms: JSON Schema files checked at deploy time and enforced on the server.

Every user task has a form written as a JSON Schema (Draft 2020-12). The web UI renders it
without JavaScript, so the server is the only place a submission is checked, and the browser
posts every value as a string. This module therefore does three things:

* ``load_form_schema`` refuses a broken form when a process is deployed, not when a clerk
  first opens the task;
* ``coerce_form_data`` turns the posted strings into the types the schema asks for;
* ``validate_submission`` answers per-field errors in words a clerk understands
  (Traditional Chinese by default, English on request).

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
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, time
from typing import Any

import referencing
from email_validator import EmailNotValidError, validate_email
from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.exceptions import SchemaError
from referencing.exceptions import Unresolvable

from engine.core.linear_re import PatternError, compile_pattern

__all__ = [
    "FormError",
    "coerce_form_data",
    "declared_submission",
    "default_confirmation_schema",
    "form_fields",
    "load_form_schema",
    "split_declared",
    "undeclared_posted",
    "validate_submission",
]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
LANGS = ("zh", "en")
TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
FALSE_WORDS = frozenset({"off", "false", "0", "no", ""})
_REF_KEYWORDS = ("$ref", "$dynamicRef")


class FormError(Exception):
    """A form schema cannot be used; the message names the file and what is wrong."""


# --------------------------------------------------------------------------- loading


def load_form_schema(text: str | bytes, name: str) -> dict:
    """Parse and check a form schema file so a broken form fails the deploy, not a clerk.

    ``name`` is only used in messages (the file name the process author will look for).
    Refuses: text that is not JSON (with line and column), duplicate keys (JSON silently
    keeps the last one, which hides editing mistakes), a ``$schema`` other than Draft
    2020-12 (we validate as 2020-12 whatever it says), anything Draft 2020-12 does not accept
    as a schema, a top level that is not ``"type": "object"`` with ``properties``, and any
    ``$ref`` outside the document (validation must never fetch anything from the network).
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FormError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    text = text.removeprefix("\ufeff")  # a BOM left by Windows editors is not an error
    try:
        schema = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise FormError(
            f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except _DuplicateKey as exc:
        raise FormError(f"{name}: key {exc.args[0]!r} appears twice in the same object") from None
    except RecursionError:
        raise FormError(f"{name}: the JSON is nested too deeply") from None
    if not isinstance(schema, dict):
        raise FormError(f"{name}: a form schema must be a JSON object, not {_json_kind(schema)}")

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
    return schema


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


def _json_kind(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
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


# --------------------------------------------------------------------------- formats

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_TIME_PART = r"\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:\d{2})?"
_TIME_RE = re.compile(_TIME_PART, re.ASCII)
_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]" + _TIME_PART, re.ASCII)


def _is_date(value: object) -> bool:
    """YYYY-MM-DD that exists on the calendar (what <input type="date"> posts)."""
    if not isinstance(value, str):
        return True
    return bool(_DATE_RE.fullmatch(value)) and bool(date.fromisoformat(value))


def _is_time(value: object) -> bool:
    """HH:MM[:SS[.fraction]][Z|±HH:MM]; seconds optional because <input type="time"> omits them."""
    if not isinstance(value, str):
        return True
    return bool(_TIME_RE.fullmatch(value)) and bool(time.fromisoformat(_iso(value)))


def _is_datetime(value: object) -> bool:
    """A real calendar date and clock time; offset optional so datetime-local posts pass."""
    if not isinstance(value, str):
        return True
    return bool(_DATETIME_RE.fullmatch(value)) and bool(datetime.fromisoformat(_iso(value)))


def _iso(value: str) -> str:
    # fromisoformat takes at most 6 fraction digits and wants an upper-case Z.
    value = re.sub(r"(\.\d{6})\d+", r"\1", value)
    return value.replace("t", "T").replace("z", "Z")


def _is_email(value: object) -> bool:
    """An address as email-validator reads it (jsonschema's own check only looks for an "@");
    no DNS lookup."""
    if not isinstance(value, str):
        return True
    return is_email_address(value)


def is_email_address(value: str) -> bool:
    """Whether `value` is a usable e-mail address (syntax only, linear time)."""
    if len(value) > 254 or "@" not in value:
        return False
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _is_regex(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        compile_pattern(value)
    except PatternError:
        return False
    return True


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """JSON Schema `pattern`, matched by RE2 (linear time; see engine.core.linear_re)."""
    if not validator.is_type(instance, "string"):
        return
    try:
        matched = compile_pattern(pattern).search(instance) is not None
    except PatternError as exc:
        yield ValidationError(f"the form's pattern cannot be used: {exc}")
        return
    if not matched:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        try:
            regex = compile_pattern(pattern)
        except PatternError as exc:
            yield ValidationError(f"the form's pattern cannot be used: {exc}")
            continue
        for key, value in instance.items():
            if regex.search(key) is not None:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


# Draft 2020-12 with every regular expression run by RE2.
FormValidator = validators.extend(
    Draft202012Validator, {"pattern": _pattern, "patternProperties": _pattern_properties}
)


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    # Start from exactly the Draft 2020-12 formats (FormatChecker() would also bring in the
    # Draft 3 "time" checker), then replace the ones we check ourselves.
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    checker.checks("date", raises=ValueError)(_is_date)
    checker.checks("time", raises=ValueError)(_is_time)
    checker.checks("date-time", raises=ValueError)(_is_datetime)
    checker.checks("email")(_is_email)
    checker.checks("regex")(_is_regex)
    return checker


FORMAT_CHECKER = _format_checker()
# An explicit registry without a retriever: jsonschema's default one would fetch unknown
# $ref URLs over the network (with only a DeprecationWarning).
_NO_REMOTE = referencing.Registry()


# --------------------------------------------------------------------------- validation

_TYPE_WORDS = {
    "zh": {
        "integer": "整數",
        "number": "數字",
        "string": "文字",
        "boolean": "「是」或「否」",
        "array": "清單",
        "object": "物件",
        "null": "空值",
    },
    "en": {
        "integer": "a whole number",
        "number": "a number",
        "string": "text",
        "boolean": "true or false",
        "array": "a list",
        "object": "an object",
        "null": "empty",
    },
}
_FORMAT_WORDS = {
    "zh": {
        "date": "不是有效的日期",
        "date-time": "不是有效的日期時間",
        "time": "不是有效的時間",
        "email": "不是有效的電子郵件地址",
    },
    "en": {
        "date": "not a valid date",
        "date-time": "not a valid date and time",
        "time": "not a valid time",
        "email": "not a valid email address",
    },
}
REQUIRED_MESSAGE = {"zh": "此欄位必填", "en": "this field is required"}


def validate_submission(schema: dict, data: dict, lang: str = "zh") -> dict[str, list[str]]:
    """Check a (coerced) submission and return messages per field; ``{}`` means valid.

    Keys are field paths as the form names them: "name", "address.city", "items.0.qty".
    A missing required field is keyed by its own name (not by the object that lacks it), so
    the message lands next to the empty input. Errors about the whole form go under "".
    ``lang`` is "zh" (Traditional Chinese) or "en".
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, not {lang!r}")
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
                add(f"{prefix}.{missing}" if prefix else missing, REQUIRED_MESSAGE[lang])
        else:
            add(prefix, _message(error, lang))
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


def _message(error: ValidationError, lang: str) -> str:
    """A sentence for a clerk; jsonschema's own text when we have nothing better."""
    zh = lang == "zh"
    kind, value = error.validator, error.validator_value
    if kind == "type":
        names = [value] if isinstance(value, str) else list(value)
        words = [_TYPE_WORDS[lang].get(n, n) for n in names]
        return f"必須是{'或'.join(words)}" if zh else f"must be {' or '.join(words)}"
    if kind == "minimum":
        return f"至少 {_num(value)}" if zh else f"must be at least {_num(value)}"
    if kind == "maximum":
        return f"最多 {_num(value)}" if zh else f"must be at most {_num(value)}"
    if kind == "exclusiveMinimum":
        return f"必須大於 {_num(value)}" if zh else f"must be greater than {_num(value)}"
    if kind == "exclusiveMaximum":
        return f"必須小於 {_num(value)}" if zh else f"must be less than {_num(value)}"
    if kind == "multipleOf":
        return f"必須是 {_num(value)} 的倍數" if zh else f"must be a multiple of {_num(value)}"
    if kind == "minLength":
        return f"至少需要 {value} 個字" if zh else f"must be at least {_plural(value, 'character')}"
    if kind == "maxLength":
        return f"最多 {value} 個字" if zh else f"must be at most {_plural(value, 'character')}"
    if kind == "pattern":
        return "格式不正確" if zh else "is not in the expected format"
    if kind == "enum":
        choices = ", ".join(_show(v) for v in value)
        return f"必須是以下之一: {choices}" if zh else f"must be one of: {choices}"
    if kind == "const":
        if value is True:
            return "必須勾選" if zh else "must be checked"
        return f"必須是 {_show(value)}" if zh else f"must be {_show(value)}"
    if kind == "format":
        default = f"格式不正確 ({value})" if zh else f"not a valid {value}"
        return _FORMAT_WORDS[lang].get(value, default)
    if kind == "minItems":
        return f"至少需要 {value} 項" if zh else f"must have at least {_plural(value, 'item')}"
    if kind == "maxItems":
        return f"最多 {value} 項" if zh else f"must have at most {_plural(value, 'item')}"
    if kind == "uniqueItems":
        return "項目不可重複" if zh else "must not contain the same item twice"
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = ", ".join(sorted(k for k in error.instance if k not in known))
        return f"不允許的欄位: {extra}" if zh else f"unexpected fields: {extra}"
    return error.message


def _num(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _show(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- coercion


class _Missing:
    """Marks "leave this key out" (distinct from None, which is a JSON value)."""


_MISSING = _Missing()
_INT_RE = re.compile(r"[+-]?\d+", re.ASCII)
_FLOAT_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def coerce_form_data(schema: dict, form: Mapping[str, str | list[str]]) -> dict:
    """Turn an HTML form post (all strings) into the types the schema asks for.

    * integer/number: parsed (full-width digits too); unparsable text is left as it is so
      validation reports "must be a number" next to the field;
    * boolean: a checkbox is only posted when ticked, so absent means False;
      "on"/"true"/"1"/"yes" mean True;
    * an empty (or blank) value leaves the key out, so a blank required field is reported as
      required instead of passing as "";
    * arrays of scalars come from repeated keys ("tags"=a, "tags"=b);
    * arrays of objects come from row keys ("items-0-qty", also "items.0.qty"); rows are
      renumbered in order and wholly blank rows are dropped;
    * nested objects come from dotted keys ("address.city");
    * keys the schema does not know (CSRF token, buttons) are dropped, unless that object has
      ``"additionalProperties": true``, where they are kept as strings;
    * textarea line breaks "\\r\\n" become "\\n", so ``maxLength`` counts what the browser
      counted.
    """
    tree: dict = {}
    for key, values in _items(form):
        path = _match_key(schema, schema, key)
        if path is None:
            continue
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):  # "address" posted both plain and dotted
                break
        else:
            if isinstance(node.get(path[-1]), dict):
                continue
            node.setdefault(path[-1], []).extend(values)
    result = _coerce_object(schema, schema, tree, present=True)
    return result if isinstance(result, dict) else {}


def _items(form: Mapping[str, str | list[str]]) -> Iterator[tuple[str, list[str]]]:
    getlist: Callable[[str], list[str]] | None = getattr(form, "getlist", None)
    for key in form.keys():
        if getlist is not None:
            yield key, [str(v) for v in getlist(key)]
        else:
            value = form[key]
            yield key, [value] if isinstance(value, str) else [str(v) for v in value]


def _resolve(root: dict, schema: object) -> dict:
    """Follow local "#/..." references so coercion sees the real field type."""
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 32:
        ref = schema["$ref"]
        if not ref.startswith("#"):
            break
        target: object = root
        for token in filter(None, ref[1:].split("/")):
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and token in target:
                target = target[token]
            else:
                return {}
        schema, seen = target, seen + 1
    return schema if isinstance(schema, dict) else {}


def _type(schema: dict) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if kinds else None
    if kind is None and isinstance(schema.get("properties"), dict):
        return "object"
    return kind


def _match_key(root: dict, schema: dict, key: str) -> list[str | int] | None:
    """Map a posted name onto the schema: "items-0-qty" -> ["items", 0, "qty"].

    Driven by the schema's property names rather than by splitting on "-" and ".", so field
    names that themselves contain "-" still work; the longest matching name wins.
    """
    props = schema.get("properties") or {}
    if key in props:
        return [key]
    for name in sorted(props, key=len, reverse=True):
        if len(key) <= len(name) + 1 or not key.startswith(name) or key[len(name)] not in ".-":
            continue
        sep, rest = key[len(name)], key[len(name) + 1 :]
        sub = _resolve(root, props[name])
        kind = _type(sub)
        if kind == "object" and sep == ".":
            tail = _match_key(root, sub, rest)
            if tail is not None:
                return [name, *tail]
        elif kind == "array":
            row = re.fullmatch(r"(\d+)(?:[.-](.+))?", rest, re.ASCII)
            if row is None:
                continue
            index, more = int(row.group(1)), row.group(2)
            if more is None:
                return [name, index]
            items = _resolve(root, sub.get("items", {}))
            if _type(items) == "object":
                tail = _match_key(root, items, more)
                if tail is not None:
                    return [name, index, *tail]
    if schema.get("additionalProperties") is True:
        return [key]
    return None


def _has_content(node: object) -> bool:
    if isinstance(node, dict):
        return any(_has_content(v) for v in node.values())
    return any(v.strip() for v in node)  # type: ignore[union-attr]


def _coerce_object(root: dict, schema: dict, tree: dict, present: bool) -> dict | _Missing:
    """Build one object; ``present`` says the object exists even if nothing was typed in it."""
    if not present and not _has_content(tree):
        return _MISSING
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    result: dict = {}
    for name, raw_sub in props.items():
        sub = _resolve(root, raw_sub)
        kind = _type(sub)
        if name in tree:
            value = _coerce_value(root, sub, tree[name], required=name in required)
        elif kind == "boolean":
            value = False  # an unticked checkbox is not posted at all
        elif kind == "object" and name in required:
            value = _coerce_object(root, sub, {}, present=True)
        else:
            value = _MISSING
        if not isinstance(value, _Missing):
            result[name] = value
    if schema.get("additionalProperties") is True:
        for name, node in tree.items():
            if name not in props and isinstance(node, list):
                kept = [v for v in node if v.strip()]
                if kept:
                    result[name] = kept[0] if len(kept) == 1 else kept
    return result


def _coerce_value(root: dict, schema: dict, node: list | dict, required: bool) -> Any:
    kind = _type(schema)
    if kind == "object":
        if not isinstance(node, dict):
            return _MISSING
        return _coerce_object(root, schema, node, present=required)
    if kind == "array":
        items = _resolve(root, schema.get("items", {}))
        if isinstance(node, list):  # repeated keys: tags=a&tags=b
            values = [_coerce_scalar(items, v) for v in node if v.strip()]
        else:  # rows: items-0-qty, items-1-qty
            values = []
            for index in sorted(node):
                row = node[index]
                if _type(items) == "object" and isinstance(row, dict):
                    value = _coerce_object(root, items, row, present=False)
                elif isinstance(row, list) and _has_content(row):
                    value = _coerce_scalar(items, row[-1])
                else:
                    value = _MISSING
                if not isinstance(value, _Missing):
                    values.append(value)
        return values if values else _MISSING
    if isinstance(node, dict):
        return _MISSING
    if kind == "boolean":
        words = {v.strip().lower() for v in node}
        if words & TRUE_WORDS:  # a hidden "false" followed by the ticked checkbox
            return True
        if words <= FALSE_WORDS:
            return False
        return node[-1]
    filled = [v for v in node if v.strip()]
    return _coerce_scalar(schema, filled[-1]) if filled else _MISSING


def _coerce_scalar(schema: dict, text: str) -> Any:
    kind = _type(schema)
    if kind in ("integer", "number"):
        return _to_number(text, integer=kind == "integer")
    if kind == "boolean":
        word = text.strip().lower()
        return True if word in TRUE_WORDS else False if word in FALSE_WORDS else text
    return text.replace("\r\n", "\n")


def _to_number(text: str, integer: bool) -> int | float | str:
    """Parse a posted number; give back the text unchanged when it is not one."""
    clean = unicodedata.normalize("NFKC", text).strip()  # "１２" typed in full-width mode
    if _INT_RE.fullmatch(clean):
        return int(clean)
    if not _FLOAT_RE.fullmatch(clean):
        return text
    value = float(clean)
    if not math.isfinite(value):
        return text
    if integer:
        return int(value) if value.is_integer() else text
    return value


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

    Each entry: name (dotted path), title, description, type, format, required, enum,
    widget ("ui:widget" or "x-widget"). Nested objects add their fields as "address.city";
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
            "widget": sub.get("ui:widget", sub.get("x-widget")),
        }
        if _type(items) == "object":
            field["fields"] = _fields(root, items, prefix="")
        fields.append(field)
    return fields


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
UNDECLARED_MESSAGE = {
    "zh": "表單沒有這個欄位，不可提交",
    "en": "not a field of this form; it cannot be submitted",
}


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
    schema: dict, data: Mapping[str, Any], *, extras: str, lang: str = "zh"
) -> tuple[dict, list[str]]:
    """Check a submission against its form: only declared fields, then the schema.

    Returns (the data to store, the undeclared paths that were dropped). With ``extras`` =
    "refuse" undeclared keys are errors (each named, next to the schema's own errors) and
    nothing is dropped silently; with "drop" they are left out and returned, so the caller
    can note them in the audit trail. Raises ``ValidationFailed`` (its ``errors`` map field
    paths to messages) when anything is wrong.
    """
    from engine.core.errors import ValidationFailed

    if extras not in EXTRAS_MODES:
        raise ValueError(f"extras must be one of {EXTRAS_MODES}, not {extras!r}")
    kept, undeclared = split_declared(schema, data)
    errors = validate_submission(schema, kept, lang=lang)
    if undeclared and extras == EXTRAS_REFUSE:
        for path in undeclared:
            errors.setdefault(path, []).insert(0, UNDECLARED_MESSAGE[lang])
        raise ValidationFailed(
            f"fields not on the form: {', '.join(undeclared)}; nothing was saved", errors
        )
    if errors:
        raise ValidationFailed("the form has errors; nothing was saved", errors)
    return kept, undeclared


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
