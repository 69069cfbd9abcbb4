"""Form schemas: deploy-time checks, server-side validation and coercion of HTML posts."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from engine.definitions.coercion import coerce_form_data
from engine.definitions.forms import (
    FormError,
    default_confirmation_schema,
    form_fields,
    load_form_schema,
)
from engine.definitions.submission import validate_submission
from webui.messages import translate_errors

SERVICE_FORM = r"""
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "到府服務預約",
  "type": "object",
  "properties": {
    "customer_name": {"type": "string", "title": "客戶姓名", "minLength": 2, "maxLength": 20},
    "phone": {"type": "string", "title": "聯絡電話", "pattern": "^09\\d{2}-?\\d{3}-?\\d{3}$"},
    "email": {"type": "string", "title": "電子郵件", "format": "email"},
    "service_date": {"type": "string", "title": "服務日期", "format": "date"},
    "appointment": {"type": "string", "title": "預約時間", "format": "date-time"},
    "arrival": {"type": "string", "title": "抵達時間", "format": "time"},
    "people": {"type": "integer", "title": "人數", "minimum": 1, "maximum": 10},
    "budget": {"type": "number", "title": "預算", "exclusiveMinimum": 0},
    "service-kind": {"type": "string", "title": "服務類型", "enum": ["安裝", "維修", "保養"]},
    "notes": {"type": "string", "title": "備註", "maxLength": 10, "x-widget": "textarea"},
    "agree": {"type": "boolean", "title": "同意服務條款", "const": true},
    "urgent": {"type": "boolean", "title": "急件"},
    "tags": {
      "type": "array", "title": "標籤", "maxItems": 2, "uniqueItems": true,
      "items": {"type": "string", "enum": ["VIP", "新客戶", "回訪"]}
    },
    "items": {
      "type": "array", "title": "品項", "minItems": 1, "maxItems": 3,
      "items": {"$ref": "#/$defs/item"}
    },
    "address": {
      "type": "object", "title": "地址",
      "properties": {
        "city": {"type": "string", "title": "縣市"},
        "street": {"type": "string", "title": "街道"}
      },
      "required": ["city"]
    }
  },
  "required": ["customer_name", "phone", "service_date", "people", "service-kind", "agree",
               "items"],
  "$defs": {
    "item": {
      "type": "object",
      "properties": {
        "name": {"type": "string", "title": "品名"},
        "qty": {"type": "integer", "title": "數量", "minimum": 1},
        "gift": {"type": "boolean", "title": "贈品"}
      },
      "required": ["name", "qty"]
    }
  }
}
"""


@pytest.fixture
def schema() -> dict:
    return load_form_schema(SERVICE_FORM.encode("utf-8"), "service_booking.json")


@pytest.fixture
def valid() -> dict:
    return {
        "customer_name": "王小明",
        "phone": "0912-345-678",
        "email": "xiaoming@example.com.tw",
        "service_date": "2026-03-05",
        "appointment": "2026-03-05T14:30",
        "arrival": "14:30",
        "people": 2,
        "budget": 1500.5,
        "service-kind": "維修",
        "notes": "請先來電",
        "agree": True,
        "urgent": False,
        "tags": ["VIP"],
        "items": [{"name": "冷氣濾網", "qty": 2, "gift": False}],
        "address": {"city": "台北市", "street": "忠孝東路一段 1 號"},
    }


def errors_for(schema: dict, data: dict, lang: str = "zh") -> dict[str, list[str]]:
    """The messages as a clerk reads them: the engine's, translated by the web layer."""
    return translate_errors(validate_submission(schema, data), "zh_Hant" if lang == "zh" else "en")


def zh(errors: dict) -> dict[str, list[str]]:
    return translate_errors(errors, "zh_Hant")


# --------------------------------------------------------------------------- loading


def test_load_returns_the_schema_dict(schema: dict) -> None:
    assert schema["title"] == "到府服務預約"
    assert schema["properties"]["people"]["minimum"] == 1


