"""Styles and scripts are kept by browsers: their addresses carry the file's hash, and an
address with the current hash is answered as cacheable for a year; any other address is
revalidated as before (a changed file gets a new hash, so no browser keeps an old copy)."""

from __future__ import annotations

import re

from webui import static_cache


def test_static_addresses_carry_the_files_hash_and_are_kept_a_year(app, login):
    page = login("alice").get("/tasks").text
    address = re.search(r'href="(/static/app\.css\?v=[0-9a-f]{12})"', page)
    assert address, "the stylesheet's address has no hash"
    client = app.test_client()
    with client.get(address.group(1)) as kept:
        assert kept.status_code == 200
        assert kept.headers["Cache-Control"] == (
            f"public, max-age={static_cache.YEAR_S}, immutable"
        )
    for other in ("/static/app.css", "/static/app.css?v=000000000000"):
        with client.get(other) as answer:
            assert answer.status_code == 200
            assert "max-age" not in answer.headers.get("Cache-Control", "")


def test_a_changed_file_gets_a_new_address(app, tmp_path):
    app.static_folder = str(tmp_path)
    static_cache.init_app(app)  # a second hook reading the temporary folder
    (tmp_path / "x.css").write_text("a {}")
    with app.test_request_context("/"):
        from flask import url_for

        first = url_for("static", filename="x.css")
        (tmp_path / "x.css").write_text("a { color: red }")
        second = url_for("static", filename="x.css")
    assert first != second and first.startswith("/static/x.css?v=")
