"""Fuzzing every real form (forms/*.json) from its own JSON Schema with hypothesis.

* Submissions generated from the schema (types, enum/const, formats, lengths, bounds, patterns,
  arrays, nested objects, if/then/else, dependentRequired) must pass `validate_submission`, and
  must survive the trip through an HTML form post (`coerce_form_data`) unchanged.
* Anything JSON at all must make `validate_submission` answer per-field messages, never raise.
* Posts to the real task page of each form, valid ones and mutated ones (wrong types, control
  characters, markup, template text, absurd numbers, row indexes and nesting, unknown fields),
  are answered 302 (done) or 422 (per-field errors), never a server error.

The strategies are written here (hypothesis-jsonschema is not a dependency); they cover the
keywords the forms use, and a test fails on any keyword they do not know, so a new kind of form
gets a strategy before it goes unfuzzed.
"""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from werkzeug.datastructures import MultiDict

from engine.definitions.coercion import coerce_form_data
from engine.definitions.sources import SourceFile
from engine.definitions.submission import validate_submission
from tests.hardening import conftest_web, summary_plugin
from tests.hardening.conftest_web import Web
from webui.messages import translate_errors

web = conftest_web.web
quick_password_hashing = conftest_web.quick_password_hashing
hardening_summary = conftest_web.hardening_summary

FORMS_DIR = Path(__file__).resolve().parents[2] / "forms"
FORM_FILES = sorted(FORMS_DIR.glob("*.json"))
# Examples per form; HARDENING_FUZZ_SCALE=10 runs ten times as many (e.g. before a release).
SCALE = float(os.environ.get("HARDENING_FUZZ_SCALE", "1"))
VALID_EXAMPLES = max(1, int(15 * SCALE))
JSON_EXAMPLES = max(1, int(8 * SCALE))
POSTS_PER_FORM = max(1, int(5 * SCALE))

KNOWN_KEYWORDS = {
    "$schema", "$id", "$defs", "$ref", "$comment", "title", "description", "type",
    "properties", "required", "additionalProperties", "enum", "const", "format", "minLength",
    "maxLength", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "items", "minItems", "maxItems", "uniqueItems", "if", "then", "else", "allOf",
    "dependentRequired", "default", "examples", "x-widget", "ui:widget", "readOnly",
}  # fmt: skip

summary_plugin.describe(
    "form fuzzing",
    "{forms} forms; {valid} generated submissions valid and unchanged through a form post; "
    "{arbitrary} arbitrary JSON submissions answered with messages; {posts} posts to task "
    "pages ({completed} completed, {refused} refused with 400/422), no server error",
)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


# ----- strategies from a schema ------------------------------------------------------------

# Text a person types: any printable character (Chinese, emoji, markup, braces, quotes),
# line breaks for text areas; not blank (a blank field is "not filled in" on a web form).
TEXT_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from(
    "<>&'\"{}%#\n"
)


def _resolve(root: dict, schema: Any) -> dict:
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        target: Any = root
        for token in schema["$ref"].lstrip("#").split("/"):
            if token:
                target = target[token.replace("~1", "/").replace("~0", "~")]
        schema = target
    return schema if isinstance(schema, dict) else {}


def _kind(schema: dict) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if kinds else None
    if kind is None and "properties" in schema:
        return "object"
    return kind


def _text(schema: dict) -> st.SearchStrategy[str]:
    low = schema.get("minLength", 0)
    high = min(schema.get("maxLength", 200), max(low, 200))
    fmt = schema.get("format")
    if fmt == "date":
        return st.dates(date(2000, 1, 1), date(2099, 12, 31)).map(date.isoformat)
    if fmt == "date-time":
        return st.builds(
            _datetime_text,
            st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)),
            st.sampled_from(["minutes", "seconds", "microseconds"]),
            st.sampled_from(
                [None, UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5))]
            ),
        )
    if fmt == "time":
        return st.times().map(lambda t: t.isoformat(timespec="seconds"))
    if fmt == "email":
        # RFC 5321 local parts: no dot first, last or doubled (email-validator checks this).
        pattern = r"[a-z0-9]([a-z0-9_+-]|\.[a-z0-9]){0,15}@[a-z0-9]{1,12}(\.[a-z]{2,6}){1,2}"
        return st.from_regex(pattern, fullmatch=True).filter(lambda s: low <= len(s) <= high)
    if fmt is not None:
        raise AssertionError(f"no strategy for format {fmt!r}")
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda s: low <= len(s) <= high and s.strip() and "\r" not in s
        )
    return st.text(TEXT_CHARS, min_size=max(low, 1), max_size=max(high, 1)).filter(
        lambda s: s.strip() != ""
    )


