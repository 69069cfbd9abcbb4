"""A case's data as a supervisor reads it: under the titles of the forms that wrote it, rows as
tables, a message's answer under its variable, bookkeeping left out; what a correction changes;
and the names and message wiring read from a diagram."""

from __future__ import annotations

from engine.runtime.casedata import (
    FormSource,
    changed_values,
    correction_form,
    is_internal_key,
    labelled_groups,
)
from engine.runtime.diagram import diagram_index
from tests.conftest import FIXTURES

START = {
    "title": "申請",
    "properties": {
        "customer_name": {"type": "string", "title": "客戶姓名"},
        "channel": {"type": "string", "title": "來源", "enum": ["web"], "x-labels": ["網站"]},
        "address": {
            "type": "object",
            "title": "地址",
            "properties": {"city": {"type": "string", "title": "城市"}},
        },
        "vehicles": {
            "type": "array",
            "title": "車輛",
            "items": {"$ref": "#/$defs/vehicle"},
        },
        "professional_id": {"type": "integer", "title": "專業人員編號"},
        "urgent": {"type": "boolean", "title": "緊急"},
        "photo": {"type": "string", "title": "照片", "x-widget": "file"},
    },
    "$defs": {
        "vehicle": {
            "type": "object",
            "properties": {
                "plate": {"type": "string", "title": "車牌"},
                "kind": {"type": "string", "title": "車型", "enum": ["car"], "x-labels": ["轎車"]},
            },
        }
    },
}
REPLY = {"properties": {"score": {"type": "integer", "title": "評分"}}}
DATA = {
    "customer_name": "王小明",
    "channel": "web",
    "address": {"city": "上海"},
    "vehicles": [{"plate": "滬A1", "kind": "car"}],
    "professional_id": 7,
    "urgent": False,
    "booking_ref": "B-1",
    "_hidden": 1,
    "reply": {"score": 5},
    "share": 25,
}


def test_internal_keys():
    for key in ("_x", "id", "professional_id", "booking_ref", "booking", "form_key", "slot_ids"):
        assert is_internal_key(key), key
    for key in ("customer_name", "idea", "id_number", "reference"):
        assert not is_internal_key(key), key


def test_labelled_groups_follow_the_forms_that_wrote_the_data():
    sources = [FormSource("申請", START), FormSource("客戶回覆", REPLY, under="reply")]
    groups, unlabelled = labelled_groups(DATA, sources)
    assert [g.label for g in groups] == ["申請", "客戶回覆"]
    fields = {f.name: f for f in groups[0].fields}
    assert list(fields) == ["customer_name", "channel", "address.city", "vehicles", "urgent"]
    assert fields["channel"].shown == "網站"
    assert fields["address.city"].label == "地址 · 城市"
    assert fields["vehicles"].kind == "rows"
    assert fields["vehicles"].columns == ["車牌", "車型"]
    assert fields["vehicles"].shown == [["滬A1", "轎車"]]
    assert fields["urgent"].kind == "boolean" and fields["urgent"].value is False
    assert [(f.name, f.label, f.value) for f in groups[1].fields] == [("reply.score", "評分", 5)]
    assert unlabelled == 1  # share; the internal keys are not counted


def test_correction_form_and_what_it_changes():
    sources = [FormSource("申請", START), FormSource("客戶回覆", REPLY, under="reply")]
    form = correction_form(DATA, sources)
    assert list(form.schema["properties"]) == [
        "customer_name",
        "channel",
        "address",
        "vehicles",
        "urgent",
        "reply",
    ]
    assert "required" not in form.schema
    assert form.groups == [
        ("申請", ["customer_name", "channel", "address", "vehicles", "urgent"]),
        ("客戶回覆", ["reply"]),
    ]
    answer = {
        "customer_name": "王小明",
        "urgent": False,
        "address": {"city": "北京"},
        "reply": {"score": 5},
        "channel": "web",
    }
    assert changed_values(answer, form.values) == {"address": {"city": "北京"}}
    # An unticked box says nothing about a variable the case never had.
    assert changed_values({"approve": False}, {}) == {}
    assert changed_values({"approve": True}, {}) == {"approve": True}


def test_diagram_index_reads_names_and_message_catchers():
    index = diagram_index([(FIXTURES / "supervise_flow.bpmn").read_text(encoding="utf-8")])
    assert index.name("task_review") == "受理審核" and index.name("f_start") == "f_start"
    assert index.catchers == {"customer_reply": ["wait_reply"], "phone_note": ["wait_call"]}
    assert index.variables == {"customer_reply": "reply"}
    assert index.message_label("customer_reply") == "等待客戶回覆"
    assert index.message_label("unknown") == "unknown"
