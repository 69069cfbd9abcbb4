"""Both languages: every UI string has a Traditional Chinese translation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_ui_string_is_translated(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    from babel.messages.pofile import read_po

    with pot.open("rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    with (ROOT / "webui/translations/zh_Hant/LC_MESSAGES/messages.po").open("rb") as f:
        have = {m.id: m.string for m in read_po(f) if m.id}
    missing = sorted(w for w in wanted if not have.get(w))
    assert missing == [], (
        f"untranslated: {missing} — run scripts/update_translations.py and translate"
    )
    assert len(wanted) > 50


def test_the_engines_field_messages_reach_the_page_in_its_language(app, login, runtime):
    """The engine answers with codes and parameters; the page translates them (Chinese by
    default, English with the switch)."""
    from tests.conftest import fixture_files
    from tests.webui.conftest import csrf_token

    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    task_id = runtime.start_case("review_flow").open_tasks[0].id
    alice = login("alice")
    too_long = {"approve": "on", "note": "長" * 501}
    token = csrf_token(alice.get(f"/tasks/{task_id}").text)
    chinese = alice.post(f"/tasks/{task_id}", data={**too_long, "csrf_token": token})
    assert chinese.status_code == 422 and "最多 500 個字" in chinese.text
    alice.set_cookie("lang", "en")
    token = csrf_token(alice.get(f"/tasks/{task_id}").text)
    english = alice.post(f"/tasks/{task_id}", data={**too_long, "csrf_token": token})
    assert english.status_code == 422 and "must be at most 500 characters" in english.text
    assert "最多 500 個字" not in english.text
