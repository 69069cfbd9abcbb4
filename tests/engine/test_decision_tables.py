"""A decision table edited on its own deploys with every process whose newest version uses it:
a new version of each, the other processes untouched, running cases on their version."""

from __future__ import annotations

import pytest

from engine.definitions.sources import DefinitionError, SourceFile
from engine.runtime.versions import (
    check_decision,
    decision_table,
    deploy_decision,
    list_processes,
)
from tests.conftest import FIXTURES, fixture_files

QUOTE = (FIXTURES / "quote.dmn").read_text()
FLOW = (FIXTURES / "quote_flow.bpmn").read_text()
# A second process calling the same decision, in a file of its own.
OTHER_FLOW = FLOW.replace('id="quote_flow" name="報價"', 'id="office_quote" name="辦公室報價"')


@pytest.fixture
def two_users(runtime):
    runtime.deploy(
        [
            SourceFile("quote_flow.bpmn", FLOW.encode()),
            SourceFile("office_quote.bpmn", OTHER_FLOW.encode()),
            SourceFile("quote.dmn", QUOTE.encode()),
            *[SourceFile(p.name, p.read_bytes()) for p in fixture_files("review_flow.bpmn")],
            SourceFile("review_form.json", (FIXTURES / "review_form.json").read_bytes()),
        ],
        actor="owner",
    )
    return runtime


def newest(runtime) -> dict[str, int]:
    return {p.key: p.latest.version for p in list_processes(runtime.db)}


def test_the_table_knows_its_decision_and_who_uses_it(two_users) -> None:
    table = decision_table(two_users, "quote.dmn")
    assert (table.decision_id, table.name) == ("cleaning_quote", "保潔報價")
    assert table.used_by == [("office_quote", 1), ("quote_flow", 1)]
    assert "area * 12" in table.xml
    versions = {p.key: p.latest.decisions for p in list_processes(two_users.db)}
    assert versions == {
        "office_quote": ("quote.dmn",),
        "quote_flow": ("quote.dmn",),
        "review_flow": (),
    }


def test_deploying_the_table_makes_a_version_of_each_user_only(two_users) -> None:
    early = two_users.start_case("office_quote", {"kind": "deep", "area": 100}, prevalidated=True)
    cheaper = QUOTE.replace("area * 12", "area * 11")
    assert check_decision(two_users, "quote.dmn", cheaper) == []
    deployed = deploy_decision(two_users, "quote.dmn", cheaper, actor="olga")
    assert sorted((d.key, d.version, d.changed) for d in deployed) == [
        ("office_quote", 2, True),
        ("quote_flow", 2, True),
    ]
    assert newest(two_users) == {"office_quote": 2, "quote_flow": 2, "review_flow": 1}
    later = two_users.start_case("office_quote", {"kind": "deep", "area": 100}, prevalidated=True)
    assert (later.version, later.data["price"]) == (2, 1100)
    assert (early.version, early.data["price"]) == (1, 1200)
    assert decision_table(two_users, "quote.dmn").used_by == [
        ("office_quote", 2),
        ("quote_flow", 2),
    ]


def test_a_refused_table_deploys_nothing(two_users) -> None:
    bad = QUOTE.replace('hitPolicy="FIRST"', 'hitPolicy="RULE ORDER"')
    assert [p.element_id for p in check_decision(two_users, "quote.dmn", bad)] == ["quote_table"]
    with pytest.raises(DefinitionError):
        deploy_decision(two_users, "quote.dmn", bad, actor="olga")
    assert newest(two_users) == {"office_quote": 1, "quote_flow": 1, "review_flow": 1}