def _datetime_text(moment: datetime, timespec: str, zone: Any) -> str:
    moment = moment.replace(tzinfo=zone)
    return moment.isoformat(timespec=timespec)


def _numbers(schema: dict, integer: bool) -> st.SearchStrategy[Any]:
    low, high = schema.get("minimum"), schema.get("maximum")
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if integer:
        if ex_low is not None:
            low = math.floor(ex_low) + 1 if low is None else max(low, math.floor(ex_low) + 1)
        if ex_high is not None:
            high = math.ceil(ex_high) - 1 if high is None else min(high, math.ceil(ex_high) - 1)
        return st.integers(
            None if low is None else math.ceil(low), None if high is None else math.floor(high)
        )
    floats = st.floats(
        min_value=ex_low if ex_low is not None else low,
        max_value=ex_high if ex_high is not None else high,
        exclude_min=ex_low is not None,
        exclude_max=ex_high is not None,
        allow_nan=False,
        allow_infinity=False,
    )
    if "multipleOf" in schema:
        step = schema["multipleOf"]
        return floats.map(lambda x: round(x / step) * step).filter(
            lambda x: Draft202012Validator(schema).is_valid(x)
        )
    return floats


def values(root: dict, schema: Any) -> st.SearchStrategy[Any]:
    """A strategy for values that are valid against `schema` (inside form `root`)."""
    schema = _resolve(root, schema)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = _kind(schema)
    if kind == "string":
        return _text(schema)
    if kind in ("integer", "number"):
        return _numbers(schema, integer=kind == "integer")
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        items = values(root, schema.get("items", {}))
        # At least one item: an empty list cannot be told from "not filled in" on a form.
        low = max(1, schema.get("minItems", 0))
        high = max(low, min(schema.get("maxItems", 4), 4))
        unique = schema.get("uniqueItems", False)
        return st.lists(items, min_size=low, max_size=high, unique_by=_key if unique else None)
    if kind == "object":
        return objects(root, schema)
    raise AssertionError(f"no strategy for {schema}")


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _conditionals(schema: dict) -> list[dict]:
    found = [schema] if "if" in schema else []
    for part in schema.get("allOf", []):
        found.extend(_conditionals(part) if "if" in part else [{"if": True, "then": part}])
    return found


def _merged(root: dict, base: Any, extra: Any) -> dict:
    merged = dict(_resolve(root, base))
    merged.update(_resolve(root, extra))
    return merged


@st.composite
def objects(draw: Any, root: dict, schema: dict) -> dict:
    """Required fields always, others sometimes, then whatever the schema's conditions and
    dependencies ask for, redrawing fields until every condition holds. Booleans are always
    present: a form posts an unticked checkbox as "not sent", which means false."""
    props: dict = schema.get("properties", {})
    required = set(schema.get("required", []))
    value: dict = {}
    for name, sub in props.items():
        boolean = _kind(_resolve(root, sub)) == "boolean"
        if name in required or boolean or draw(st.booleans()):
            value[name] = draw(values(root, sub))
    for _ in range(6):
        changed = False
        for cond in _conditionals(schema):
            test = cond["if"]
            holds = test is True or Draft202012Validator(test).is_valid(value)
            branch = cond.get("then") if holds else cond.get("else")
            if branch:
                changed |= _satisfy(draw, root, props, branch, value)
        for trigger, needed in schema.get("dependentRequired", {}).items():
            for name in needed if trigger in value else []:
                if name not in value:
                    value[name] = draw(values(root, props[name]))
                    changed = True
        if not changed:
            break
    return value


def _satisfy(draw: Any, root: dict, props: dict, branch: dict, value: dict) -> bool:
    changed = False
    extra = branch.get("properties", {})
    for name in branch.get("required", []):
        if name not in value:
            value[name] = draw(values(root, _merged(root, props.get(name, {}), extra.get(name))))
            changed = True
    for name, sub in extra.items():
        if name in value and not Draft202012Validator(_resolve(root, sub)).is_valid(value[name]):
            value[name] = draw(values(root, _merged(root, props.get(name, {}), sub)))
            changed = True
    return changed


