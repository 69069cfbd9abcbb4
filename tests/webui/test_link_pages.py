"""The page behind a link in a customer's message (/book/reply/<message>/<token>): no sign-in,
shows the form of the message the case waits for, sends the answer once; a bad link gets a
clear page (Traditional Chinese by default), a 4xx status, and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.casework import links
from tests.conftest import fixture_files
from tests.webui.conftest import csrf_token


@pytest.fixture(autouse=True)
def link_key(monkeypatch):
    monkeypatch.setenv("CASEFLOW_SECRET_KEY", "links-web-test")


@pytest.fixture
def linked(app, runtime):
    runtime.deploy(fixture_files("link_flow.bpmn"))
    number = runtime.start_case("link_flow").number
    url = runtime.get_case(number).data["reply_url"]
    return number, url[len(runtime.settings.portal.base_url) :]


def test_the_link_shows_the_form_and_the_answer_reaches_the_case_once(app, runtime, linked):
    number, path = linked
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200
    assert "服務評價" in page.text and number in page.text and "請為本次服務評分" in page.text
    assert "您對本次服務滿意嗎?" in page.text  # the case value the form shows
    assert 'name="score"' in page.text and 'name="comment"' in page.text

    wrong = client.post(path, data={"csrf_token": csrf_token(page.text), "score": "9"})
    assert wrong.status_code == 422
    assert runtime.get_case(number).waiting_messages == ["customer_reply"]

    done = client.post(
        path, data={"csrf_token": csrf_token(page.text), "score": "4", "comment": "準時"}
    )
    assert done.status_code == 200 and "已收到您的回覆" in done.text
    case = runtime.get_case(number)
    assert case.data["reply"] == {"score": 4, "comment": "準時"}
    assert [t.element_id for t in case.open_tasks] == ["handle_reply"]

    again = client.get(path)
    assert again.status_code == 409 and "此連結已使用過" in again.text
    resent = client.post(path, data={"csrf_token": csrf_token(page.text), "score": "1"})
    assert resent.status_code == 409
    assert runtime.get_case(number).data["reply"]["score"] == 4


def bad_links(path: str) -> dict[str, str]:
    prefix, token = path.rsplit("/", 1)
    number = token.split(".")[0]
    return {
        "tampered": f"{prefix}/{token[:-3]}xyz",
        "other case": f"{prefix}/{token.replace(number, number[:-1] + '9')}",
        "other purpose": path.replace("/customer_reply/", "/withdrawal/"),
        "garbage": f"{prefix}/hello",
    }


@pytest.mark.parametrize("which", ["tampered", "other case", "other purpose", "garbage"])
def test_a_wrong_or_tampered_link_is_refused_and_changes_nothing(app, runtime, linked, which):
    number, path = linked
    client = app.test_client()
    bad = bad_links(path)[which]
    page = client.get(bad)
    assert page.status_code == 404 and "此連結無效" in page.text
    assert client.post(bad, data={"score": "5"}).status_code in (400, 404)
    assert runtime.get_case(number).waiting_messages == ["customer_reply"]


def test_an_expired_link_is_refused(app, runtime, linked, clock):
    number, path = linked
    clock.advance(days=14, seconds=1)
    page = app.test_client().get(path)
    assert page.status_code == 410 and "此連結已過期" in page.text
    assert runtime.get_case(number).waiting_messages == ["customer_reply"]


def test_a_case_no_longer_waiting_refuses_the_link(app, runtime, linked):
    number, path = linked
    runtime.cancel_case(number, "客戶來電取消")
    page = app.test_client().get(path)
    assert page.status_code == 409 and "此事項已無需回覆" in page.text


def test_the_refusal_speaks_english_when_asked(app, linked):
    _, path = linked
    client = app.test_client()
    client.set_cookie("lang", "en")
    page = client.get(bad_links(path)["tampered"])
    assert page.status_code == 404 and "This link is not valid" in page.text


def test_link_openings_are_rate_limited(app, linked):
    _, path = linked
    app.config["PORTAL_LINK_OPENS_PER_10_MIN"] = 3
    client = app.test_client()
    assert [client.get(bad_links(path)["garbage"]).status_code for _ in range(3)] == [404] * 3
    limited = client.get(path)
    assert limited.status_code == 429 and "嘗試次數過多" in limited.text


def test_a_link_made_for_a_case_signs_with_the_installation_key(runtime, linked, clock):
    number, path = linked
    claim = links.verify(path.rsplit("/", 1)[1], clock.now() + timedelta(days=13))
    assert claim.number == number and claim.message == "customer_reply"
