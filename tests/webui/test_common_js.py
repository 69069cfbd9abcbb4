"""The process owners' page scripts (modeler.js, dmn-editor.js, dry-run.js) share their small
helpers from static/common.js: every template that loads one of them loads common.js before
it, through the hashed static address, and none of them defines the helpers again."""

from __future__ import annotations

import re
from pathlib import Path

from tests.webui.test_dry_run_page import app  # noqa: F401 - the modeler page's app

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "webui" / "templates"
STATIC = ROOT / "webui" / "static"
USERS = ("modeler.js", "dmn-editor.js", "dry-run.js")


def _script(name: str) -> str:
    return f"url_for('static', filename='{name}')"


def test_every_template_loading_a_user_of_the_helpers_loads_common_js_first():
    seen = 0
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for name in USERS:
            if _script(name) not in text:
                continue
            seen += 1
            if path.name == "_dry_run.html":
                # A panel of modeler.html, which loads common.js; dry-run.js is deferred, so
                # it runs after every script of the page.
                assert "filename='dry-run.js') }}\" defer" in text
                text = (TEMPLATES / "models" / "modeler.html").read_text(encoding="utf-8")
                assert _script("common.js") in text
                continue
            assert _script("common.js") in text, path
            assert text.index(_script("common.js")) < text.index(_script(name)), path
    assert seen >= 5  # modeler, show, compare, decision editor, dry run panel


def test_the_helpers_are_defined_once():
    for name in USERS:
        text = (STATIC / name).read_text(encoding="utf-8")
        assert not re.search(r"function (t|el)\(", text), name
        assert "CaseflowCommon" in text, name
    common = (STATIC / "common.js").read_text(encoding="utf-8")
    assert "window.CaseflowCommon" in common


def test_the_modeler_page_loads_common_js_by_its_hashed_address(app, login):  # noqa: F811
    page = login("olga").get("/models/store_appointment/edit").text
    common = re.search(r'src="(/static/common\.js\?v=[0-9a-f]{12})"', page)
    assert common, "common.js without its content hash"
    assert page.index(common.group(1)) < page.index("/static/modeler.js")