# ----- the form post a browser would send --------------------------------------------------


def as_post(root: dict, schema: dict, value: dict, prefix: str = "") -> list[tuple[str, str]]:
    """The (name, text) pairs an HTML form posts for `value` (webui's naming: "a.b" for nested
    objects, "rows-0-col" for rows, repeated names for lists, a ticked box sends "on")."""
    pairs: list[tuple[str, str]] = []
    props = schema.get("properties", {})
    for name, item in value.items():
        sub = _resolve(root, props.get(name, {}))
        kind = _kind(sub)
        key = f"{prefix}{name}"
        if kind == "object":
            pairs += as_post(root, sub, item, prefix=f"{key}.")
        elif kind == "array":
            items = _resolve(root, sub.get("items", {}))
            for index, row in enumerate(item):
                if _kind(items) == "object":
                    pairs += as_post(root, items, row, prefix=f"{key}-{index}-")
                else:
                    pairs.append((key, _scalar(row)))
        elif isinstance(item, bool):
            if item:
                pairs.append((key, "on"))
        else:
            pairs.append((key, _scalar(item)))
    return pairs


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# ----- hostile variations of a post --------------------------------------------------------

ANY_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
NASTY = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\r\n\r\n",
        "\u202e\u200b\ufeff",
        "<script>alert(1)</script>",
        "{{ 7*7 }}{% raw %}",
        "${7*7}#{7*7}",
        "NaN",
        "-Infinity",
        "1e999",
        "-0",
        "9" * 400,
        "0x1F",
        "１２",
        "1_000",
        "true",
        "on",
        "null",
        "[]",
        "{}",
        "2026-02-30",
        "2026-13-01T25:61",
        "0000-00-00T00:00",
        "9999-12-31T23:59:59.9999999999+99:99",
        "x" * 5000,
        "__proto__",
        "../../etc/passwd",
        "'; DROP TABLE task; --",
    ]
)


@st.composite
def hostile_posts(draw: Any, root: dict, valid: list[tuple[str, str]]) -> list[tuple[str, str]]:
    pairs = list(valid)
    names = [name for name, _ in pairs] or ["field"]
    fields = list(root.get("properties", {})) or ["field"]
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.integers(0, 6))
        if action == 0 and pairs:  # change a value
            index = draw(st.integers(0, len(pairs) - 1))
            pairs[index] = (pairs[index][0], draw(NASTY | ANY_TEXT))
        elif action == 1 and pairs:  # drop a field
            pairs.pop(draw(st.integers(0, len(pairs) - 1)))
        elif action == 2:  # send a field twice, differently
            pairs.append((draw(st.sampled_from(names)), draw(NASTY | ANY_TEXT)))
        elif action == 3:  # absurd nesting and rows
            field = draw(st.sampled_from(fields))
            suffix = draw(
                st.sampled_from(
                    ["-99999999999999999999-x", ".a.b.c.d.e", "-0", "-", ".", "-00-x", "--1"]
                )
            )
            pairs.append((field + suffix, draw(NASTY)))
        elif action == 4:  # unknown fields
            pairs.append((draw(ANY_TEXT | NASTY), draw(NASTY | ANY_TEXT)))
        elif action == 5:  # every field at once with the same nasty value
            value = draw(NASTY)
            pairs = [(name, value) for name in fields]
        else:  # leave the valid post as it is
            pass
    return pairs


# ----- tests -------------------------------------------------------------------------------


def test_every_form_uses_only_keywords_the_strategies_know() -> None:
    unknown: dict[str, set[str]] = {}

    def walk(node: Any, path: Path, in_properties: bool = False) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                annotation = key.startswith(("x-", "ui:"))  # for renderers, not validation
                if not in_properties and key not in KNOWN_KEYWORDS and not annotation:
                    unknown.setdefault(path.name, set()).add(key)
                if annotation and not in_properties:
                    continue  # an annotation's value is data for a renderer (e.g. x-show)
                if key == "dependentRequired" and not in_properties:
                    continue  # field name → field names
                names = key in ("properties", "$defs") and not in_properties
                walk(child, path, in_properties=names)
        elif isinstance(node, list):
            for child in node:
                walk(child, path)

    for path in FORM_FILES:
        walk(load(path), path)
    assert unknown == {}, f"teach the strategies these keywords first: {unknown}"
    assert len(FORM_FILES) >= 10