def test_load_accepts_str_and_a_utf8_bom() -> None:
    text = '{"type": "object", "properties": {"名稱": {"type": "string"}}}'
    assert load_form_schema(text, "a.json")["properties"]["名稱"] == {"type": "string"}
    assert load_form_schema(b"\xef\xbb\xbf" + text.encode(), "b.json")["type"] == "object"


def test_non_json_is_refused_with_file_line_and_column() -> None:
    with pytest.raises(FormError) as info:
        load_form_schema('{\n  "type": "object",\n  "properties": {,}\n}', "broken.json")
    message = str(info.value)
    assert "broken.json" in message
    assert "line 3" in message and "column" in message


def test_non_utf8_bytes_are_refused() -> None:
    with pytest.raises(FormError, match="big5.json: not UTF-8"):
        load_form_schema('{"title": "表單"}'.encode("big5"), "big5.json")


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(FormError, match=r"dup.json: key 'type' appears twice"):
        load_form_schema('{"type": "object", "type": "array", "properties": {}}', "dup.json")


def test_invalid_schema_is_refused() -> None:
    with pytest.raises(FormError) as info:
        load_form_schema('{"type": "objekt", "properties": {}}', "typo.json")
    message = str(info.value)
    assert message.startswith("typo.json: not a valid JSON Schema")
    assert "$.type" in message


def test_invalid_pattern_regex_is_refused() -> None:
    text = '{"type": "object", "properties": {"a": {"type": "string", "pattern": "(("}}}'
    with pytest.raises(FormError, match="regex.json: not a valid JSON Schema"):
        load_form_schema(text, "regex.json")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[]", "must be a JSON object"),
        ('{"type": "array", "items": {}}', '"type": "object"'),
        ('{"type": "object"}', '"properties"'),
        (
            '{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",'
            ' "properties": {}}',
            "Draft 2020-12",
        ),
    ],
)
def test_top_level_must_be_an_object_form(text: str, expected: str) -> None:
    with pytest.raises(FormError) as info:
        load_form_schema(text, "shape.json")
    assert str(info.value).startswith("shape.json: ")
    assert expected in str(info.value)


@pytest.mark.parametrize(
    "ref",
    [
        "https://example.com/address.json",
        "address.json#/city",
        "//evil.example/x",
    ],
)
def test_remote_refs_are_refused(ref: str) -> None:
    text = json.dumps(
        {"type": "object", "properties": {"address": {"$ref": ref}}}, ensure_ascii=False
    )
    with pytest.raises(FormError) as info:
        load_form_schema(text, "remote.json")
    assert str(info.value).startswith("remote.json: $.properties.address.$ref")
    assert ref in str(info.value)


def test_a_field_named_ref_is_not_a_reference() -> None:
    text = '{"type": "object", "properties": {"$ref": {"type": "string"}}}'
    assert "$ref" in load_form_schema(text, "field.json")["properties"]


