"""Rule 2: a store is chosen from the engine's list (name and address), never typed; the free
times are those of the chosen store, and a store that is not on the list is refused."""

from __future__ import annotations

import re

from engine import portal
from tests.webui.conftest import csrf_token
from tests.webui.portal_world import (  # noqa: F401 - fixtures
    HUAIHAI,
    XUJIAHUI,
    book_facial,
    store_portal,
    stores,
)


def test_the_engine_lists_the_stores_with_their_addresses(store_portal):  # noqa: F811
    assert [(s.name, s.address) for s in portal.stores(store_portal)] == sorted([HUAIHAI, XUJIAHUI])


def test_the_store_is_a_list_of_names_and_addresses(app, store_portal):  # noqa: F811
    page = app.test_client().get("/book/store_appointment")
    select = re.search(r'<select name="store"[^>]*>(.*?)</select>', page.text, re.S)
    assert select, "the store is not chosen from a list"
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))
    assert options == [
        ("", "任一門店"),
        *((name, f"{name} · {address}") for name, address in sorted([HUAIHAI, XUJIAHUI])),
    ]
    assert (
        'name="store" type="text"' not in page.text
        and '<input type="text" name="store"' not in page.text
    )


def test_the_free_times_are_the_chosen_stores(app, store_portal):  # noqa: F811
    client = app.test_client()

    def offered(store: str, day: str) -> list[str]:
        page = client.get(f"/book/store_appointment?service_item=facial&store={store}&day={day}")
        return re.findall(r'<option value="(2026-[^"]+)"', page.text)

    assert offered(HUAIHAI[0], "2026-11-25")[0] == "2026-11-25T01:00:00+00:00"
    assert offered(XUJIAHUI[0], "2026-11-25") == []  # nobody there on Wednesday
    assert offered(XUJIAHUI[0], "2026-11-26")[0] == "2026-11-26T01:00:00+00:00"
    assert offered("", "2026-11-26")[0] == "2026-11-26T01:00:00+00:00"  # any store

    number = book_facial(client, "2026-11-26T01:00:00+00:00", XUJIAHUI[0], "2026-11-26")
    case = store_portal.get_case(number)
    assert case.data["store"] == XUJIAHUI[0] and case.data["store_address"] == XUJIAHUI[1]


def test_a_store_not_on_the_list_is_refused(app, store_portal):  # noqa: F811
    client = app.test_client()
    page = client.get(
        f"/book/store_appointment?service_item=facial&store={HUAIHAI[0]}&day=2026-11-25"
    )
    refused = client.post(
        "/book/store_appointment",
        data={
            "service_item": "facial",
            "store": "隔壁店",
            "day": "2026-11-25",
            "appointment_at": "2026-11-25T02:00:00+00:00",
            "customer_name": "王美玲",
            "phone": "13800138000",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert refused.status_code == 422 and 'id="err-store"' in refused.text
