"""The decision table editor's routes: the process pages link each table a version uses; a
process owner opens a table, checks it (with the processes that use it) and deploys it as a new
version of each; others are refused; a bad table answers 422 with its problems and nothing is
deployed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from engine.store.tables import ProcessVersion
from tests.conftest import FIXTURES
from tests.webui.conftest import csrf_token

QUOTE = (FIXTURES / "quote.dmn").read_text()
FLOW = FIXTURES / "quote_flow.bpmn"
EDITOR = "/models/decisions/quote.dmn"


@pytest.fixture
def deployed(runtime):
    runtime.deploy([FLOW, FIXTURES / "quote.dmn"], actor="olga")
    return runtime


@pytest.fixture
def olga(login, deployed):
    return login("olga")


def post_json(client, url, body):
    token = csrf_token(client.get("/models").text)
    return client.post(url, json=body, headers={"X-CSRFToken": token})


def script(html: str, element_id: str) -> str:
    return html.split(f'id="{element_id}">', 1)[1].split("</script>", 1)[0]


def versions(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(ProcessVersion))


def test_only_process_owners_get_in(app, login, deployed) -> None:
    anonymous = app.test_client()
    response = anonymous.get(EDITOR)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    for name in ("alice", "sue"):
        client = login(name)
        assert client.get(EDITOR).status_code == 403
        token = csrf_token(client.get("/tasks").text)
        for url in ("/models/decisions/validate", "/models/decisions/deploy"):
            refused = client.post(
                url,
                json={"filename": "quote.dmn", "xml": QUOTE},
                headers={"X-CSRFToken": token},
            )
            assert refused.status_code == 403, (name, url)
    assert login("olga").get(EDITOR).status_code == 200


def test_the_process_pages_link_each_table_a_version_uses(olga) -> None:
    for url in ("/models", "/models/quote_flow/1"):
        page = olga.get(url).text
        assert f'href="{EDITOR}"' in page, url


def test_the_editor_opens_the_newest_table_in_dmn_js(olga) -> None:
    page = olga.get(EDITOR)
    assert page.status_code == 200
    assert "dmn-modeler.production.min.js" in page.text and "dmn-editor.js" in page.text
    assert "保潔報價" in page.text and 'href="/models/quote_flow/1"' in page.text
    xml = json.loads(script(page.text, "decision-xml"))  # the file as deployed, for dmn-js
    assert '<decision id="cleaning_quote"' in xml and "area * 12" in xml
    assert json.loads(script(page.text, "decision-config"))["decisionId"] == "cleaning_quote"


def test_unknown_tables_and_odd_names_are_404(olga) -> None:
    for url in ("/models/decisions/other.dmn", "/models/decisions/quote.bpmn"):
        assert olga.get(url).status_code == 404, url
    for filename in ("quote.bpmn", "../quote.dmn", None):
        answer = post_json(olga, "/models/decisions/validate", {"filename": filename, "xml": QUOTE})
        assert answer.status_code == 400 and answer.json["ok"] is False


def test_check_finds_nothing_in_the_deployed_table(olga) -> None:
    answer = post_json(olga, "/models/decisions/validate", {"filename": "quote.dmn", "xml": QUOTE})
    assert answer.status_code == 200 and answer.json == {"ok": True, "problems": []}


def test_check_names_each_problem_on_its_cell(olga, db) -> None:
    bad = QUOTE.replace("<text>&gt;= 100</text>", '<text>"abc"</text>').replace(
        'hitPolicy="FIRST"', 'hitPolicy="PRIORITY"'
    )
    answer = post_json(olga, "/models/decisions/validate", {"filename": "quote.dmn", "xml": bad})
    assert answer.status_code == 200 and answer.json["ok"] is False
    found = {p["element_id"]: p["message"] for p in answer.json["problems"]}
    assert found["e2"].startswith('decision cleaning_quote, rule 1, input entry 2 "面積": "abc"')
    assert "hit policy PRIORITY is not supported" in found["quote_table"]
    assert versions(db) == 1


def test_check_uses_the_processes_that_call_the_table(olga) -> None:
    renamed = QUOTE.replace('id="cleaning_quote"', 'id="cleaning_price"')
    answer = post_json(
        olga, "/models/decisions/validate", {"filename": "quote.dmn", "xml": renamed}
    )
    assert answer.json["ok"] is False
    assert any(
        p["file"] == "quote_flow.bpmn" and "cleaning_quote" in p["message"]
        for p in answer.json["problems"]
    )


def test_deploy_makes_a_new_version_and_running_cases_stay(olga, deployed) -> None:
    early = deployed.start_case("quote_flow", {"kind": "deep", "area": 100}, prevalidated=True)
    cheaper = QUOTE.replace("area * 12", "area * 11")
    answer = post_json(olga, "/models/decisions/deploy", {"filename": "quote.dmn", "xml": cheaper})
    assert answer.status_code == 200, answer.json
    assert answer.json["ok"] is True and answer.json["changed"] is True
    assert answer.json["processes"] == [
        {
            "kind": "process",
            "key": "quote_flow",
            "version": 2,
            "changed": True,
            "url": "/models/quote_flow/2",
        }
    ]
    later = deployed.start_case("quote_flow", {"kind": "deep", "area": 100}, prevalidated=True)
    assert (later.version, later.data["price"]) == (2, 1100)
    assert (deployed.get_case(early.number).version, early.data["price"]) == (1, 1200)
    assert "area * 11" in olga.get(EDITOR).text  # the editor now opens the new text

    again = post_json(olga, "/models/decisions/deploy", {"filename": "quote.dmn", "xml": cheaper})
    assert again.json["changed"] is False and again.json["processes"][0]["version"] == 2


def test_a_bad_table_is_refused_with_422_and_nothing_is_deployed(olga, db) -> None:
    bad = QUOTE.replace("<text>area * 12</text>", '<text>"twelve"</text>')
    answer = post_json(olga, "/models/decisions/deploy", {"filename": "quote.dmn", "xml": bad})
    assert answer.status_code == 422 and answer.json["ok"] is False
    assert [p["element_id"] for p in answer.json["problems"]] == ["o1"]
    assert "output entry 1" in answer.json["problems"][0]["message"]
    assert versions(db) == 1


def test_a_table_no_process_uses_cannot_be_deployed(olga, db) -> None:
    answer = post_json(olga, "/models/decisions/deploy", {"filename": "other.dmn", "xml": QUOTE})
    assert answer.status_code == 422
    assert (
        "no process's newest version uses this decision table"
        in (answer.json["problems"][0]["message"])
    )
    assert versions(db) == 1


def test_decisions_cannot_be_a_process_key(olga) -> None:
    assert olga.get("/models/new?key=decisions").status_code == 422
