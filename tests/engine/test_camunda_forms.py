"""Camunda forms converted to Caseflow form schemas: a form-js file as Camunda Modeler 5 saves it
and Camunda 7 inline formData, field by field; every refusal with its message; and the
converted schemas checking submissions like our own form files do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from engine.core.errors import ValidationFailed
from engine.definitions.camunda_formdata import form_data_fields, schema_from_form_data
from engine.definitions.camunda_formjs import schema_from_camunda_form
from engine.definitions.camunda_forms import LABELS_KEY, PHONE_PATTERN
from engine.definitions.coercion import coerce_form_data
from engine.definitions.forms import DRAFT_2020_12, FormError, load_form_schema
from engine.definitions.submission import declared_submission, validate_submission

REVIEW_FORM = Path(__file__).parents[1] / "conformance" / "diagrams" / "camunda" / "review.form"

EXPECTED_REVIEW: dict[str, Any] = {
    "$schema": DRAFT_2020_12,
    "title": "審核申請",
    "description": "請核對申請內容與附件，再填寫審核結果。",
    "type": "object",
    "properties": {
        "applicant_name": {"type": "string", "title": "申請人", "minLength": 2, "maxLength": 50},
        "contact_email": {
            "type": "string",
            "title": "電子郵件",
            "format": "email",
            "maxLength": 120,
        },
        "contact_phone": {
            "type": "string",
            "title": "聯繫電話",
            "minLength": 1,
            "pattern": "^\\+?[0-9 ()-]{6,20}$",
            "maxLength": 20,
        },
        "reference_no": {
            "type": "string",
            "title": "申請編號",
            "description": "例如 RV-000123",
            "pattern": "^[A-Z]{2}-[0-9]{6}$",
        },
        "amount": {"type": "number", "title": "申請金額（元）", "minimum": 0, "maximum": 100000},
        "people": {"type": "integer", "title": "人數", "minimum": 1, "maximum": 10, "default": 1},
        "decision": {
            "type": "string",
            "title": "審核結果",
            "enum": ["approve", "reject", "return"],
            "x-labels": ["批准", "駁回", "退回補件"],
            "x-widget": "radio",
        },
        "priority": {
            "type": "string",
            "title": "緊急程度",
            "enum": ["一般", "緊急"],
            "default": "一般",
        },
        "documents": {
            "type": "array",
            "title": "已收附件",
            "items": {
                "type": "string",
                "enum": ["id_card", "contract", "invoice"],
                "x-labels": ["身分證", "合同", "發票"],
            },
            "uniqueItems": True,
            "minItems": 1,
        },
        "tags": {
            "type": "array",
            "title": "標籤",
            "items": {
                "type": "string",
                "enum": ["returning", "referral"],
                "x-labels": ["老客戶", "轉介"],
            },
            "uniqueItems": True,
        },
        "checked_documents": {"type": "boolean", "title": "已核對所有附件", "const": True},
        "needs_manager": {"type": "boolean", "title": "需要主管覆核", "default": False},
        "visit_date": {"type": "string", "title": "上門日期", "format": "date"},
        "visit_time": {"type": "string", "title": "上門時間", "format": "time"},
        "reply_by": {"type": "string", "title": "回覆期限", "format": "date-time"},
        "review_comment": {
            "type": "string",
            "title": "審核意見",
            "maxLength": 1000,
            "x-widget": "textarea",
        },
        "customer_no": {"type": "string", "title": "客戶編號", "readOnly": True},
    },
    "required": [
        "applicant_name",
        "contact_phone",
        "amount",
        "decision",
        "documents",
        "checked_documents",
        "visit_date",
    ],
}

GOOD_REVIEW = {
    "applicant_name": "陳大文",
    "contact_email": "chan@example.com",
    "contact_phone": "+852 2345-6789",
    "reference_no": "RV-000123",
    "amount": 1250.5,
    "people": 2,
    "decision": "approve",
    "priority": "緊急",
    "documents": ["id_card", "invoice"],
    "tags": ["referral"],
    "checked_documents": True,
    "needs_manager": False,
    "visit_date": "2026-12-01",
    "visit_time": "14:30",
    "reply_by": "2026-11-30T18:00",
    "review_comment": "附件齊全",
}


def convert(form: dict | str | bytes, name: str = "test.form") -> dict:
    """Convert, and check the result is a form our own loader accepts unchanged."""
    data = form if isinstance(form, str | bytes) else json.dumps(form, ensure_ascii=False)
    schema = schema_from_camunda_form(data, name)
    assert load_form_schema(json.dumps(schema, ensure_ascii=False), name) == schema
    return schema


def form_of(*components: dict) -> dict:
    return {
        "components": list(components),
        "type": "default",
        "id": "Form_test",
        "exporter": {"name": "Camunda Modeler", "version": "5.17.0"},
        "schemaVersion": 11,
    }


def refusal(form: dict | str | bytes, name: str = "test.form") -> str:
    data = form if isinstance(form, str | bytes) else json.dumps(form, ensure_ascii=False)
    with pytest.raises(FormError) as caught:
        schema_from_camunda_form(data, name)
    return str(caught.value)


@pytest.fixture(scope="module")
def review() -> dict:
    return convert(REVIEW_FORM.read_bytes(), "review.form")


# --------------------------------------------------------------------------- the Modeler file


@pytest.mark.parametrize("field", list(EXPECTED_REVIEW["properties"]))
def test_each_field_of_the_modeler_form_converts_as_written_by_hand(review, field):
    assert review["properties"][field] == EXPECTED_REVIEW["properties"][field]


def test_the_modeler_form_converts_whole(review):
    # Field order follows the form, group fields in place; display-only components add nothing.
    assert list(review["properties"]) == list(EXPECTED_REVIEW["properties"])
    assert review["required"] == EXPECTED_REVIEW["required"]
    assert review["title"] == "審核申請"  # the heading text before the first field
    assert review["description"] == EXPECTED_REVIEW["description"]
    assert review == EXPECTED_REVIEW


def test_the_modeler_form_accepts_a_good_submission(review):
    assert validate_submission(review, GOOD_REVIEW) == {}
    minimal = {k: GOOD_REVIEW[k] for k in review["required"]}
    assert validate_submission(review, minimal) == {}


def test_the_modeler_form_refuses_a_bad_submission(review):
    bad = {
        **GOOD_REVIEW,
        "applicant_name": "陳",  # shorter than minLength 2
        "contact_email": "not-an-address",
        "contact_phone": "call me",
        "reference_no": "rv-123",
        "amount": -5,
        "people": 2.5,  # decimalDigits 0: a whole number
        "decision": "批准",  # the label, not the value
        "documents": ["id_card", "id_card"],
        "checked_documents": False,  # a required checkbox must be ticked
        "visit_date": "2026-02-30",
        "visit_time": "25:00",
    }
    errors = validate_submission(review, bad)
    codes = {field: [m.code for m in messages] for field, messages in errors.items()}
    assert codes == {
        "applicant_name": ["minLength"],
        "contact_email": ["format_email"],
        "contact_phone": ["pattern"],
        "reference_no": ["pattern"],
        "amount": ["minimum"],
        "people": ["type"],
        "decision": ["enum"],
        "documents": ["uniqueItems"],
        "checked_documents": ["checked"],
        "visit_date": ["format_date"],
        "visit_time": ["format_time"],
    }
    missing = validate_submission(review, {"documents": []})
    assert missing["documents"] == ["must have at least 1 item"]
    for field in ("applicant_name", "contact_phone", "amount", "decision", "visit_date"):
        assert missing[field] == ["this field is required"]


def test_the_modeler_form_takes_an_html_post_and_keeps_read_only_fields_out(review):
    post = {
        "applicant_name": "陳大文",
        "contact_phone": "2345 6789",
        "amount": "300",
        "decision": "return",
        "documents": ["contract"],
        "checked_documents": "on",
        "visit_date": "2026-12-01",
        "customer_no": "C-999",  # read-only in the Modeler: shown, never taken from a post
    }
    data = coerce_form_data(review, post)
    kept, dropped = declared_submission(review, data, extras="drop")
    assert dropped == ["customer_no"]
    assert kept["amount"] == 300 and kept["checked_documents"] is True
    assert kept["needs_manager"] is False


# --------------------------------------------------------------------------- small mappings


def test_field_types_map_one_by_one():
    schema = convert(
        form_of(
            {"type": "textarea", "id": "F1", "key": "note", "validate": {"required": True}},
            {"type": "number", "id": "F2", "key": "score"},
            {"type": "datetime", "id": "F3", "key": "when", "subtype": "datetime", "label": "何時"},
            {"type": "datetime", "id": "F4", "key": "day"},  # form-js: subtype date by default
            {"type": "textfield", "id": "F5", "key": "code", "readonly": False, "disabled": True},
            {"type": "html", "id": "F6", "content": "<b>ignored</b>"},
            {"type": "image", "id": "F7", "source": "logo.png"},
        )
    )
    assert schema["properties"] == {
        "note": {"type": "string", "minLength": 1, "x-widget": "textarea"},
        "score": {"type": "number"},
        "when": {"type": "string", "title": "何時", "format": "date-time"},
        "day": {"type": "string", "format": "date"},
        "code": {"type": "string", "readOnly": True},  # form-js does not submit disabled fields
    }
    assert schema["required"] == ["note"]
    assert "title" not in schema and "description" not in schema


def test_option_labels_are_kept_only_when_they_differ_from_the_values():
    schema = convert(
        form_of(
            {
                "type": "select",
                "id": "F1",
                "key": "size",
                "values": [{"label": "小", "value": "S"}, {"label": "M", "value": "M"}],
            },
            {
                "type": "checklist",
                "id": "F2",
                "key": "same",
                "values": [{"label": "a", "value": "a"}],
            },
        )
    )
    assert schema["properties"]["size"]["enum"] == ["S", "M"]
    assert schema["properties"]["size"][LABELS_KEY] == ["小", "M"]
    assert schema["properties"]["same"]["items"] == {"type": "string", "enum": ["a"]}


def test_text_components_become_the_description_and_an_empty_form_is_a_form():
    schema = convert(
        form_of(
            {"type": "text", "id": "T1", "text": "第一段"},
            {"type": "textfield", "id": "F1", "key": "name"},
            {"type": "text", "id": "T2", "text": "# 後面的標題"},
        )
    )
    assert "title" not in schema  # a heading after a field is not the form's title
    assert schema["description"] == "第一段\n\n# 後面的標題"
    assert convert(form_of())["properties"] == {}


def test_phone_keeps_a_shorter_max_length_and_empty_conditions_are_no_conditions():
    schema = convert(
        form_of(
            {
                "type": "textfield",
                "id": "F1",
                "key": "mobile",
                "validate": {"validationType": "phone", "maxLength": 12},
                "conditional": {"hide": ""},
            }
        )
    )
    assert schema["properties"]["mobile"] == {
        "type": "string",
        "pattern": PHONE_PATTERN,
        "maxLength": 12,
    }


def test_a_byte_order_mark_and_bytes_are_read():
    data = "\ufeff" + json.dumps(form_of({"type": "checkbox", "id": "F1", "key": "ok"}))
    assert convert(data.encode("utf-8"))["properties"] == {"ok": {"type": "boolean"}}


# --------------------------------------------------------------------------- refusals


def _field(**extra: Any) -> dict:
    return {"type": "textfield", "id": "Field_1", "key": "name", **extra}


def _select(**extra: Any) -> dict:
    return {"type": "select", "id": "Field_1", "key": "size", **extra}


REFUSALS = [
    pytest.param(
        '{"components": [',
        "test.form: not valid JSON at line 1, column 17: Expecting value",
        id="not-json",
    ),
    pytest.param(
        '{"components": [], "components": []}',
        "test.form: key 'components' appears twice in the same object",
        id="duplicate-json-key",
    ),
    pytest.param(
        b"\xff\xfe",
        "test.form: not UTF-8 text (byte 0)",
        id="not-utf8",
    ),
    pytest.param(
        "[]",
        "test.form: a Camunda form must be a JSON object, not an array",
        id="top-level-array",
    ),
    pytest.param(
        {"type": "default", "id": "Form_1"},
        'test.form: not a Camunda form: the top level has no "components" list '
        '(a form-js file starts with {"components": [...], "type": "default"})',
        id="no-components",
    ),
    pytest.param(
        form_of("text"),
        "test.form: component #1 is a string, not a component object",
        id="component-not-object",
    ),
    pytest.param(
        form_of({"id": "Field_1", "key": "x"}),
        "test.form: component 'Field_1' (key 'x') has no type",
        id="no-type",
    ),
    pytest.param(
        form_of({"type": "colorpicker", "id": "Field_1", "key": "colour"}),
        "test.form: component 'Field_1' (colorpicker, key 'colour'): unknown component type "
        "'colorpicker'",
        id="unknown-type",
    ),
    pytest.param(
        form_of({"type": "colorpicker", "key": "colour"}),
        "test.form: component #1 (colorpicker, key 'colour'): unknown component type 'colorpicker'",
        id="unknown-type-without-id",
    ),
    *[
        pytest.param(
            form_of({"type": kind, "id": "Field_1", "key": "rows"}),
            f"test.form: component 'Field_1' ({kind}, key 'rows'): {kind!r} components "
            f"({what}) are not supported in Caseflow forms",
            id=kind,
        )
        for kind, what in [
            ("dynamiclist", "a repeating list of groups"),
            ("iframe", "an embedded web page"),
            ("table", "a table filled from process data"),
            ("expression", "a value computed by a FEEL expression"),
            ("filepicker", "a file upload bound to the Camunda document store"),
            ("documentPreview", "a preview of Camunda documents"),
        ]
    ],
    pytest.param(
        form_of({"type": "group", "id": "Group_1", "path": "address", "components": []}),
        "test.form: component 'Group_1' (group): the group stores its fields under the path "
        "'address' (nested data), which is not supported; clear the group's path so its fields "
        "are plain fields of the form",
        id="group-with-path",
    ),
    pytest.param(
        form_of({"type": "group", "id": "Group_1"}),
        "test.form: component 'Group_1' (group): the group has no \"components\" list",
        id="group-without-components",
    ),
    pytest.param(
        form_of(_field(conditional={"hide": '=decision = "reject"'})),
        "test.form: component 'Field_1' (textfield, key 'name'): conditional.hide "
        "'=decision = \"reject\"' is a FEEL expression; Caseflow cannot evaluate FEEL, so "
        "conditional fields are refused (remove the condition, or split the form)",
        id="conditional-hide",
    ),
    pytest.param(
        form_of({"type": "text", "id": "Text_1", "text": "x", "conditional": {"hide": "=a"}}),
        "test.form: component 'Text_1' (text): conditional.hide '=a' is a FEEL expression; "
        "Caseflow cannot evaluate FEEL, so conditional fields are refused (remove the "
        "condition, or split the form)",
        id="conditional-hide-on-text",
    ),
    pytest.param(
        form_of(_select(valuesKey="sizes")),
        "test.form: component 'Field_1' (select, key 'size'): the options come from valuesKey "
        "'sizes' (filled in at run time), which is not supported; list the options in the form "
        "(static values)",
        id="values-key",
    ),
    pytest.param(
        form_of(_select(valuesExpression="=sizes")),
        "test.form: component 'Field_1' (select, key 'size'): the options come from "
        "valuesExpression '=sizes' (filled in at run time), which is not supported; list the "
        "options in the form (static values)",
        id="values-expression",
    ),
    pytest.param(
        form_of(_select()),
        "test.form: component 'Field_1' (select, key 'size'): has no options (static values)",
        id="no-options",
    ),
    pytest.param(
        form_of(_select(values=[{"label": "A", "value": "a"}, {"label": "B", "value": "a"}])),
        "test.form: component 'Field_1' (select, key 'size'): the option value 'a' appears twice",
        id="duplicate-option",
    ),
    pytest.param(
        form_of(_select(values=[{"label": "A", "value": 1}])),
        "test.form: component 'Field_1' (select, key 'size'): option {'label': 'A', 'value': 1} "
        "has no text value",
        id="option-not-text",
    ),
    pytest.param(
        form_of(_field(key="address.city")),
        "test.form: component 'Field_1' (textfield, key 'address.city'): the key "
        "'address.city' is a dotted path (form-js stores it as nested data); Caseflow fields "
        "need plain names, e.g. 'address_city'",
        id="dotted-key",
    ),
    pytest.param(
        form_of(_field(key="first name")),
        "test.form: component 'Field_1' (textfield, key 'first name'): the key 'first name' is "
        "not a plain name; use letters, digits and _ (not starting with a digit)",
        id="key-with-space",
    ),
    pytest.param(
        form_of(_field(key="1st")),
        "test.form: component 'Field_1' (textfield, key '1st'): the key '1st' is not a plain "
        "name; use letters, digits and _ (not starting with a digit)",
        id="key-starting-with-digit",
    ),
    pytest.param(
        form_of({"type": "textfield", "id": "Field_1"}),
        "test.form: component 'Field_1' (textfield): the field has no key (the name its value "
        "is stored under)",
        id="no-key",
    ),
    pytest.param(
        form_of(
            _field(),
            {
                "type": "group",
                "id": "Group_1",
                "components": [{"type": "textarea", "id": "Field_2", "key": "name"}],
            },
        ),
        "test.form: component 'Field_2' (textarea, key 'name'): the key 'name' is used by two "
        "fields of this form",
        id="duplicate-key-in-group",
    ),
    pytest.param(
        form_of(_field(label='=concat("Name of ", customer)')),
        "test.form: component 'Field_1' (textfield, key 'name'): label '=concat(\"Name of \", "
        "customer)' is a FEEL expression; Caseflow cannot evaluate FEEL, write the value itself",
        id="feel-label",
    ),
    pytest.param(
        form_of(_field(readonly="=approved")),
        "test.form: component 'Field_1' (textfield, key 'name'): readonly '=approved' is a FEEL "
        "expression; Caseflow cannot evaluate FEEL, write the value itself",
        id="feel-readonly",
    ),
    pytest.param(
        form_of({"type": "number", "id": "Field_1", "key": "n", "validate": {"min": "=low"}}),
        "test.form: component 'Field_1' (number, key 'n'): validate.min '=low' is a FEEL "
        "expression; Caseflow cannot evaluate FEEL, write the value itself",
        id="feel-min",
    ),
    pytest.param(
        form_of({"type": "text", "id": "Text_1", "text": "Hello {{ name }}"}),
        "test.form: component 'Text_1' (text): the text uses a template ({{ ... }}), which "
        "Caseflow cannot fill in; write the text itself",
        id="text-template",
    ),
    pytest.param(
        form_of(_field(validate={"validationType": "iban"})),
        "test.form: component 'Field_1' (textfield, key 'name'): validationType 'iban' is not "
        "supported",
        id="unknown-validation-type",
    ),
    pytest.param(
        form_of(_field(validate={"validationType": "phone", "pattern": "^0"})),
        "test.form: component 'Field_1' (textfield, key 'name'): validate.pattern and "
        'validationType "phone" are both set; keep one',
        id="phone-and-pattern",
    ),
    pytest.param(
        form_of(_field(validate={"pattern": "^(a)\\1$"})),
        "test.form: component 'Field_1' (textfield, key 'name'): validate.pattern: ",
        id="pattern-re2-refuses",
    ),
    pytest.param(
        form_of(_field(validate={"min": 1})),
        "test.form: component 'Field_1' (textfield, key 'name'): validate.min is not supported "
        "on a textfield field",
        id="validate-entry-on-wrong-type",
    ),
    pytest.param(
        form_of(_field(validate={"minLength": -1})),
        "test.form: component 'Field_1' (textfield, key 'name'): validate.minLength must be a "
        "whole number of 0 or more, not -1",
        id="negative-min-length",
    ),
    pytest.param(
        form_of({"type": "number", "id": "Field_1", "key": "n", "validate": {"max": "ten"}}),
        "test.form: component 'Field_1' (number, key 'n'): validate.max must be a number, not "
        "'ten'",
        id="max-not-number",
    ),
    pytest.param(
        form_of({"type": "datetime", "id": "Field_1", "key": "d", "subtype": "week"}),
        "test.form: component 'Field_1' (datetime, key 'd'): datetime subtype 'week' is not "
        "supported",
        id="datetime-subtype",
    ),
    pytest.param(
        form_of({"type": "datetime", "id": "Field_1", "key": "d", "disallowPassedDates": True}),
        "test.form: component 'Field_1' (datetime, key 'd'): disallowPassedDates (no date "
        "before today) cannot be checked by a Caseflow form; clear it and check the date in "
        "the process",
        id="disallow-passed-dates",
    ),
    pytest.param(
        form_of(_select(values=[{"label": "A", "value": "a"}], defaultValue="b")),
        "test.form: component 'Field_1' (select, key 'size'): defaultValue 'b' does not fit the "
        "field: 'b' is not one of ['a']",
        id="default-not-an-option",
    ),
    pytest.param(
        form_of({"type": "number", "id": "Field_1", "key": "n", "defaultValue": "5"}),
        "test.form: component 'Field_1' (number, key 'n'): defaultValue '5' does not fit the "
        "field: '5' is not of type 'number'",
        id="default-wrong-type",
    ),
    pytest.param(
        form_of(_field(validate="required")),
        "test.form: component 'Field_1' (textfield, key 'name'): \"validate\" must be an object",
        id="validate-not-object",
    ),
]


@pytest.mark.parametrize(("form", "message"), REFUSALS)
def test_what_cannot_be_converted_is_refused_with_a_message(form, message):
    found = refusal(form)
    if message.endswith(": "):  # the rest is RE2's own wording
        assert found.startswith(message) and len(found) > len(message)
    else:
        assert found == message


# --------------------------------------------------------------------------- Camunda 7 formData

FORM_DATA_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_1"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="leave" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="employee" label="Employee" type="string">
            <camunda:validation>
              <camunda:constraint name="required" />
            </camunda:validation>
          </camunda:formField>
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:startEvent>
    <bpmn:userTask id="Review" name="Review leave">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="reason" label="Reason" type="string" defaultValue="holiday">
            <camunda:validation>
              <camunda:constraint name="required" />
              <camunda:constraint name="minlength" config="3" />
              <camunda:constraint name="maxlength" config="200" />
            </camunda:validation>
          </camunda:formField>
          <camunda:formField id="days" label="Days" type="long" defaultValue="1">
            <camunda:validation>
              <camunda:constraint name="min" config="1" />
              <camunda:constraint name="max" config="30" />
            </camunda:validation>
          </camunda:formField>
          <camunda:formField id="paid" label="Paid leave" type="boolean" defaultValue="true" />
          <camunda:formField id="first_day" label="First day" type="date"
              defaultValue="01/12/2026" />
          <camunda:formField id="decision" label="Decision" type="enum">
            <camunda:value id="approve" name="Approve" />
            <camunda:value id="reject" name="Reject" />
            <camunda:validation>
              <camunda:constraint name="required" />
            </camunda:validation>
          </camunda:formField>
          <camunda:formField id="balance" label="Days left" type="long">
            <camunda:validation>
              <camunda:constraint name="readonly" />
            </camunda:validation>
          </camunda:formField>
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="Plain" name="No form" />
    <bpmn:userTask id="Listener" name="Extensions without a form">
      <bpmn:extensionElements>
        <camunda:taskListener class="org.example.Listener" event="create" />
      </bpmn:extensionElements>
    </bpmn:userTask>
  </bpmn:process>
</bpmn:definitions>
"""

