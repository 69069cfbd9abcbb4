"""Editing a process's wording: the SMS length and segment count, the preview of a message
template rendered on a running case as notify would render it (bounded, in an evaluator
process, errors with their line), deploying a changed template, and task instructions written
into the stored BPMN and deployed as a new version."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.core.errors import NotFound
from engine.definitions.sources import DefinitionError, SourceFile
from engine.runtime.instructions import (
    deploy_instructions,
    preview_instructions,
    task_instructions,
    with_instructions,
)
from engine.runtime.preview_sample import sample_cases, sample_data
from engine.runtime.template_preview import (
    deploy_template,
    message_template,
    preview_template,
    sms_count,
    version_message_templates,
)
from engine.runtime.versions import blank_diagram
from engine.spiff import templating
from engine.store.tables import Outbox
from tests.conftest import FIXTURES

pytestmark = pytest.mark.usefixtures("users")

# start → call the customer (a user task with instructions) → send a reminder → end. The
# reminder's data is built before the call; `later` is made by the script on the way.
FLOW = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="defs_worded" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="worded_flow" name="提醒" isExecutable="true">
    <bpmn:extensionElements>
      <spiffworkflow:properties>
        <spiffworkflow:property name="default:customer_name" value="&quot;王小明&quot;" />
        <spiffworkflow:property name="default:phone" value="&quot;13800138000&quot;" />
      </spiffworkflow:properties>
    </bpmn:extensionElements>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="call" name="致電客戶">
      <bpmn:extensionElements>
        <spiffworkflow:instructionsForEndUser>請致電 {{ customer_name }}（{{ phone }}）。</spiffworkflow:instructionsForEndUser>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:scriptTask id="send" name="發送提醒">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>later = "明天 10:00"
message = {"customer_name": customer_name, "when": later}
message["phone_tail"] = phone[-4:]
notify("sms", phone, "worded_flow.reminder", message)
notify("email", "a@example.com", "worded_flow.letter", message)</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="send" />
    <bpmn:sequenceFlow id="f3" sourceRef="send" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""
REMINDER = "{{ customer_name }} 您好，提醒您 {{ when }} 的預約（尾號 {{ phone_tail }}）。\n"
LETTER = "Subject: 預約提醒 {{ case_number }}\n{{ customer_name }} 您好：\n\n請準時到店。\n"


def deploy_worded(runtime) -> None:
    runtime.deploy(
        [
            SourceFile("worded_flow.bpmn", FLOW.encode()),
            SourceFile("worded_flow.reminder.txt", REMINDER.encode()),
            SourceFile("worded_flow.letter.txt", LETTER.encode()),
        ],
        actor="olga",
    )


def finish_call(runtime, number: str) -> None:
    (task,) = runtime.get_case(number).open_tasks
    runtime.complete_task(task.id, {"confirmed": True}, "alice")


def sms_bodies(db) -> list[str]:
    with db.read() as session:
        rows = session.scalars(select(Outbox).where(Outbox.channel == "sms").order_by(Outbox.id))
        return [r.body for r in rows]


# ----- SMS length -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "length", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("預" * 70, "UCS-2", 70, 1),  # one message holds 70
        ("預" * 71, "UCS-2", 71, 2),  # longer: 67 per part
        ("預" * 134, "UCS-2", 134, 2),  # 2 × 67
        ("預" * 135, "UCS-2", 135, 3),
        ("a" * 160, "GSM-7", 160, 1),  # one message holds 160
        ("a" * 161, "GSM-7", 161, 2),  # longer: 153 per part
        ("a" * 306, "GSM-7", 306, 2),  # 2 × 153
        ("a" * 307, "GSM-7", 307, 3),
        ("a" * 69 + "預", "UCS-2", 70, 1),  # one Chinese character makes it all UCS-2
        ("€" * 80, "GSM-7", 160, 1),  # extension characters take two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),  # an escape pair is not split: 152|153|1
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: two UTF-16 units each
        ("😀" * 67, "UCS-2", 134, 3),  # a surrogate pair is not split: 66|66|2
    ],
)
def test_sms_length_and_segments(text, encoding, length, segments):
    counted = sms_count(text)
    assert (counted.encoding, counted.length, counted.segments) == (encoding, length, segments)


def test_the_characters_that_force_ucs2_are_named():
    assert sms_count("Hello 王").non_gsm == "王"
    assert sms_count("Hello").non_gsm == ""
    assert sms_count("預" * 71).per_segment == 67 and sms_count("預" * 70).per_segment == 70


# ----- the templates a version keeps ---------------------------------------------------------


def test_the_templates_a_version_keeps_with_their_channels(runtime):
    deploy_worded(runtime)
    kept = {t.name: t for t in version_message_templates(runtime, "worded_flow")}
    assert set(kept) == {"worded_flow.reminder", "worded_flow.letter"}
    assert kept["worded_flow.reminder"].channels == ("sms",)
    assert kept["worded_flow.letter"].channels == ("email",)
    assert kept["worded_flow.reminder"].senders == ("send",)
    assert kept["worded_flow.reminder"].text == REMINDER
    with pytest.raises(NotFound):
        message_template(runtime, "worded_flow", "worded_flow.never")


# ----- preview ---------------------------------------------------------------------------------


def test_the_preview_renders_what_notify_would_send_on_a_running_case(runtime, db):
    deploy_worded(runtime)
    older = runtime.start_case("worded_flow").number
    newer = runtime.start_case("worded_flow").number
    assert [c.number for c in sample_cases(runtime, "worded_flow")] == [newer, older]
    sample = sample_data(runtime, "worded_flow")
    assert (sample.source, sample.case_number) == ("case", newer)

    preview = preview_template(runtime, "worded_flow", "worded_flow.reminder", REMINDER, sample)
    # `later` is made by the script: the preview shows it in brackets and names it.
    assert preview.rendered.text == "王小明 您好，提醒您 [when] 的預約（尾號 8000）。"
    assert preview.unknown == ["when"]
    assert (preview.sms.encoding, preview.sms.segments) == ("UCS-2", 1)
    assert preview.subject is None

    finish_call(runtime, newer)  # what the case really sends, for comparison
    assert sms_bodies(db) == ["王小明 您好，提醒您 明天 10:00 的預約（尾號 8000）。\n"]


def test_the_email_subject_is_the_first_line(runtime):
    deploy_worded(runtime)
    number = runtime.start_case("worded_flow").number
    sample = sample_data(runtime, "worded_flow", number)
    preview = preview_template(runtime, "worded_flow", "worded_flow.letter", LETTER, sample)
    assert preview.subject == f"預約提醒 {number}"
    assert preview.rendered.text == "王小明 您好：\n\n請準時到店。"


def test_without_a_running_case_the_preview_uses_the_process_defaults(runtime):
    deploy_worded(runtime)
    sample = sample_data(runtime, "worded_flow")
    assert sample.source == "start" and sample.case_number is None
    assert sample.data == {"customer_name": "王小明", "phone": "13800138000"}
    preview = preview_template(runtime, "worded_flow", "worded_flow.letter", LETTER, sample)
    assert preview.subject == "預約提醒 [case_number]"


def test_a_case_of_another_process_or_a_finished_one_is_no_sample(runtime):
    deploy_worded(runtime)
    runtime.deploy([SourceFile("other_flow.bpmn", blank_diagram("other_flow", "其他").encode())])
    other = runtime.start_case("other_flow").number
    with pytest.raises(NotFound):
        sample_data(runtime, "worded_flow", other)
    done = runtime.start_case("worded_flow").number
    finish_call(runtime, done)
    with pytest.raises(NotFound):
        sample_data(runtime, "worded_flow", done)


def test_a_render_error_is_reported_with_its_line(runtime):
    deploy_worded(runtime)
    sample = sample_data(runtime, "worded_flow", runtime.start_case("worded_flow").number)
    name = "worded_flow.reminder"
    missing = preview_template(
        runtime, "worded_flow", name, "您好\n{{ customer_name }}\n{{ nope }}", sample
    )
    assert missing.rendered.text is None and missing.sms is None
    assert (missing.rendered.line, missing.rendered.error) == (3, "'nope' is undefined")
    assert missing.rendered.source_line == "{{ nope }}"
    broken = preview_template(runtime, "worded_flow", name, "您好\n{% if %}", sample)
    assert broken.rendered.line == 2 and "expected" in broken.rendered.error.lower()


def test_the_preview_is_bounded_and_renders_outside_the_calling_process(runtime, monkeypatch):
    deploy_worded(runtime)
    sample = sample_data(runtime, "worded_flow", runtime.start_case("worded_flow").number)
    name = "worded_flow.reminder"

    def here(*args, **kwargs):
        raise AssertionError("rendered in the calling process")

    monkeypatch.setattr(templating, "render_bounded", here)  # (the evaluator has its own)
    huge = preview_template(runtime, "worded_flow", name, "{{ 'x' * 10**7 }}", sample)
    assert "not allowed" in huge.rendered.error and huge.rendered.line == 1
    endless = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
    slow = preview_template(runtime, "worded_flow", name, endless, sample)
    assert "time limit" in slow.rendered.error
    long = preview_template(
        runtime, "worded_flow", name, "{% for i in range(60000) %}xx{% endfor %}", sample
    )
    assert "longer than" in long.rendered.error


# ----- deploying a template --------------------------------------------------------------------


def test_deploying_a_template_makes_a_new_version_and_running_cases_keep_theirs(runtime, db):
    deploy_worded(runtime)
    before = runtime.start_case("worded_flow").number
    new_text = "{{ customer_name }}：別忘了 {{ when }} 的預約。\n"
    made = deploy_template(runtime, "worded_flow", "worded_flow.reminder", new_text, "olga")
    assert [(d.key, d.version, d.forms_changed) for d in made] == [
        ("worded_flow", 2, ("worded_flow.reminder.txt",))
    ]
    assert deploy_template(runtime, "worded_flow", "worded_flow.reminder", new_text, "olga") == []
    after = runtime.start_case("worded_flow").number
    finish_call(runtime, before)
    finish_call(runtime, after)
    assert sms_bodies(db) == [
        "王小明 您好，提醒您 明天 10:00 的預約（尾號 8000）。\n",
        "王小明：別忘了 明天 10:00 的預約。\n",
    ]


def test_a_template_that_does_not_parse_is_refused_and_nothing_deploys(runtime):
    deploy_worded(runtime)
    with pytest.raises(DefinitionError) as refused:
        deploy_template(runtime, "worded_flow", "worded_flow.reminder", "{{ customer_name", "olga")
    assert "line 1" in refused.value.problems[0].message
    assert [v.version for v in runtime_versions(runtime)] == [1]
    with pytest.raises(NotFound):  # only a template the process keeps
        deploy_template(runtime, "worded_flow", "worded_flow.other", "x", "olga")


def runtime_versions(runtime):
    from engine.runtime.versions import get_process

    return get_process(runtime.db, "worded_flow").versions


# ----- instructions ----------------------------------------------------------------------------


def test_instructions_are_listed_and_previewed_as_the_task_sees_its_data(runtime):
    deploy_worded(runtime)
    (call,) = task_instructions(runtime, "worded_flow")
    assert (call.element_id, call.name, call.text) == (
        "call",
        "致電客戶",
        "請致電 {{ customer_name }}（{{ phone }}）。",
    )
    number = runtime.start_case("worded_flow").number
    sample = sample_data(runtime, "worded_flow", element_id="call")
    assert sample.case_number == number and sample.at_task is not None
    shown = preview_instructions("請致電 {{ customer_name }}{{ missing }}。", sample)
    assert shown.text == "請致電 王小明。"  # as the task page: a missing value shows as nothing
    bad = preview_instructions("第一行\n{{ customer_name + 1 }}", sample)
    assert bad.text is None and bad.line == 2


def test_writing_instructions_changes_only_that_text():
    text = (FIXTURES / "review_flow.bpmn").read_text()
    old = "請審核 {{ customer_name }} 的申請。"
    changed = with_instructions(text, "task_a", "請審核 <{{ customer_name }}> & 回覆")
    assert changed == text.replace(old, "請審核 &lt;{{ customer_name }}&gt; &amp; 回覆")
    store = (FIXTURES.parent.parent / "processes" / "store_appointment.bpmn").read_text()
    old = "服務結束後請與客戶 {{ customer_name }} 溝通，了解其對服務的滿意度，並請客戶填寫服務評價表。"
    assert with_instructions(store, "satisfaction", "請評價") == store.replace(old, "請評價")


def test_instructions_are_added_to_a_task_that_had_none():
    text = (FIXTURES / "review_flow.bpmn").read_text()
    added = with_instructions(text, "task_b", "請跟進 {{ customer_name }}")
    from lxml import etree

    root = etree.fromstring(added.encode())
    ns = {
        "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
        "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
    }
    (node,) = root.findall(
        ".//bpmn:userTask[@id='task_b']/bpmn:extensionElements/spiffworkflow:instructionsForEndUser",
        ns,
    )
    assert node.text == "請跟進 {{ customer_name }}"
    assert added.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    with pytest.raises(NotFound):
        with_instructions(text, "no_such_task", "x")


def test_deploying_instructions_makes_a_new_version_and_running_tasks_keep_theirs(runtime):
    deploy_worded(runtime)
    before = runtime.start_case("worded_flow")
    made = deploy_instructions(
        runtime, "worded_flow", "call", "請再次致電 {{ customer_name }}。", "olga"
    )
    assert [(d.key, d.version, d.changed) for d in made] == [("worded_flow", 2, True)]
    after = runtime.start_case("worded_flow")
    assert (
        runtime.get_task(before.open_tasks[0].id).instructions
        == "請致電 {{ customer_name }}（{{ phone }}）。"
    )
    assert (
        runtime.get_task(after.open_tasks[0].id).instructions == "請再次致電 {{ customer_name }}。"
    )
    # The new version keeps its templates: only the instructions changed.
    assert {t.name for t in version_message_templates(runtime, "worded_flow", 2)} == {
        "worded_flow.reminder",
        "worded_flow.letter",
    }


def test_instructions_that_do_not_parse_are_refused_and_nothing_deploys(runtime):
    deploy_worded(runtime)
    with pytest.raises(DefinitionError) as refused:
        deploy_instructions(runtime, "worded_flow", "call", "請致電\n{% if %}", "olga")
    (problem,) = refused.value.problems
    assert problem.element_id == "call" and "line 2" in problem.message
    assert [v.version for v in runtime_versions(runtime)] == [1]
    with pytest.raises(NotFound):
        deploy_instructions(runtime, "worded_flow", "send", "x", "olga")  # not a user task
