"""Links in customers' messages (engine.casework.links): signed, expiring, for one case and
one message, used once; the answer reaches the case as that message."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.casework import links
from engine.casework.links import LinkClaim, LinkRefused
from engine.core.errors import ValidationFailed
from tests.conftest import fixture_files

KEY = "links-test-key"


@pytest.fixture(autouse=True)
def link_key(monkeypatch):
    monkeypatch.setenv("CASEFLOW_SECRET_KEY", KEY)


def claim(clock, **changes) -> LinkClaim:
    values = {
        "number": "SB-20261123-0001",
        "message": "feedback",
        "expires_at": clock.now() + timedelta(days=14),
        "nonce": "abcdEFGH12",
        "once": True,
    }
    return LinkClaim(**(values | changes))


def test_a_signed_link_gives_back_its_case_message_and_expiry(clock):
    made = claim(clock)
    token = links.sign(made)
    assert "SB-20261123-0001" in token and len(token) < 80
    found = links.verify(token, clock.now(), "feedback")
    assert found == made.__class__(**{**made.__dict__, "expires_at": found.expires_at})
    assert found.expires_at == made.expires_at.replace(microsecond=0)


def test_a_link_stops_working_when_it_expires(clock):
    token = links.sign(claim(clock, expires_at=clock.now() + timedelta(days=1)))
    assert links.verify(token, clock.now() + timedelta(hours=23), "feedback")
    with pytest.raises(LinkRefused) as refused:
        links.verify(token, clock.now() + timedelta(days=1), "feedback")
    assert refused.value.reason == "expired"


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace("SB-20261123-0001", "SB-20261123-0002"),  # another case
        lambda t: t.replace(".feedback.", ".withdrawal."),  # another purpose
        lambda t: ".".join([*t.split(".")[:2], "zzzzzzz", *t.split(".")[3:]]),  # later expiry
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature
        lambda t: t + ".x",
        lambda t: "",
        lambda t: "x" * 500,
    ],
)
def test_a_changed_link_is_refused(clock, change):
    token = links.sign(claim(clock))
    with pytest.raises(LinkRefused) as refused:
        links.verify(change(token), clock.now())
    assert refused.value.reason == "invalid"


def test_a_link_signed_with_another_key_is_refused(clock, monkeypatch):
    token = links.sign(claim(clock))
    monkeypatch.setenv("CASEFLOW_SECRET_KEY", "another-installation")
    with pytest.raises(LinkRefused) as refused:
        links.verify(token, clock.now(), "feedback")
    assert refused.value.reason == "invalid"


def test_a_link_for_one_message_does_not_answer_another(clock):
    token = links.sign(claim(clock, message="resubmission"))
    with pytest.raises(LinkRefused) as refused:
        links.verify(token, clock.now(), "withdrawal")
    assert refused.value.reason == "invalid"
    assert links.verify(token, clock.now(), "resubmission").message == "resubmission"


def start_linked(runtime, clock):
    runtime.deploy(fixture_files("link_flow.bpmn"))
    number = runtime.start_case("link_flow").number
    url = runtime.get_case(number).data["reply_url"]
    prefix = runtime.settings.portal.base_url + "/book/reply/customer_reply/"
    assert url.startswith(prefix)
    return number, url[len(prefix) :]


def test_a_script_makes_the_link_and_the_answer_reaches_the_case_once(runtime, clock):
    number, token = start_linked(runtime, clock)
    claim = links.verify(token, clock.now(), "customer_reply")
    assert claim.number == number and claim.once
    assert claim.expires_at == (clock.now() + timedelta(days=14)).replace(microsecond=0)

    page = links.open_link(runtime, "customer_reply", token)
    assert page.number == number and page.process_title == "客戶回覆連結"
    assert list(page.schema["properties"]) == ["score", "comment"]
    assert page.shown == [("問題", "您對本次服務滿意嗎?")]

    with pytest.raises(ValidationFailed) as invalid:
        links.answer(runtime, "customer_reply", token, {"score": 9})
    assert "score" in invalid.value.errors
    assert runtime.get_case(number).waiting_messages == ["customer_reply"]

    links.answer(runtime, "customer_reply", token, {"score": 5, "comment": "好", "extra": 1})
    case = runtime.get_case(number)
    assert case.data["reply"] == {"score": 5, "comment": "好"}
    assert [t.element_id for t in case.open_tasks] == ["handle_reply"]
    received = [e for e in case.history if e.kind == "message_received"]
    assert received[-1].actor == "customer" and received[-1].detail["link"] == claim.nonce

    for attempt in (links.open_link, lambda *a: links.answer(*a, {"score": 4})):
        with pytest.raises(LinkRefused) as refused:
            attempt(runtime, "customer_reply", token)
        assert refused.value.reason == "used"
    assert runtime.get_case(number).data["reply"]["score"] == 5


def test_a_second_use_is_refused_in_the_step_itself(runtime, clock):
    number, token = start_linked(runtime, clock)
    nonce = links.verify(token, clock.now()).nonce
    runtime.send_message(number, "customer_reply", {"score": 3}, once=nonce)
    from engine.core.errors import InvalidState

    with pytest.raises(InvalidState) as refused:
        runtime.send_message(number, "customer_reply", {"score": 3}, once=nonce)
    assert refused.value.reason == "link_used"


def test_a_case_no_longer_waiting_refuses_its_link(runtime, clock):
    number, token = start_linked(runtime, clock)
    runtime.send_message(number, "customer_reply", {"score": 2}, actor="alice")
    with pytest.raises(LinkRefused) as refused:
        links.open_link(runtime, "customer_reply", token)
    assert refused.value.reason == "not_waiting"

    other, token = start_linked(runtime, clock)
    runtime.cancel_case(other, "客戶來電取消")
    with pytest.raises(LinkRefused) as refused:
        links.answer(runtime, "customer_reply", token, {"score": 2})
    assert refused.value.reason == "not_waiting"


def test_an_expired_link_changes_nothing(runtime, clock):
    number, token = start_linked(runtime, clock)
    clock.advance(days=14)
    with pytest.raises(LinkRefused) as refused:
        links.answer(runtime, "customer_reply", token, {"score": 5})
    assert refused.value.reason == "expired"
    assert runtime.get_case(number).waiting_messages == ["customer_reply"]


def test_a_message_form_must_name_a_message_of_the_diagram(runtime, tmp_path):
    from engine.definitions.sources import DefinitionError

    text = fixture_files("link_flow.bpmn")[0].read_text()
    wrong = tmp_path / "link_flow.bpmn"
    wrong.write_text(text.replace("messageForm:customer_reply", "messageForm:no_such"))
    with pytest.raises(DefinitionError, match="no message 'no_such'"):
        runtime.deploy([wrong, fixture_files("link_reply.json")[0]])
    missing = tmp_path / "x" / "link_flow.bpmn"
    missing.parent.mkdir()
    missing.write_text(text)
    with pytest.raises(DefinitionError, match="link_reply.json"):
        runtime.deploy([missing])