EXPECTED_FIELDS = [
    {
        "id": "reason",
        "label": "Reason",
        "type": "string",
        "defaultValue": "holiday",
        "values": [],
        "validation": [
            {"name": "required", "config": None},
            {"name": "minlength", "config": "3"},
            {"name": "maxlength", "config": "200"},
        ],
    },
    {
        "id": "days",
        "label": "Days",
        "type": "long",
        "defaultValue": "1",
        "values": [],
        "validation": [{"name": "min", "config": "1"}, {"name": "max", "config": "30"}],
    },
    {
        "id": "paid",
        "label": "Paid leave",
        "type": "boolean",
        "defaultValue": "true",
        "values": [],
        "validation": [],
    },
    {
        "id": "first_day",
        "label": "First day",
        "type": "date",
        "defaultValue": "01/12/2026",
        "values": [],
        "validation": [],
    },
    {
        "id": "decision",
        "label": "Decision",
        "type": "enum",
        "defaultValue": None,
        "values": [{"id": "approve", "name": "Approve"}, {"id": "reject", "name": "Reject"}],
        "validation": [{"name": "required", "config": None}],
    },
    {
        "id": "balance",
        "label": "Days left",
        "type": "long",
        "defaultValue": None,
        "values": [],
        "validation": [{"name": "readonly", "config": None}],
    },
]

