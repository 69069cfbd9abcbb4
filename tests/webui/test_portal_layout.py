"""Rule 8 (the part a page's HTML shows; tests/e2e/test_portal_phone.py measures it in
Chromium at 390×844): every customer page loads the phone-first portal styles and its check
script, and every field has a label tied to it, so a tap on the label reaches the field."""

from __future__ import annotations

import re

from tests.webui.portal_world import (  # noqa: F401 - fixtures
    book_facial,
    files,
    look_up,
    store_portal,
    stores,
)


def pages(app, runtime) -> dict[str, str]:
    runtime.deploy(
        files(
            "signed_service_booking", "consultation", "home_cleaning_dispatch", "field_visit_close"
        ),
        actor="owner",
    )
    client = app.test_client()
    number = book_facial(client)
    return {
        "index": client.get("/book").text,
        "store": client.get("/book/store_appointment?service_item=facial&day=2026-11-25").text,
        "signed": client.get("/book/signed_service_booking").text,
        "cleaning": client.get("/book/home_cleaning_dispatch").text,
        "consultation": client.get("/book/consultation").text,
        "booked": client.get("/book/store_appointment/booked").text,
        "lookup": client.get("/book/status").text,
        "status": look_up(client, number).text,
    }


def test_every_customer_page_is_phone_first(app, store_portal):  # noqa: F811
    for name, html in pages(app, store_portal).items():
        # (static addresses carry the file's hash: webui/static_cache.py)
        assert re.search(r'<link rel="stylesheet" href="/static/portal\.css\?v=\w+">', html), name
        assert re.search(r'<script src="/static/portal\.js\?v=\w+" defer></script>', html), name
        assert 'name="viewport" content="width=device-width, initial-scale=1"' in html, name
        assert '<div class="portal">' in html, name
        ids = set(re.findall(r'<(?:input|select|textarea)[^>]*\bid="([^"]+)"', html))
        for target in re.findall(r'<label for="([^"]+)"', html):
            assert target in ids, (name, target)
        for field in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if re.search(r'type="(hidden|checkbox|radio)"', field) or "__file" in field:
                continue
            found = re.search(r'\bid="([^"]+)"', field)
            assert found and f'for="{found.group(1)}"' in html, (name, field)
