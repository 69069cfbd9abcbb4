"""`caseflow start`: only the start form's fields, and with --as only a user who may start it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FIXTURES
from tests.test_cli import cli  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[1]


def _deploy_review(cli):  # noqa: F811
    cli(
        "deploy",
        *(str(FIXTURES / n) for n in ("review_flow.bpmn", "review_form.json", "review_start.json")),
    )
    cli("users", "add", "alice", "--role", "service_desk")
    cli("users", "add", "bob", "--role", "senior_service")


def test_start_as_a_user_whose_role_may_not_start_it_is_refused(cli):  # noqa: F811
    _deploy_review(cli)
    refused = cli.json("start", "review_flow", "--as", "bob", ok=False)
    assert refused["error"] == "forbidden"
    # The command line says the engine's refusals in Chinese (caseflow.cli_support.CLI_LOCALE).
    assert refused["message"] == (
        "bob（角色：senior_service）不可以啟動流程 review_flow；"
        "可以啟動的角色：service_desk、supervisor。"
    )
    text = cli("start", "review_flow", "--as", "bob", ok=False).output
    assert "不可以啟動流程 review_flow" in text
    unknown = cli.json("start", "review_flow", "--as", "nobody", ok=False)
    assert unknown["error"] == "forbidden" and "沒有名為 nobody 的在職用戶" in unknown["message"]
    assert cli.json("start", "review_flow", "--as", "alice")["status"] == "running"


def test_start_with_fields_not_on_the_start_form_names_them(cli):  # noqa: F811
    _deploy_review(cli)
    data = '{"customer_name": "王小明", "approve": true, "escalated": true}'
    refused = cli.json("start", "review_flow", "--data", data, "--as", "alice", ok=False)
    assert refused["error"] == "validation_failed"
    assert set(refused["errors"]) == {"approve", "escalated"}
    assert "approve, escalated" in refused["message"]
    assert cli.json("tasks") == []


def test_signed_service_booking_without_data_is_refused_with_the_forms_messages(cli):  # noqa: F811
    cli("deploy", str(ROOT / "processes"), str(ROOT / "forms"))
    refused = cli.json("start", "signed_service_booking", ok=False)
    assert refused["error"] == "validation_failed"
    assert refused["errors"] == {
        name: ["此欄位必填"]
        for name in ("service_item", "appointment_at", "customer_name", "phone", "email")
    }
    text = cli("start", "signed_service_booking", ok=False).output
    assert "service_item: 此欄位必填" in text and "signed_service_booking.request.json" in text
    assert cli.json("tasks") == []