EXPECTED_FORM_DATA_SCHEMA = {
    "$schema": DRAFT_2020_12,
    "type": "object",
    "properties": {
        "reason": {
            "type": "string",
            "title": "Reason",
            "minLength": 3,
            "maxLength": 200,
            "default": "holiday",
        },
        "days": {"type": "integer", "title": "Days", "minimum": 1, "maximum": 30, "default": 1},
        "paid": {"type": "boolean", "title": "Paid leave", "default": True},
        "first_day": {
            "type": "string",
            "format": "date",
            "title": "First day",
            "default": "2026-12-01",
        },
        "decision": {
            "type": "string",
            "title": "Decision",
            "enum": ["approve", "reject"],
            "x-labels": ["Approve", "Reject"],
        },
        "balance": {"type": "integer", "title": "Days left", "readOnly": True},
    },
    "required": ["reason", "decision"],
}


def _element(element_id: str) -> etree._Element:
    root = etree.fromstring(FORM_DATA_XML)
    (found,) = root.xpath("//*[@id=$id]", id=element_id)
    return found


def convert_form_data(fields: list[dict], name: str = "leave.bpmn") -> dict:
    schema = schema_from_form_data(fields, name)
    assert load_form_schema(json.dumps(schema, ensure_ascii=False), name) == schema
    return schema


