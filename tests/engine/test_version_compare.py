"""The comparison of two versions besides their elements: message templates, process properties
(the default:<name> parameters among them) and DMN files, each added, removed or changed."""

from __future__ import annotations

import pytest

from engine.definitions.sources import SourceFile
from engine.runtime.compare import compare_versions, line_diff
from tests.conftest import FIXTURES, fixture_files
from tests.engine.test_template_preview import FLOW, LETTER, REMINDER, deploy_worded

pytestmark = pytest.mark.usefixtures("users")

QUOTE_DMN = (FIXTURES / "quote.dmn").read_text()


def test_line_diff_marks_removed_added_and_context_lines():
    assert line_diff("a\nb\nc\n", "a\nB\nc\nd\n") == [
        ["@", "@@ -1,3 +1,4 @@"],
        [" ", "a"],
        ["-", "b"],
        ["+", "B"],
        [" ", "c"],
        ["+", "d"],
    ]
    assert line_diff("same\n", "same\n") == []
    assert line_diff("", "new\n") == [["@", "@@ -0,0 +1 @@"], ["+", "new"]]


def test_template_changes_are_listed_with_a_line_diff(runtime):
    deploy_worded(runtime)
    runtime.deploy(
        [SourceFile("worded_flow.reminder.txt", "{{ customer_name }}，明天見。\n".encode())]
    )
    diff = compare_versions(runtime.db, "worded_flow", 1, 2)
    assert diff["added"] == diff["removed"] == diff["changed"] == []  # no element changed
    (changed,) = diff["templates"]
    assert (changed["name"], changed["change"]) == ("worded_flow.reminder", "changed")
    assert ["-", REMINDER.rstrip("\n")] in changed["diff"]
    assert ["+", "{{ customer_name }}，明天見。"] in changed["diff"]

    # A version that stops sending the letter and sends a new notice.
    v3 = FLOW.replace('"worded_flow.letter"', '"worded_flow.notice"')
    runtime.deploy(
        [
            SourceFile("worded_flow.bpmn", v3.encode()),
            SourceFile("worded_flow.reminder.txt", "{{ customer_name }}，明天見。\n".encode()),
            SourceFile("worded_flow.notice.txt", "請留意 {{ when }}。\n".encode()),
        ]
    )
    diff = compare_versions(runtime.db, "worded_flow", 2, 3)
    assert [(t["name"], t["change"]) for t in diff["templates"]] == [
        ("worded_flow.letter", "removed"),
        ("worded_flow.notice", "added"),
    ]
    removed = diff["templates"][0]["diff"]
    assert all(mark in "-@" for mark, _ in removed)
    assert ["-", LETTER.splitlines()[0]] in removed
    assert {e["id"] for e in diff["changed"]} == {"send"}  # its script names another template
    assert compare_versions(runtime.db, "worded_flow", 3, 3)["templates"] == []


def test_process_property_changes_are_listed_with_their_values(runtime):
    deploy_worded(runtime)
    v2 = FLOW.replace(
        'name="default:customer_name" value="&quot;王小明&quot;"',
        'name="default:customer_name" value="&quot;客戶&quot;"',
    ).replace(
        '<spiffworkflow:property name="default:phone" value="&quot;13800138000&quot;" />',
        '<spiffworkflow:property name="casePrefix" value="WD" />',
    )
    runtime.deploy(
        [
            SourceFile("worded_flow.bpmn", v2.encode()),
            SourceFile("worded_flow.reminder.txt", REMINDER.encode()),
            SourceFile("worded_flow.letter.txt", LETTER.encode()),
        ]
    )
    properties = compare_versions(runtime.db, "worded_flow", 1, 2)["properties"]
    assert properties == [
        {"name": "casePrefix", "change": "added", "before": None, "after": "WD"},
        {
            "name": "default:customer_name",
            "change": "changed",
            "before": '"王小明"',
            "after": '"客戶"',
        },
        {
            "name": "default:phone",
            "change": "removed",
            "before": '"13800138000"',
            "after": None,
        },
    ]


def test_dmn_file_changes_are_listed_with_a_line_diff(runtime):
    runtime.deploy(fixture_files("quote_flow.bpmn", "quote.dmn"))
    cheaper = QUOTE_DMN.replace("area * 15", "area * 14")
    runtime.deploy(
        [
            SourceFile("quote_flow.bpmn", (FIXTURES / "quote_flow.bpmn").read_bytes()),
            SourceFile("quote.dmn", cheaper.encode()),
        ]
    )
    diff = compare_versions(runtime.db, "quote_flow", 1, 2)
    (changed,) = diff["decisions"]
    assert (changed["name"], changed["change"]) == ("quote.dmn", "changed")
    marked = [(mark, line.strip()) for mark, line in changed["diff"] if mark in "+-"]
    assert marked == [
        ("-", '<outputEntry id="o2"><text>area * 15</text></outputEntry>'),
        ("+", '<outputEntry id="o2"><text>area * 14</text></outputEntry>'),
    ]
    assert diff["templates"] == diff["properties"] == []


def test_a_subprocess_is_not_changed_by_a_change_inside_it(runtime):
    """A task's new instructions are the task's change, not its enclosing subprocess's."""
    store = (FIXTURES.parent.parent / "processes" / "store_appointment.bpmn").read_text()
    runtime.deploy(
        [
            SourceFile("store_appointment.bpmn", store.encode()),
            *[
                SourceFile(p.name, p.read_bytes())
                for p in sorted((FIXTURES.parent.parent / "forms").glob("store_appointment.*.json"))
            ],
        ]
    )
    old = "服務結束後請與客戶 {{ customer_name }} 溝通"
    runtime.deploy(
        [
            SourceFile(
                "store_appointment.bpmn",
                store.replace(old, "請與客戶 {{ customer_name }} 溝通").encode(),
            )
        ]
    )
    changed = compare_versions(runtime.db, "store_appointment", 1, 2)["changed"]
    assert [(e["id"], e["what"]) for e in changed] == [("satisfaction", ["instructions"])]
