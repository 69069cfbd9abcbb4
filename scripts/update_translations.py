"""Extract the UI strings and refresh webui/translations/zh_Hant/LC_MESSAGES/messages.po.

Usage: .venv/bin/python scripts/update_translations.py
Existing translations are kept; new strings are listed so they can be translated in the .po.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "webui/translations/zh_Hant/LC_MESSAGES/messages.po"
POT = ROOT / "webui/translations/messages.pot"


def main() -> int:
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
            "--no-location",
            "-o",
            str(POT),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with POT.open("rb") as f:
        template = read_po(f)
    old = {}
    if PO.exists():
        with PO.open("rb") as f:
            old = {m.id: m.string for m in read_po(f) if m.id}
    catalog = template
    catalog.locale = "zh_Hant"
    missing = []
    for message in catalog:
        if not message.id:
            continue
        message.string = old.get(message.id, "")
        if not message.string:
            missing.append(message.id)
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as f:
        write_po(f, catalog, width=0, omit_header=False)
    for msgid in missing:
        print(f"untranslated: {msgid}")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
