"""One booking per booking form (post/redirect/get with an idempotency key).

Each rendering of a booking form carries a fresh random key (hidden field); a post books once
per key and redirects to the confirmation page, which shows the number from this browser's
signed session, so a reload shows it again and a repeated post (a double click, a resent form)
shows the first booking and books nothing. Going back re-renders the form with a new key while
the browser refills what the customer typed, so the same answers sent again on the same page
from the same browser are the same booking too."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from flask import current_app, session

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


class _RecentKeys:
    """Form keys this process booked, for a repeat that arrives before the first answer set the
    browser's cookie (a double click): it waits for the first post and gets its booking."""

    STRIPES = 64

    def __init__(self, size: int = 1000) -> None:
        self.lock = threading.Lock()
        self.stripes = [threading.Lock() for _ in range(self.STRIPES)]
        self.numbers: OrderedDict[str, str] = OrderedDict()
        self.size = size

    def key_lock(self, form_key: str) -> threading.Lock:
        return self.stripes[int(form_key[:8], 16) % self.STRIPES]

    def get(self, form_key: str) -> str | None:
        with self.lock:
            return self.numbers.get(form_key)

    def put(self, form_key: str, number: str) -> None:
        with self.lock:
            self.numbers[form_key] = number
            while len(self.numbers) > self.size:
                self.numbers.popitem(last=False)


def recent() -> _RecentKeys:
    return current_app.extensions.setdefault("caseflow_portal_keys", _RecentKeys())


def valid_form_key(text: str | None) -> str | None:
    text = (text or "").strip()
    return text if len(text) == 32 and all(c in "0123456789abcdef" for c in text) else None