def test_form_data_fields_are_read_from_the_user_task():
    assert form_data_fields(_element("Review")) == EXPECTED_FIELDS


def test_form_data_fields_are_read_from_a_start_event():
    fields = form_data_fields(_element("StartEvent_1"))
    assert [f["id"] for f in fields] == ["employee"]
    assert convert_form_data(fields)["properties"] == {
        "employee": {"type": "string", "title": "Employee", "minLength": 1}
    }


@pytest.mark.parametrize("element_id", ["Plain", "Listener"])
def test_no_form_data_is_no_fields(element_id):
    assert form_data_fields(_element(element_id)) == []


@pytest.mark.parametrize("field", list(EXPECTED_FORM_DATA_SCHEMA["properties"]))
def test_each_form_data_field_converts_as_written_by_hand(field):
    schema = convert_form_data(form_data_fields(_element("Review")))
    assert schema["properties"][field] == EXPECTED_FORM_DATA_SCHEMA["properties"][field]


def test_form_data_converts_whole():
    assert convert_form_data(form_data_fields(_element("Review"))) == EXPECTED_FORM_DATA_SCHEMA


def test_form_data_schema_checks_submissions():
    schema = convert_form_data(form_data_fields(_element("Review")))
    good = {
        "reason": "family",
        "days": 3,
        "paid": False,
        "first_day": "2026-12-01",
        "decision": "reject",
    }
    assert validate_submission(schema, good) == {}
    # Camunda 7's "required" on a boolean takes false; only a missing value is refused.
    assert validate_submission(schema, {"reason": "family", "decision": "approve"}) == {}
    errors = validate_submission(
        schema,
        {"reason": "no", "days": 31, "paid": "yes", "first_day": "01/12/2026", "decision": "x"},
    )
    codes = {field: [m.code for m in messages] for field, messages in errors.items()}
    assert codes == {
        "reason": ["minLength"],
        "days": ["maximum"],
        "paid": ["type"],
        "first_day": ["format_date"],
        "decision": ["enum"],
    }
    assert validate_submission(schema, {})["decision"] == ["this field is required"]
    with pytest.raises(ValidationFailed) as caught:
        declared_submission(schema, {**good, "balance": 20}, extras="refuse")
    assert list(caught.value.errors) == ["balance"]  # read-only: not the submitter's to set


