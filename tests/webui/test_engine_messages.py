"""The engine's errors and refusals reach the page in the page's language: each carries a stable
reason code and its parameters, webui/engine_messages/ says it in Chinese or English, and a
code without a sentence falls back to the engine's English text."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.core.errors import CaseflowError, Conflict, InvalidState, NotFound, ValidationFailed
from engine.core.messages import Message
from engine.core.rules import Refusal
from tests.conftest import fixture_files
from tests.webui.conftest import csrf_token
from webui.messages import _for_locale, translate

ROOT = Path(__file__).resolve().parents[2]
ERRORS = {"CaseflowError", "NotFound", "Forbidden", "Conflict", "InvalidState", "ValidationFailed"}


def english(client):
    client.set_cookie("lang", "en")
    return client


def review_task(runtime) -> tuple[str, int]:
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    case = runtime.start_case("review_flow")
    return case.number, case.open_tasks[0].id


def test_a_role_refusal_is_chinese_on_a_chinese_page_and_english_on_an_english_one(
    app, login, runtime
):
    _number, task_id = review_task(runtime)
    chinese = login("bob").get(f"/tasks/{task_id}")
    assert chinese.status_code == 403
    # The role by the name people know it by (settings.toml [roles]).
    assert "此任務屬於角色「客服 / 前台」，bob 沒有此角色。" in chinese.text
    assert "does not hold" not in chinese.text
    en = english(login("bob")).get(f"/tasks/{task_id}")
    assert en.status_code == 403
    assert "This task belongs to role service_desk, which bob does not hold." in en.text
    assert "沒有此角色" not in en.text


def test_a_task_completed_first_by_someone_else_says_who_and_when(app, login, runtime):
    _number, task_id = review_task(runtime)
    carol = login("carol")
    token = csrf_token(carol.get(f"/tasks/{task_id}").text)
    runtime.complete_task(task_id, {"approve": True}, "alice")
    late = carol.post(f"/tasks/{task_id}", data={"approve": "on", "csrf_token": token})
    assert late.status_code == 409
    # The fixed clock is Monday 09:30 in the company's zone (01:30 UTC).
    assert "此任務已由 alice 於 2026-11-23 09:30 完成。" in late.text
    carol = english(carol)
    token = csrf_token(carol.get(f"/tasks/{task_id}").text)
    late = carol.post(f"/tasks/{task_id}", data={"approve": "on", "csrf_token": token})
    assert "This task was already completed by alice at 2026-11-23 09:30." in late.text


def test_a_case_that_is_not_running_and_a_task_that_does_not_exist(app, login, runtime):
    number, _task_id = review_task(runtime)
    runtime.cancel_case(number, "客戶取消")
    sue = login("sue")
    token = csrf_token(sue.get(f"/cases/{number}").text)
    again = sue.post(
        f"/cases/{number}/cancel",
        data={"reason": "again", "confirmed": "yes", "csrf_token": token},
        follow_redirects=True,
    )
    assert f"案件 {number} 的狀態為「已取消」，無法取消。" in again.text
    again = english(sue).post(
        f"/cases/{number}/cancel",
        data={"reason": "again", "confirmed": "yes", "csrf_token": token},
        follow_redirects=True,
    )
    assert f"Case {number} is cancelled; it cannot be cancelled." in again.text
    assert "沒有任務 999999。" in login("alice").get("/tasks/999999").text
    assert "There is no task 999999." in english(login("alice")).get("/tasks/999999").text
    missing = login("sue").get("/cases/NO-SUCH-1")
    assert missing.status_code == 404 and "沒有編號為 NO-SUCH-1 的案件。" in missing.text


def test_a_reassignment_to_someone_without_the_role(app, login, runtime):
    number, task_id = review_task(runtime)
    sue = login("sue")
    token = csrf_token(sue.get(f"/cases/{number}").text)
    refused = sue.post(
        f"/cases/{number}/tasks/{task_id}/reassign",
        data={"user": "bob", "csrf_token": token},
        follow_redirects=True,
    )
    assert "bob 沒有角色 客服 / 前台。" in refused.text
    assert "does not hold" not in refused.text


def test_the_api_gives_the_reason_and_its_params(app, runtime, db, clock):
    from engine.identity.tokens import issue_token

    _number, task_id = review_task(runtime)
    token = issue_token(db, "bob", clock.now())
    answer = app.test_client().get(
        f"/api/tasks/{task_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 403
    assert answer.json["error"] == "forbidden"
    assert answer.json["reason"] == "role_missing"
    assert answer.json["params"] == {"task": task_id, "role": "service_desk", "user": "bob"}
    assert "does not hold" in answer.json["message"]  # the message itself stays English


def test_an_unknown_code_falls_back_to_the_english_text(app):
    with app.test_request_context("/"):
        assert translate(CaseflowError("something odd", reason="no_such_code")) == "something odd"
        assert translate(NotFound("no widget 7")) == "no widget 7"  # no reason at all
        assert translate(Message("no_such_code", "plain words")) == "plain words"
        # A known code whose parameters are not what its sentence needs: the English text.
        assert translate(NotFound("no case numbered 'X'", reason="case_not_found")) == (
            "no case numbered 'X'"
        )
        # A known code, for contrast.
        known = NotFound("no case numbered 'X'", reason="case_not_found", number="X")
        assert translate(known) == "沒有編號為 X 的案件。"
        assert translate(known, "en") == "There is no case numbered X."


AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in the company's zone


@pytest.mark.parametrize(
    ("error", "chinese", "english_text"),
    [
        (
            Refusal("claimed_by_other", "task 5 is claimed by carol", {"task": 5, "user": "carol"}),
            "此任務已由 carol 認領。",
            "This task is claimed by carol.",
        ),
        (
            Conflict(Message("case_busy", "case X is busy", number="SA-1")),
            "案件 SA-1 正在處理中，未儲存任何內容。請再試一次。",
            "Case SA-1 is busy; nothing was saved. Try again.",
        ),
        (
            InvalidState("not waiting", reason="booking_too_late", number="SA-1"),
            "此預約已無法在線上更改或取消（距預約時間太近、已在處理中或已結束）；請致電客服。",
            "This booking can no longer be changed or cancelled online",
        ),
        (
            NotFound("no booking with this number and phone number", reason="booking_not_found"),
            "找不到此預約編號與電話號碼的預約。",
            "No booking was found with this number and phone number.",
        ),
        (
            Conflict("2 dry runs are running already", reason="dry_runs_busy", num=2),
            "已有 2 個試運行正在進行，請稍後再試。",
            "2 dry runs are running already; try again in a moment.",
        ),
        (
            ValidationFailed(
                "the form has errors",
                {"amount": ["x"], "when": ["y"]},
                reason="form_errors",
                fields=["金額", "日期"],
                num=2,
            ),
            "請更正 2 個欄位：金額、日期。未儲存任何內容。",
            "Please correct 2 fields: 金額, 日期. Nothing was saved.",
        ),
    ],
)
def test_refusals_of_every_kind_in_both_languages(app, error, chinese, english_text):
    with app.test_request_context("/"):
        assert chinese in translate(error, "zh_Hant")
        assert english_text in translate(error, "en")


def test_link_refusals_are_said_by_their_reason(app):
    from engine.casework.links import LinkRefused

    with app.test_request_context("/"):
        expired = LinkRefused("expired", "this link stopped working at …", at=AT)
        assert translate(expired, "zh_Hant") == "此連結已於 2026-11-24 10:00 失效。"
        assert translate(expired, "en") == "This link stopped working at 2026-11-24 10:00."
        used = LinkRefused("used", "this link was already used")
        assert translate(used, "zh_Hant").startswith("此連結已使用過")


def test_the_booking_portal_refusals_carry_codes(runtime):
    from engine.casework import portal

    with pytest.raises(NotFound) as missing:
        portal.status(runtime, "SA-20260101-0001", "13800138000")
    assert missing.value.reason == "booking_not_found"
    with pytest.raises(NotFound) as page:
        portal.page(runtime, "no_such_process")
    assert (page.value.reason, page.value.params) == (
        "booking_page_not_found",
        {"process": "no_such_process"},
    )


def _engine_raises() -> list[tuple[str, int, ast.Call]]:
    found = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                func = node.exc.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in ERRORS:
                    found.append((str(path.relative_to(ROOT)), node.lineno, node.exc))
    return found


def test_every_engine_error_raised_with_words_of_its_own_carries_a_code():
    """A raise of an engine error whose message is written on the spot (a literal or an
    f-string) names its reason; one raised with a Message, a variable or a helper's answer
    takes the code that carries (the helpers return Messages)."""
    uncoded = []
    raises = _engine_raises()
    for where, line, call in raises:
        first = call.args[0] if call.args else None
        written = isinstance(first, ast.Constant | ast.JoinedStr) or (
            isinstance(first, ast.BinOp)  # "..." + "; ".join(...)
        )
        if written and not any(k.arg == "reason" for k in call.keywords):
            uncoded.append(f"{where}:{line}")
    assert len(raises) > 60
    assert uncoded == []


def test_every_code_the_engine_raises_has_a_sentence():
    """Each literal code in engine/ (reason=..., Message(...), Refusal(...)) is said by the
    web layer; a code without a sentence would reach the page in English."""
    import re

    pattern = re.compile(r'(?:reason=|Message\(\s*|Refusal\(\s*)"([a-z_]+)"')
    codes = {
        code
        for path in (ROOT / "engine").rglob("*.py")
        for code in pattern.findall(path.read_text(encoding="utf-8"))
    }
    # Kept in English on purpose: the generic default of a validation failure (its field
    # messages are translated), and jsonschema's own words for a keyword we have none for;
    # the words a process owner wrote for a check are shown as written.
    codes -= {"validation_failed", "schema", "check"}
    link_reasons = {"link_refused.invalid", "link_refused.expired", "link_refused.used"}
    # The customer pages say their own codes (the calendar rule, what a change may cost) in
    # webui/portal_text.py, and hand the others to webui/messages.py.
    portal_text = (ROOT / "webui" / "portal_text.py").read_text(encoding="utf-8")
    known = set(_for_locale("zh_Hant")) | set(re.findall(r'code == "([a-z_]+)"', portal_text))
    assert len(codes) > 60
    assert codes <= known, sorted(codes - known)
    assert link_reasons | {"link_refused.not_waiting"} <= known