def test_validation_never_fetches_even_an_unchecked_schema(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("validation tried to fetch a $ref")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    unchecked = {
        "type": "object",
        "properties": {"a": {"$ref": "https://example.com/a.json"}},
    }
    with pytest.raises(FormError, match=r"\$ref"):
        validate_submission(unchecked, {"a": 1})


# --------------------------------------------------------------------------- validation


def test_valid_submission_has_no_errors(schema: dict, valid: dict) -> None:
    assert errors_for(schema, valid) == {}
    assert errors_for(schema, valid, lang="en") == {}


def test_a_full_datetime_with_offset_and_seconds_is_valid(schema: dict, valid: dict) -> None:
    for value in ("2026-03-05T14:30:00+08:00", "2026-03-05T06:30:00.250Z", "2026-03-05 14:30"):
        assert errors_for(schema, {**valid, "appointment": value}) == {}, value


@pytest.mark.parametrize(
    ("field", "value", "zh", "en"),
    [
        ("people", "abc", "必須是整數", "must be a whole number"),
        ("people", 1.5, "必須是整數", "must be a whole number"),
        ("budget", "abc", "必須是數字", "must be a number"),
        ("people", 0, "至少 1", "must be at least 1"),
        ("people", 11, "最多 10", "must be at most 10"),
        ("budget", 0, "必須大於 0", "must be greater than 0"),
        ("customer_name", "王", "至少需要 2 個字", "must be at least 2 characters"),
        ("customer_name", "王" * 21, "最多 20 個字", "must be at most 20 characters"),
        ("phone", "02-1234", "格式不正確", "is not in the expected format"),
        (
            "service-kind",
            "清潔",
            "必須是以下之一: 安裝, 維修, 保養",
            "must be one of: 安裝, 維修, 保養",
        ),
        ("email", "xiaoming", "不是有效的電子郵件地址", "not a valid email address"),
        ("email", "a b@example.com", "不是有效的電子郵件地址", "not a valid email address"),
        ("service_date", "2026-02-30", "不是有效的日期", "not a valid date"),
        ("service_date", "2026/03/05", "不是有效的日期", "not a valid date"),
        ("appointment", "2026-13-40T99:00", "不是有效的日期時間", "not a valid date and time"),
        ("appointment", "2026-03-05", "不是有效的日期時間", "not a valid date and time"),
        ("appointment", "2026-03-05T25:00", "不是有效的日期時間", "not a valid date and time"),
        ("arrival", "24:30", "不是有效的時間", "not a valid time"),
        ("agree", False, "必須勾選", "must be checked"),
        ("agree", "yes", "必須是「是」或「否」", "must be true or false"),
        ("tags", ["VIP", "新客戶", "回訪"], "最多 2 項", "must have at most 2 items"),
        ("tags", ["VIP", "VIP"], "項目不可重複", "must not contain the same item twice"),
        ("items", [], "至少需要 1 項", "must have at least 1 item"),
    ],
)
def test_each_error_kind_is_keyed_and_worded(
    schema: dict, valid: dict, field: str, value: object, zh: str, en: str
) -> None:
    data = {**valid, field: value}
    assert errors_for(schema, data) == {field: [zh]}
    assert errors_for(schema, data, lang="en") == {field: [en]}


def test_required_errors_are_keyed_by_the_missing_field(schema: dict, valid: dict) -> None:
    data = {k: v for k, v in valid.items() if k not in ("phone", "people")}
    assert errors_for(schema, data) == {"people": ["此欄位必填"], "phone": ["此欄位必填"]}
    assert errors_for(schema, data, lang="en") == {
        "people": ["this field is required"],
        "phone": ["this field is required"],
    }


def test_nested_and_row_errors_use_dotted_paths(schema: dict, valid: dict) -> None:
    data = {
        **valid,
        "address": {"street": "中山路"},
        "items": [{"name": "濾網", "qty": 1}, {"name": "冷媒", "qty": 0}, {"qty": "兩"}],
    }
    assert errors_for(schema, data) == {
        "address.city": ["此欄位必填"],
        "items.1.qty": ["至少 1"],
        "items.2.name": ["此欄位必填"],
        "items.2.qty": ["必須是整數"],
    }
    assert errors_for(schema, data, lang="en")["items.1.qty"] == ["must be at least 1"]


def test_whole_form_errors_go_under_empty_key() -> None:
    closed = load_form_schema(
        '{"type": "object", "properties": {"a": {"type": "string"}},'
        ' "additionalProperties": false}',
        "closed.json",
    )
    assert zh(validate_submission(closed, {"a": "x", "b": 1, "c": 2})) == {
        "": ["不允許的欄位: b, c"]
    }


def test_other_keywords_fall_back_to_jsonschema_text() -> None:
    schema = load_form_schema(
        '{"type": "object", "properties": {"code": {"not": {"const": "x"}}}}', "not.json"
    )
    errors = validate_submission(schema, {"code": "x"})
    assert list(errors) == ["code"]
    assert "should not be valid under" in errors["code"][0]


def test_dependent_required_is_keyed_by_the_missing_field() -> None:
    schema = load_form_schema(
        '{"type": "object", "properties": {"invoice": {"type": "boolean"},'
        ' "tax_id": {"type": "string"}}, "dependentRequired": {"invoice": ["tax_id"]}}',
        "dep.json",
    )
    assert zh(validate_submission(schema, {"invoice": True})) == {"tax_id": ["此欄位必填"]}


def test_messages_carry_a_code_and_parameters_for_translation(schema: dict, valid: dict) -> None:
    errors = validate_submission(schema, {**valid, "people": 0})
    (message,) = errors["people"]
    assert (message, message.code, message.params) == (
        "must be at least 1",
        "minimum",
        {"value": "1"},
    )


# --------------------------------------------------------------------------- coercion


def test_coerces_a_realistic_post(schema: dict, valid: dict) -> None:
    post = {
        "customer_name": "王小明",
        "phone": "0912-345-678",
        "email": "xiaoming@example.com.tw",
        "service_date": "2026-03-05",
        "appointment": "2026-03-05T14:30",
        "arrival": "14:30",
        "people": "2",
        "budget": "1500.5",
        "service-kind": "維修",
        "notes": "請先來電",
        "agree": "on",
        "tags": ["VIP"],
        "items-0-name": "冷氣濾網",
        "items-0-qty": "2",
        "address.city": "台北市",
        "address.street": "忠孝東路一段 1 號",
        "csrf_token": "abc123",
        "submit": "送出",
    }
    data = coerce_form_data(schema, post)
    assert data == valid
    assert validate_submission(schema, data) == {}


def test_numbers(schema: dict) -> None:
    data = coerce_form_data(
        schema, {"people": " 3 ", "budget": "12", "items-0-qty": "３", "items-0-name": "x"}
    )
    assert data["people"] == 3 and isinstance(data["people"], int)
    assert data["budget"] == 12 and isinstance(data["budget"], int)  # an int is a valid number
    assert data["items"] == [{"name": "x", "qty": 3, "gift": False}]  # full-width digit
    assert coerce_form_data(schema, {"budget": "1e3"})["budget"] == 1000.0
    assert coerce_form_data(schema, {"people": "4.0"})["people"] == 4


@pytest.mark.parametrize("text", ["abc", "1.5", "nan", "inf", "1_000", "1e999", "1,000"])
def test_unparsable_numbers_are_left_for_validation(schema: dict, text: str) -> None:
    data = coerce_form_data(schema, {"people": text})
    assert data["people"] == text
    assert zh(validate_submission(schema, data))["people"] == ["必須是整數"]


@pytest.mark.parametrize("word", ["on", "true", "1", "yes", "ON", "True"])
def test_ticked_checkbox_is_true(schema: dict, word: str) -> None:
    assert coerce_form_data(schema, {"agree": word})["agree"] is True


def test_absent_boolean_is_false(schema: dict) -> None:
    data = coerce_form_data(schema, {})
    assert data["agree"] is False and data["urgent"] is False
    assert zh(validate_submission(schema, data))["agree"] == ["必須勾選"]


def test_hidden_false_then_checkbox_is_true(schema: dict) -> None:
    assert coerce_form_data(schema, {"urgent": ["false", "on"]})["urgent"] is True
    assert coerce_form_data(schema, {"urgent": ["false"]})["urgent"] is False


def test_empty_strings_leave_the_key_out(schema: dict) -> None:
    data = coerce_form_data(
        schema, {"email": "", "notes": "   ", "people": "", "customer_name": "", "tags": ""}
    )
    for key in ("email", "notes", "people", "customer_name", "tags"):
        assert key not in data
    errors = zh(validate_submission(schema, data))
    assert errors["customer_name"] == ["此欄位必填"]  # blank required field: required, not ""
    assert errors["people"] == ["此欄位必填"]
    assert "email" not in errors


def test_repeated_keys_make_scalar_arrays(schema: dict) -> None:
    assert coerce_form_data(schema, {"tags": ["VIP", "回訪"]})["tags"] == ["VIP", "回訪"]
    assert coerce_form_data(schema, {"tags": "VIP"})["tags"] == ["VIP"]
    numbers = load_form_schema(
        '{"type": "object", "properties": {"n": {"type": "array", "items": {"type": "integer"}}}}',
        "n.json",
    )
    assert coerce_form_data(numbers, {"n": ["1", "", "x"]}) == {"n": [1, "x"]}


class FakeMultiDict(dict):
    """Duck type of werkzeug's MultiDict: [] gives the first value, getlist gives all."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key)[0]

    def getlist(self, key: str) -> list[str]:
        return super().__getitem__(key)


def test_multidict_getlist_is_used(schema: dict) -> None:
    form = FakeMultiDict({"tags": ["VIP", "回訪"], "people": ["2"]})
    assert coerce_form_data(schema, form) == {
        "tags": ["VIP", "回訪"],
        "people": 2,
        "agree": False,
        "urgent": False,
    }


def test_rows_make_arrays_of_objects(schema: dict) -> None:
    post = {
        "items-0-name": "濾網",
        "items-0-qty": "2",
        "items-0-gift": "on",
        "items-1-name": "",  # a blank spare row
        "items-1-qty": "",
        "items-3-name": "冷媒",  # row 2 was removed
        "items-3-qty": "1",
        "items.4.name": "支架",  # dotted form, as error keys are written
        "items-4-qty": "x",
    }
    assert coerce_form_data(schema, post)["items"] == [
        {"name": "濾網", "qty": 2, "gift": True},
        {"name": "冷媒", "qty": 1, "gift": False},
        {"name": "支架", "qty": "x", "gift": False},
    ]


def test_rows_with_ten_or_more_are_ordered_numerically(schema: dict) -> None:
    post = {f"items-{i}-name": f"n{i}" for i in (10, 2, 1)}
    assert [row["name"] for row in coerce_form_data(schema, post)["items"]] == [
        "n1",
        "n2",
        "n10",
    ]


def test_dotted_keys_make_nested_objects(schema: dict) -> None:
    data = coerce_form_data(schema, {"address.city": "高雄市", "address.street": ""})
    assert data["address"] == {"city": "高雄市"}
    assert "address" not in coerce_form_data(schema, {"address.city": "", "address.street": ""})


def test_unknown_keys_are_dropped(schema: dict) -> None:
    data = coerce_form_data(
        schema, {"csrf_token": "t", "address.zip": "100", "items-0-color": "red", "people-x": "1"}
    )
    assert data == {"agree": False, "urgent": False}


def test_additional_properties_true_keeps_unknown_keys() -> None:
    schema = load_form_schema(
        '{"type": "object", "properties": {"n": {"type": "integer"}},'
        ' "additionalProperties": true}',
        "open.json",
    )
    assert coerce_form_data(schema, {"n": "1", "extra": "x", "many": ["a", "b"], "blank": ""}) == {
        "n": 1,
        "extra": "x",
        "many": ["a", "b"],
    }


def test_textarea_line_breaks_are_normalised(schema: dict) -> None:
    assert coerce_form_data(schema, {"notes": "一\r\n二"})["notes"] == "一\n二"


def test_nullable_types_use_the_non_null_type() -> None:
    schema = load_form_schema(
        '{"type": "object", "properties": {"n": {"type": ["integer", "null"]}}}', "null.json"
    )
    assert coerce_form_data(schema, {"n": "5"}) == {"n": 5}
    assert coerce_form_data(schema, {"n": ""}) == {}


# --------------------------------------------------------------------------- defaults, fields


def test_default_confirmation_schema() -> None:
    schema = default_confirmation_schema()
    loaded = load_form_schema(json.dumps(schema), "default")
    assert loaded["properties"]["confirmed"]["title"] == "確認完成"
    assert loaded["properties"]["comment"]["title"] == "備註"
    assert loaded["required"] == ["confirmed"]

    assert validate_submission(schema, coerce_form_data(schema, {"confirmed": "on"})) == {}
    assert zh(validate_submission(schema, coerce_form_data(schema, {}))) == {
        "confirmed": ["必須勾選"]
    }
    long = coerce_form_data(schema, {"confirmed": "on", "comment": "字" * 2001})
    assert validate_submission(schema, long) == {"comment": ["must be at most 2000 characters"]}
    assert default_confirmation_schema() is not default_confirmation_schema()


def test_form_fields(schema: dict) -> None:
    fields = {f["name"]: f for f in form_fields(schema)}
    assert list(fields)[:3] == ["customer_name", "phone", "email"]
    assert fields["customer_name"]["title"] == "客戶姓名"
    assert fields["customer_name"]["required"] is True
    assert fields["email"]["required"] is False
    assert fields["service_date"]["format"] == "date"
    assert fields["people"]["type"] == "integer"
    assert fields["service-kind"]["enum"] == ["安裝", "維修", "保養"]
    assert fields["tags"]["enum"] == ["VIP", "新客戶", "回訪"]
    assert fields["notes"]["widget"] == "textarea"
    assert fields["address.city"]["required"] is True
    assert fields["address.street"]["required"] is False
    assert [f["name"] for f in fields["items"]["fields"]] == ["name", "qty", "gift"]
    ui = load_form_schema(
        '{"type": "object", "properties": {"x": {"type": "string", "ui:widget": "radio"}}}',
        "ui.json",
    )
    assert form_fields(ui)[0]["widget"] == "radio"


def test_forms_module_does_not_import_flask() -> None:
    code = "import sys, engine.definitions.forms; print('flask' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_only_fields_marked_x_prefill_start_filled():
    from engine.definitions.forms import prefilled_values

    schema = {
        "type": "object",
        "properties": {
            "customer_name": {"type": "string", "x-prefill": "customer_name"},
            "contact": {"type": "string", "x-prefill": "phone"},
            "received_at": {"type": "string", "format": "date-time"},
            "note": {"type": "string", "x-prefill": "note"},
        },
    }
    data = {"customer_name": "王", "phone": "138", "received_at": "2026-11-24T16:00", "note": ""}
    assert prefilled_values(schema, data) == {"customer_name": "王", "contact": "138"}


def test_limits_from_case_values():
    from decimal import Decimal

    from engine.definitions.forms import with_case_limits
    from engine.definitions.submission import validate_submission

    schema = {
        "type": "object",
        "properties": {"paid": {"type": "number", "minimum": 0, "x-minimum": "amount_due"}},
    }
    assert with_case_limits(schema, {})["properties"]["paid"]["minimum"] == 0
    bound = with_case_limits(schema, {"amount_due": Decimal("760")})
    assert (
        bound["properties"]["paid"]["minimum"] == 760
        and schema["properties"]["paid"]["minimum"] == 0
    )
    assert [m.code for m in validate_submission(bound, {"paid": 700})["paid"]] == ["minimum"]
    assert validate_submission(bound, {"paid": 760}) == {}


@pytest.mark.parametrize("key", ["x-prefill", "x-minimum", "x-maximum"])
def test_a_case_variable_reference_must_be_a_name(key):
    text = json.dumps({"type": "object", "properties": {"a": {"type": "number", key: 5}}})
    with pytest.raises(FormError, match=f"a.{key} must name a case variable"):
        load_form_schema(text, "f.json")