@pytest.mark.parametrize("path", FORM_FILES, ids=[p.stem for p in FORM_FILES])
def test_generated_submissions_are_valid_and_survive_a_form_post(path: Path) -> None:
    schema = load(path)
    summary_plugin.record("form fuzzing", forms=1)

    @settings(
        max_examples=VALID_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(values(schema, schema))
    def check(value: dict) -> None:
        errors = validate_submission(schema, value)
        assert errors == {}, (path.name, value, errors)
        posted = coerce_form_data(schema, MultiDict(as_post(schema, schema, value)))
        assert posted == value, (path.name, value, posted)
        assert validate_submission(schema, posted) == {}
        summary_plugin.record("form fuzzing", valid=1)

    check()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT | NASTY,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT | NASTY, children, max_size=4)
    ),
    max_leaves=12,
)


@pytest.mark.parametrize("path", FORM_FILES, ids=[p.stem for p in FORM_FILES])
def test_any_json_gets_messages_not_exceptions(path: Path) -> None:
    schema = load(path)
    fields = list(schema.get("properties", {}))

    @settings(max_examples=JSON_EXAMPLES, deadline=None, database=None)
    @given(
        st.dictionaries(st.sampled_from(fields) | ANY_TEXT, JSON_VALUES, max_size=len(fields) + 2),
        st.sampled_from(["zh", "en"]),
    )
    def check(data: dict, lang: str) -> None:
        # The engine's messages, as the web layer shows them in either language.
        errors = translate_errors(
            validate_submission(schema, data), "zh_Hant" if lang == "zh" else "en"
        )
        assert isinstance(errors, dict)
        for key, messages in errors.items():
            assert isinstance(key, str) and messages and all(isinstance(m, str) for m in messages)
        summary_plugin.record("form fuzzing", arbitrary=1)

    check()


def test_posts_to_every_forms_task_page_never_fail(web: Web) -> None:
    """One process per form (a looping task in alice's lane), deployed together; valid and
    mutated posts to the live task page: 302 or 422, never 500."""
    forms = {path.name: load(path) for path in FORM_FILES}
    files = [SourceFile(path.name, path.read_bytes()) for path in FORM_FILES]
    keys = {}
    for index, name in enumerate(sorted(forms)):
        key = f"fuzz_{index:03d}"
        keys[name] = key
        bpmn = conftest_web.one_task_bpmn(key, form=name, loop=True, instructions="{{ note }}")
        files.append(SourceFile(f"{key}.bpmn", bpmn.encode()))
    web.runtime.deploy(files)
    alice = web.client("alice")
    token = web.csrf(alice)
    cases = {name: web.runtime.start_case(key, {}).number for name, key in keys.items()}

    for name, schema in sorted(forms.items()):
        page = alice.get(f"/tasks/{web.open_task(cases[name]).id}")
        assert page.status_code == 200 and 'name="csrf_token"' in page.text, name
        _fuzz_task_page(web, alice, token, name, schema, cases[name])


def _fuzz_task_page(
    web: Web, client: Any, token: str, name: str, schema: dict, number: str
) -> None:
    """Posts to the open task of case `number` (form `name`): a third valid, the rest
    mutated; valid ones must complete (302), the others may also be refused (400/422)."""

    @settings(
        max_examples=POSTS_PER_FORM,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def check(data: Any) -> None:
        valid = as_post(schema, schema, data.draw(values(schema, schema)))
        hostile = data.draw(st.integers(0, 2)) > 0
        pairs = data.draw(hostile_posts(schema, valid)) if hostile else valid
        task = web.open_task(number).id
        response = client.post(f"/tasks/{task}", data=MultiDict([*pairs, ("csrf_token", token)]))
        response.close()
        allowed = (302, 400, 422) if hostile else (302,)
        assert response.status_code in allowed, (
            name,
            pairs,
            response.status_code,
            response.text[:2000],
        )
        outcome = "completed" if response.status_code == 302 else "refused"
        summary_plugin.record("form fuzzing", posts=1, **{outcome: 1})

    check()