def _ff(**extra: Any) -> dict:
    return {"id": "amount", "label": "Amount", "type": "long", **extra}


FORM_DATA_REFUSALS = [
    pytest.param(
        [_ff(type="double")],
        "leave.bpmn: form field 'amount': type 'double' is not supported; Caseflow knows "
        "string, long, boolean, date, enum",
        id="unknown-type",
    ),
    pytest.param(
        [_ff(type="com.example.MoneyFormType")],
        "leave.bpmn: form field 'amount': type 'com.example.MoneyFormType' is not supported; "
        "Caseflow knows string, long, boolean, date, enum",
        id="custom-type",
    ),
    pytest.param(
        [_ff(type=None)],
        "leave.bpmn: form field 'amount': type None is not supported; Caseflow knows string, "
        "long, boolean, date, enum",
        id="no-type",
    ),
    pytest.param(
        [_ff(validation=[{"name": "validator", "config": "org.example.Check"}])],
        "leave.bpmn: form field 'amount': constraint 'validator' is not supported; Caseflow "
        "knows required, minlength, maxlength, min, max, readonly",
        id="unknown-constraint",
    ),
    pytest.param(
        [_ff(validation=[{"name": "maxlength", "config": "5"}])],
        "leave.bpmn: form field 'amount': constraint 'maxlength' only applies to string fields",
        id="maxlength-on-long",
    ),
    pytest.param(
        [_ff(type="string", validation=[{"name": "min", "config": "1"}])],
        "leave.bpmn: form field 'amount': constraint 'min' only applies to long fields",
        id="min-on-string",
    ),
    pytest.param(
        [_ff(validation=[{"name": "max", "config": "lots"}])],
        "leave.bpmn: form field 'amount': constraint 'max' needs a number as config, not 'lots'",
        id="config-not-number",
    ),
    pytest.param(
        [_ff(type="string", validation=[{"name": "minlength", "config": "2.5"}])],
        "leave.bpmn: form field 'amount': constraint 'minlength' needs a whole number of 0 or more",
        id="minlength-not-whole",
    ),
    pytest.param(
        [_ff(defaultValue="${order.amount}")],
        "leave.bpmn: form field 'amount': defaultValue '${order.amount}' is an expression; "
        "Caseflow cannot evaluate it, write the value itself",
        id="default-expression",
    ),
    pytest.param(
        [_ff(defaultValue="ten")],
        "leave.bpmn: form field 'amount': defaultValue 'ten' is not a whole number",
        id="default-not-long",
    ),
    pytest.param(
        [_ff(type="boolean", defaultValue="yes")],
        "leave.bpmn: form field 'amount': defaultValue 'yes' is not true or false",
        id="default-not-boolean",
    ),
    pytest.param(
        [_ff(type="date", defaultValue="31/02/2026")],
        "leave.bpmn: form field 'amount': defaultValue '31/02/2026' is not a date (dd/MM/yyyy)",
        id="default-not-date",
    ),
    pytest.param(
        [_ff(defaultValue="0", validation=[{"name": "min", "config": "1"}])],
        "leave.bpmn: form field 'amount': defaultValue 0 does not fit the field: 0 is less than "
        "the minimum of 1",
        id="default-below-min",
    ),
    pytest.param(
        [_ff(type="enum", values=[{"id": "a", "name": "A"}], defaultValue="b")],
        "leave.bpmn: form field 'amount': defaultValue 'b' does not fit the field: 'b' is not "
        "one of ['a']",
        id="default-not-a-value",
    ),
    pytest.param(
        [_ff(type="enum", values=[])],
        "leave.bpmn: form field 'amount': an enum field needs at least one value",
        id="enum-without-values",
    ),
    pytest.param(
        [_ff(type="enum", values=[{"id": "a", "name": "A"}, {"id": "a", "name": "B"}])],
        "leave.bpmn: form field 'amount': the enum value 'a' appears twice",
        id="enum-duplicate-value",
    ),
    pytest.param(
        [_ff(), _ff(type="string")],
        "leave.bpmn: form field 'amount': the id 'amount' is used by two form fields",
        id="duplicate-id",
    ),
    pytest.param(
        [_ff(id="order.amount")],
        "leave.bpmn: form field 'order.amount': the id 'order.amount' is not a plain name; use "
        "letters, digits and _ (not starting with a digit)",
        id="id-not-plain",
    ),
    pytest.param(
        [_ff(id=None)],
        "leave.bpmn: form field #1: the form field has no id (the name its value is stored under)",
        id="no-id",
    ),
]


@pytest.mark.parametrize(("fields", "message"), FORM_DATA_REFUSALS)
def test_form_data_that_cannot_be_converted_is_refused_with_a_message(fields, message):
    with pytest.raises(FormError) as caught:
        schema_from_form_data(fields, "leave.bpmn")
    assert str(caught.value) == message


def test_form_data_defaults_and_bounds_take_their_types():
    schema = convert_form_data(
        [
            _ff(defaultValue=" 42 ", validation=[{"name": "max", "config": "99.5"}]),
            {"id": "start", "type": "date", "defaultValue": "2026-12-01"},
            {"id": "note", "type": "string"},
        ]
    )
    assert schema["properties"]["amount"] == {
        "type": "integer",
        "title": "Amount",
        "maximum": 99.5,
        "default": 42,
    }
    assert schema["properties"]["start"] == {
        "type": "string",
        "format": "date",
        "default": "2026-12-01",
    }
    assert schema["properties"]["note"] == {"type": "string"}
    assert "required" not in schema
    assert convert_form_data([])["properties"] == {}
