"""The simplest valid answer to a form: what a dry run submits for a task (or a start) when the
process owner gave no answers.

Only what the form asks for is filled: its required fields (those that conditions —
`if`/`then`/`else`, `allOf`, `dependentRequired` — make required too, followed until the
answer is stable) and the fields that carry a `default`. Each gets, in this order: the value
the form opens with (`start`, e.g. its "x-prefill" fields), a live option (`choices`, e.g. the
booking page's free slots), its `default`, its `const`, its first `enum` value, `false`, the
smallest number allowed, today's date or the current time in the company zone for date and
time fields, the shortest text (the simplest match of its `pattern`), and the fewest rows of
an array. The answer is not guaranteed to pass: forms with checks against the case
("x-checks") may refuse it, and the step that submits it reports why.
"""

from __future__ import annotations

import copy
import re._constants as sre_constants
import re._parser as sre_parse
from datetime import datetime, tzinfo
from typing import Any

from jsonschema import Draft202012Validator

from engine.definitions.coercion import _resolve
from engine.definitions.formchecks import FORMAT_CHECKER

# Conditions can require more fields once others are filled; follow them this many rounds.
ROUNDS = 10
# A pattern's simplest match is grown this far at most to reach a minLength.
MAX_TEXT = 200


def simplest_data(
    schema: dict[str, Any],
    now: datetime,
    zone: tzinfo,
    *,
    start: dict[str, Any] | None = None,
    choices: dict[str, list[Any]] | None = None,
) -> dict[str, Any]:
    """The simplest answer to the form `schema` at instant `now` (company zone `zone`); see
    the module's description. `start` holds values the form opens with, kept where they fit;
    `choices` gives a field its live options, the first taken."""
    local = now.astimezone(zone)
    return _Filler(schema, local, choices or {}).object(schema, start or {})


class _Filler:
    def __init__(self, root: dict[str, Any], now: datetime, choices: dict[str, list[Any]]):
        self.root = root
        self.now = now
        self.choices = choices

    def object(self, schema: dict[str, Any], start: dict[str, Any]) -> dict[str, Any]:
        schema = _resolve(self.root, schema)
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        answer: dict[str, Any] = {}
        for _ in range(ROUNDS):
            wanted, extra = self._wanted(schema, answer)
            before = copy.deepcopy(answer)
            for name in wanted:
                prop = {**_resolve(self.root, props.get(name) or {}), **extra.get(name, {})}
                if name in answer and self._valid(prop, answer[name]):
                    continue
                options = self.choices.get(name) if schema is self.root else None
                if name in start and self._valid(prop, start[name]):
                    answer[name] = start[name]
                elif options:
                    answer[name] = options[0]
                else:
                    answer[name] = self.value(prop)
            if answer == before:
                break
        return answer

    def _wanted(
        self, schema: dict[str, Any], answer: dict[str, Any]
    ) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """The fields to fill now (required ones and those with a default), and what the
        conditions that hold add to their constraints."""
        props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        wanted = [str(n) for n in schema.get("required") or [] if isinstance(n, str)]
        wanted += [n for n, p in props.items() if isinstance(p, dict) and "default" in p]
        extra: dict[str, dict[str, Any]] = {}

        def take(part: Any) -> None:
            part = _resolve(self.root, part)
            wanted.extend(n for n in part.get("required") or [] if isinstance(n, str))
            for name, prop in (part.get("properties") or {}).items():
                if isinstance(prop, dict):
                    extra.setdefault(name, {}).update(prop)
            visit(part)

        def visit(node: dict[str, Any]) -> None:
            if isinstance(node.get("if"), dict):
                branch = node.get("then") if self._valid(node["if"], answer) else node.get("else")
                if isinstance(branch, dict):
                    take(branch)
            for sub in node.get("allOf") or []:
                if isinstance(sub, dict):
                    take(sub)
            for key, needs in (node.get("dependentRequired") or {}).items():
                if key in answer and isinstance(needs, list):
                    wanted.extend(n for n in needs if isinstance(n, str))

        visit(schema)
        return list(dict.fromkeys(wanted)), extra

    def _valid(self, schema: Any, value: Any) -> bool:
        if not isinstance(schema, dict):
            return True
        # Checked in the context of the whole form, so local references resolve.
        probe = {**schema, "$defs": self.root.get("$defs", {})} if "$ref" in str(schema) else schema
        try:
            return Draft202012Validator(probe, format_checker=FORMAT_CHECKER).is_valid(value)
        except Exception:  # noqa: BLE001 - a schema the validator cannot read: keep the value
            return True

    def value(self, prop: dict[str, Any]) -> Any:
        prop = _resolve(self.root, prop)
        if "default" in prop and self._valid(prop, prop["default"]):
            return copy.deepcopy(prop["default"])
        if "const" in prop:
            return copy.deepcopy(prop["const"])
        if isinstance(prop.get("enum"), list) and prop["enum"]:
            return copy.deepcopy(prop["enum"][0])
        kind = prop.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None and isinstance(prop.get("properties"), dict):
            kind = "object"
        if kind == "boolean":
            return False
        if kind in ("integer", "number"):
            return _number(prop, kind)
        if kind == "array":
            items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
            count = prop.get("minItems", 0)
            count = count if isinstance(count, int) and 0 <= count <= 50 else 0
            return [self.value(items) for _ in range(count)]
        if kind == "object":
            return self.object(prop, {})
        if kind == "null":
            return None
        return self.text(prop)

    def text(self, prop: dict[str, Any]) -> str:
        fmt = prop.get("format")
        if fmt == "date":
            return self.now.date().isoformat()
        if fmt == "date-time":
            return self.now.strftime("%Y-%m-%dT%H:%M")
        if fmt == "time":
            return self.now.strftime("%H:%M")
        if fmt == "email":
            return "a@example.com"
        if fmt in ("uri", "url", "iri"):
            return "https://example.com/"
        low = prop.get("minLength", 1)
        low = low if isinstance(low, int) and 0 <= low <= MAX_TEXT else 1
        if isinstance(prop.get("pattern"), str):
            found = simplest_match(prop["pattern"], max(low, 1))
            if found is not None:
                return found
        return "x" * max(low, 1)


