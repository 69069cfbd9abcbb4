"""Turning a form post (every value a string) into the types its JSON Schema asks for."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import Any

TRUE_WORDS = frozenset({"on", "true", "1", "yes"})
FALSE_WORDS = frozenset({"off", "false", "0", "no", ""})


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
