"""The `caseflow` command line: a whole case driven from the shell, JSON contract, errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from caseflow.cli import main
from tests.conftest import FIXTURES


@pytest.fixture
def cli(db_url, settings):
    runner = CliRunner()
    env = {
        "DATABASE_URL": db_url,
        "CASEFLOW_SETTINGS": str(settings.path),
        "CASEFLOW_NOW": "2026-11-23T02:00:00Z",
    }

    def run(*args: str, ok: bool = True, now: str | None = None):
        result = runner.invoke(
            main, [*(["--now", now] if now else []), *args], env=env, catch_exceptions=False
        )
        assert (result.exit_code == 0) is ok, result.output
        return result

    def run_json(*args: str, ok: bool = True, now: str | None = None):
        return json.loads(run(*args, "--json", ok=ok, now=now).stdout)

    run.json = run_json
    run("init-db")
    return run


def test_a_case_from_start_to_end_on_the_command_line(cli):
    deployed = cli.json(
        "deploy",
        str(FIXTURES / "review_flow.bpmn"),
        str(FIXTURES / "review_form.json"),
        str(FIXTURES / "review_start.json"),
    )
    assert {(d["key"], d["version"]) for d in deployed} == {
        ("review_flow", 1),
        ("review_form.json", 1),
        ("review_start.json", 1),
    }
    cli("users", "add", "alice", "--role", "service_desk")
    cli("users", "add", "bob", "--role", "senior_service")

    case = cli.json(
        "start", "review_flow", "--data", '{"customer_name": "王小明"}', "--as", "alice"
    )
    assert case["status"] == "running" and case["version"] == 1
    number = case["number"]
    tasks = cli.json("tasks", "--case", number)
    assert [
        set(t) >= {"id", "element_id", "name", "role", "status", "assignee", "due_at"}
        for t in tasks
    ] == [True]
    task = cli.json("task", str(tasks[0]["id"]))
    assert task["form"]["properties"]["approve"]["type"] == "boolean"

    refused = cli.json(
        "complete", str(task["id"]), "--data", '{"approve": "yes"}', "--as", "alice", ok=False
    )
    assert refused["error"] == "validation_failed" and "approve" in refused["errors"]
    forbidden = cli.json(
        "complete", str(task["id"]), "--data", '{"approve": true}', "--as", "bob", ok=False
    )
    assert forbidden["error"] == "forbidden"

    claimed = cli.json("claim", str(task["id"]), "--as", "alice")
    assert claimed["status"] == "claimed" and claimed["assignee"] == "alice"
    after = cli.json("complete", str(task["id"]), "--data", '{"approve": true}', "--as", "alice")
    task_b = after["open_tasks"][0]
    assert task_b["element_id"] == "task_b" and task_b["due_at"] == "2026-11-25T02:00:00+00:00"
    assert after["timers"] == [
        {
            "id": after["timers"][0]["id"],
            "element_id": "deadline",
            "name": "兩個工作日未處理",
            "kind": "date",
            "due_at": "2026-11-25T02:00:00+00:00",
            "status": "waiting",
        }
    ]

    # Nothing is due yet; then the deadline passes and the worker fires it once.
    assert cli.json("worker", "--once")["fired"] == 0
    assert cli.json("worker", "--once", now="2026-11-25T02:00:00Z")["fired"] == 1
    shown = cli.json("case", number, now="2026-11-25T02:00:00Z")
    assert shown["open_tasks"] == [] and shown["timers"][0]["element_id"] == "wait_3_days"
    assert shown["data"]["escalated"] is True
    assert cli.json("worker", "--once", now="2026-11-28T02:00:00Z")["fired"] == 1
    assert cli.json("case", number)["status"] == "completed"
    assert "case_completed" in cli("case", number).stdout


def test_deploy_errors_exit_1_and_name_the_element(cli, tmp_path):
    bad = tmp_path / "bad.bpmn"
    bad.write_text((FIXTURES / "review_flow.bpmn").read_text().replace('"P3D"', '"P3X"'))
    result = cli("deploy", str(bad), str(FIXTURES / "review_form.json"), ok=False)
    assert "wait_3_days" in result.stderr and "nothing was deployed" in result.stderr
    payload = cli.json("deploy", str(bad), ok=False)
    assert payload["error"] == "invalid_definition"
    assert cli.json("tasks") == []


def test_message_cancel_and_bad_input(cli):
    cli("deploy", str(FIXTURES / "message_flow.bpmn"))
    number = cli.json("start", "message_flow")["number"]
    assert cli.json("message", number, "customer_reply", "--data", '{"ok": true}')["data"][
        "reply"
    ] == {"ok": True}
    assert cli.json("cancel", number, "--reason", "客戶取消")["status"] == "cancelled"
    assert cli.json("cancel", number, "--reason", "again", ok=False)["error"] == "invalid_state"
    assert "not valid JSON" in cli("start", "message_flow", "--data", "{oops", ok=False).stderr
    assert cli.json("case", "NO-SUCH", ok=False)["error"] == "not_found"
    assert cli.json("tasks", "--status", "finished", ok=False)["error"] == "validation_failed"
    assert cli.json("users", "add", "zed", "--role", "astronaut", ok=False)["error"] == "error"


def test_roles_add_writes_the_settings_file(cli, settings):
    cli("roles", "add", "night_shift", "夜班")
    assert 'night_shift = "夜班"' in settings.path.read_text()
    assert "already exists" in cli("roles", "add", "night_shift", "夜班", ok=False).stderr
    assert "lower-case" in cli("roles", "add", "Night Shift", "夜班", ok=False).stderr
    cli("users", "add", "nina", "--role", "night_shift")


def test_api_token_is_issued_and_revoked(cli, db_url):
    from engine.identity.tokens import user_for_token
    from engine.store.database import Database

    cli("users", "add", "api-client", "--role", "service_desk")
    token = cli.json("users", "token", "api-client")["token"]
    db = Database(db_url)
    try:
        assert user_for_token(db, token).name == "api-client"
        assert cli.json("users", "token", "api-client", "--revoke")["revoked"] is True
        assert user_for_token(db, token) is None
    finally:
        db.dispose()
    assert cli.json("users", "token", "nobody", ok=False)["error"] == "not_found"
