"""Regular expressions from outside the code run in linear time: form patterns written by
process owners (RE2), e-mail addresses (email-validator), phone numbers (one bounded class)."""

from __future__ import annotations

import json
import time

import pytest

from engine.core.linear_re import PatternError, compile_pattern
from engine.definitions.formchecks import is_email_address
from engine.definitions.forms import FormError, load_form_schema
from engine.definitions.submission import validate_submission


def _form(pattern: str) -> str:
    return json.dumps(
        {"type": "object", "properties": {"code": {"type": "string", "pattern": pattern}}}
    )


def test_a_backtracking_pattern_answers_at_once() -> None:
    schema = load_form_schema(_form("^(a+)+$"), "code.json")
    t0 = time.monotonic()
    errors = validate_submission(schema, {"code": "a" * 50_000 + "!"})
    seconds = time.monotonic() - t0
    print(f"\n^(a+)+$ against 50,001 characters: {seconds * 1000:.1f} ms")
    assert errors == {"code": ["is not in the expected format"]}
    assert seconds < 2
    assert validate_submission(schema, {"code": "aaa"}) == {}


def test_pattern_properties_use_the_same_engine() -> None:
    schema = load_form_schema(
        json.dumps(
            {
                "type": "object",
                "properties": {
                    "extra": {
                        "type": "object",
                        "patternProperties": {"^(x+)+$": {"type": "integer"}},
                    }
                },
            }
        ),
        "extra.json",
    )
    assert validate_submission(schema, {"extra": {"xxx": 1}}) == {}
    assert validate_submission(schema, {"extra": {"xxx": "one"}}) != {}


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)a", r"(?<!a)b"])
def test_a_pattern_that_needs_backtracking_is_refused_at_deploy(pattern: str) -> None:
    with pytest.raises(FormError, match=r"code.json: the pattern at \$\.properties\.code"):
        load_form_schema(_form(pattern), "code.json")


def test_patterns_are_bounded_in_length() -> None:
    with pytest.raises(PatternError, match="at most"):
        compile_pattern("a" * 5000)


@pytest.mark.parametrize(
    "address", ["wang@example.com", "li.na+cleaning@mail.example.cn", "王@例子.中国"]
)
def test_good_addresses(address: str) -> None:
    assert is_email_address(address)


@pytest.mark.parametrize(
    "address", ["", "wang", "wang@", "@example.com", "a b@example.com", "a@b@example.com"]
)
def test_bad_addresses(address: str) -> None:
    assert not is_email_address(address)


def test_an_address_of_fifty_thousand_dots_is_refused_at_once() -> None:
    t0 = time.monotonic()
    assert not is_email_address("a" + "." * 50_000 + "@example.com")
    assert not is_email_address("a@" + "b." * 25_000)
    assert time.monotonic() - t0 < 1


def test_notify_refuses_a_pathological_address_inside_a_step(runtime) -> None:
    from tests.conftest import fixture_files

    runtime.deploy(fixture_files("notify_flow.bpmn"))
    t0 = time.monotonic()
    case = runtime.start_case(
        "notify_flow",
        {"customer_name": "王", "phone": "13800138000", "email": "a" + "." * 50_000 + "@x.com"},
        prevalidated=True,  # (the engine's check inside the step, not a start form's)
    )
    assert time.monotonic() - t0 < 2
    assert case.status == "error" and "not an e-mail address" in case.error_message
