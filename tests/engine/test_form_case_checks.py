"""Forms that read the case: options a field takes from a case variable ("x-choices") and checks
of an answer against the case ("x-checks"): refused at deploy when malformed, bound and made
when a task is completed (the repair dispatch's scenario tests use them end to end)."""

from __future__ import annotations

import json

import pytest

from engine.definitions.forms import FormError, load_form_schema, with_case_limits
from engine.definitions.submission import check_refusals
from engine.spiff.environment import make_script_engine
from engine.spiff.templating import render

FORM = {
    "type": "object",
    "properties": {
        "fee": {"type": "number"},
        "parts": {"type": "array", "items": {"type": "number"}},
        "person": {"type": "integer", "x-choices": "offered"},
    },
    "x-checks": [
        {
            "field": "fee",
            "refuse_if": "free and fee != 0",
            "message": "保修期內（至 {{ until }}）免費",
        },
        {
            "field": "fee",
            "refuse_if": "not free and fee != sum(parts or [])",
            "message": "只收配件費 {{ (parts or []) | sum }} 元",
        },
    ],
}


def load(schema: dict) -> dict:
    return load_form_schema(json.dumps(schema), "case.json")


def refusals(answer: dict, data: dict, schema: dict = FORM) -> dict[str, list[str]]:
    environment = make_script_engine({}).environment
    found = check_refusals(schema, answer, data, environment.evaluate, render)
    return {field: [str(m) for m in messages] for field, messages in found.items()}


def test_a_well_formed_form_loads():
    assert load(FORM)["x-checks"] == FORM["x-checks"]


@pytest.mark.parametrize(
    ("checks", "words"),
    [
        ({"field": "fee"}, "must be a list"),
        ([{"field": "fee", "refuse_if": "True"}], 'exactly "field", "refuse_if" and "message"'),
        ([{"field": "nope", "refuse_if": "True", "message": "x"}], "not a field of the form"),
        ([{"field": "fee", "refuse_if": "fee >", "message": "x"}], "SyntaxError"),
        (
            [{"field": "fee", "refuse_if": "().__class__.__bases__", "message": "x"}],
            "refuse_if refused",
        ),
        ([{"field": "fee", "refuse_if": "True", "message": "{{ x"}], "not a valid template"),
        ([{"field": "fee", "refuse_if": "True", "message": " "}], "message must be a text"),
    ],
)
def test_a_malformed_check_is_refused_at_deploy(checks, words):
    with pytest.raises(FormError) as refused:
        load({**FORM, "x-checks": checks})
    assert words in str(refused.value)


def test_choices_must_name_a_case_variable():
    bad = {"type": "object", "properties": {"person": {"type": "integer", "x-choices": "a b"}}}
    with pytest.raises(FormError, match="must name a case variable"):
        load(bad)


def test_choices_become_the_fields_options_with_their_labels():
    offered = [{"value": 7, "label": "許建國"}, {"value": 9, "label": "韓磊"}]
    person = with_case_limits(FORM, {"offered": offered})["properties"]["person"]
    assert (person["enum"], person["x-labels"]) == ([7, 9], ["許建國", "韓磊"])
    plain = with_case_limits(FORM, {"offered": ["甲", "乙"]})["properties"]["person"]
    assert (plain["enum"], plain["x-labels"]) == (["甲", "乙"], ["甲", "乙"])
    # A case without the variable leaves the field as written.
    assert with_case_limits(FORM, {}) == FORM


def test_a_check_refuses_with_its_message_rendered_from_the_case_and_the_answer():
    assert refusals({"fee": 50}, {"free": True, "until": "2027-06-14"}) == {
        "fee": ["保修期內（至 2027-06-14）免費"]
    }
    assert refusals({"fee": 50, "parts": [20, 10]}, {"free": False}) == {
        "fee": ["只收配件費 30 元"]
    }
    assert refusals({"fee": 30, "parts": [20, 10]}, {"free": False}) == {}


def test_a_field_the_answer_leaves_out_counts_as_empty_not_as_an_older_value():
    # parts from an earlier answer in the case data do not count for this one.
    assert refusals({"fee": 30}, {"free": False, "parts": [30]}) == {"fee": ["只收配件費 0 元"]}


def test_a_check_on_a_variable_the_case_lacks_does_not_apply():
    # The form used outside its process (no "free" in the case): as a case limit is left out.
    assert refusals({"fee": 50}, {}) == {}


def test_a_check_that_fails_otherwise_refuses_rather_than_letting_the_answer_through():
    schema = {
        **FORM,
        "x-checks": [{"field": "", "refuse_if": "fee / 0 > 1", "message": "never shown"}],
    }
    found = refusals({"fee": 50}, {}, schema)
    assert list(found) == [""]
    assert found[""][0].startswith("this check could not be made")
