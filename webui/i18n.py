"""Languages: Traditional Chinese by default, English available (a cookie set by the switch)."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import request

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANGUAGES = {"zh_Hant": "繁體中文", "en": "English"}


def select_locale() -> str:
    """Traditional Chinese unless the person chose English with the switch (a cookie); the
    browser's Accept-Language is not followed, so every page starts in the company language."""
    chosen = request.cookies.get("lang")
    return chosen if chosen in LANGUAGES else "zh_Hant"


def compile_translations() -> None:
    """Compile each .po into the .mo Flask-Babel reads, when the .mo is missing or older (the
    .mo files are build output, not committed)."""
    for po_path in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as mo_file:
            write_mo(mo_file, catalog)
        tmp.replace(mo_path)