def _number(prop: dict[str, Any], kind: str) -> int | float:
    def num(key: str) -> float | None:
        value = prop.get(key)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    low, above = num("minimum"), num("exclusiveMinimum")
    high = num("maximum")
    if high is None and num("exclusiveMaximum") is not None:
        high = num("exclusiveMaximum") - 1  # type: ignore[operator]
    if low is None and above is not None:
        low = above + 1 if kind == "integer" else above + 0.01
    if low is None:
        low = 0 if high is None or high >= 0 else high
    step = num("multipleOf")
    if step and step > 0:
        low = -(-low // step) * step  # the first multiple at or above the minimum
    if kind == "integer" or float(low).is_integer():
        return int(-(-low // 1))
    return low


def simplest_match(pattern: str, min_length: int = 1) -> str | None:
    """A short text that `pattern` matches (searched, as JSON Schema does), at least
    `min_length` characters when the pattern lets it grow; None when the pattern is beyond
    this small generator (back-references, look-around, odd flags)."""
    try:
        parsed = sre_parse.parse(pattern)
    except Exception:  # noqa: BLE001 - re's own parser refuses it: no match to offer
        return None
    for grow in range(0, MAX_TEXT + 1):
        try:
            text = _generate(parsed, grow)
        except _Unsupported:
            return None
        if len(text) >= min_length:
            return text
        if grow and len(text) == len(_generate(parsed, grow - 1)):
            break  # nothing in the pattern can repeat more
    return None


class _Unsupported(Exception):
    pass


def _generate(items: Any, grow: int) -> str:
    out = []
    for op, arg in items:
        out.append(_one(op, arg, grow))
    return "".join(out)


_CATEGORY_CHARS = {
    sre_constants.CATEGORY_DIGIT: "0",
    sre_constants.CATEGORY_NOT_DIGIT: "a",
    sre_constants.CATEGORY_WORD: "a",
    sre_constants.CATEGORY_NOT_WORD: "-",
    sre_constants.CATEGORY_SPACE: " ",
    sre_constants.CATEGORY_NOT_SPACE: "a",
}


def _one(op: Any, arg: Any, grow: int) -> str:
    c = sre_constants
    if op is c.LITERAL:
        return chr(arg)
    if op is c.NOT_LITERAL:
        return "a" if chr(arg) != "a" else "b"
    if op is c.ANY:
        return "a"
    if op is c.IN:
        return _in_set(arg)
    if op is c.CATEGORY:
        return _CATEGORY_CHARS.get(arg, "a")
    if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
        low, high, sub = arg
        count = low
        if grow and (high is c.MAXREPEAT or high > low):
            count = low + grow if high is c.MAXREPEAT else min(high, low + grow)
        return "".join(_generate(sub, 0) for _ in range(count))
    if op is c.SUBPATTERN:
        return _generate(arg[-1], grow)
    if op is getattr(c, "ATOMIC_GROUP", None):
        return _generate(arg, grow)
    if op is c.BRANCH:
        return _generate(arg[1][0], grow)
    if op is c.AT:
        return ""
    raise _Unsupported(str(op))


def _in_set(items: Any) -> str:
    c = sre_constants
    if items and items[0][0] is c.NEGATE:
        excluded = _in_set_chars(items[1:])
        return next(ch for ch in "a0x-_ZQ9" if ch not in excluded)
    for op, arg in items:
        if op is c.LITERAL:
            return chr(arg)
        if op is c.RANGE:
            return chr(arg[0])
        if op is c.CATEGORY:
            return _CATEGORY_CHARS.get(arg, "a")
    raise _Unsupported("empty set")


def _in_set_chars(items: Any) -> set[str]:
    c = sre_constants
    found: set[str] = set()
    for op, arg in items:
        if op is c.LITERAL:
            found.add(chr(arg))
        elif op is c.RANGE:
            found.update(chr(x) for x in range(arg[0], min(arg[1], arg[0] + 200) + 1))
        elif op is c.CATEGORY:
            found.add(_CATEGORY_CHARS.get(arg, ""))
    return found
