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
