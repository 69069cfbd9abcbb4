"""One booking per booking form (post/redirect/get with an idempotency key).

Each rendering of a booking form carries a fresh random key (hidden field); a post books once
per key and redirects to the confirmation page, which shows the number from this browser's
signed session, so a reload shows it again and a repeated post (a double click, a resent form)
shows the first booking and books nothing. The engine keeps the key with the case it started
(engine.runtime.start, table start_request), so a repeat that reaches another server process
before the first answer set the browser's cookie (a double click) gets the first booking too.
Going back re-renders the form with a new key while
the browser refills what the customer typed, so the same answers sent again on the same page
from the same browser are the same booking too."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import session

BOOKED = "portal_booked"  # session: [[form key, page key, number, refused files, digest], ...]
REMEMBERED = 10  # bookings a browser's session remembers


def digest(page_key: str, values: dict[str, Any]) -> str:
    text = json.dumps([page_key, values], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def booked_in_session(form_key: str, key_digest: str) -> list[Any] | None:
    return next(
        (b for b in session.get(BOOKED, []) if b[0] == form_key or b[4] == key_digest), None
    )


def remember(
    form_key: str, page_key: str, number: str, refused_files: list[str], key_digest: str
) -> None:
    kept = [b for b in session.get(BOOKED, []) if b[0] != form_key]
    entry = [form_key, page_key, number, refused_files, key_digest]
    session[BOOKED] = [*kept, entry][-REMEMBERED:]


def valid_form_key(text: str | None) -> str | None:
    text = (text or "").strip()
    return text if len(text) == 32 and all(c in "0123456789abcdef" for c in text) else None
