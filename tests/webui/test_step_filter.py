"""The case list's step filter finds the cases waiting at an element in any of the heat map's
four ways (an open or claimed task, a waiting timer, a message, an error there), so each
heat-map row links to exactly the cases it counts: the row's count, the list's total and the
cases listed agree. Every count below is worked out by hand from the steps the test takes."""

from __future__ import annotations

import html as htmllib
import re

import pytest
from sqlalchemy import text

from engine.casework import case_filter
from engine.casework.case_filter import (
    CaseFilter,
    step_condition,
    step_elements,
    version_condition,
)
from engine.casework.queries import _filtered
from engine.definitions.sources import SourceFile
from tests.conftest import FIXTURES, fixture_files
from tests.webui.test_case_waits import FLOW, complete, reply_world

SUPERVISE = ("supervise_flow.bpmn", "supervise_start.json", "supervise_review.json")
SUPERVISE += ("supervise_reply.json",)
START = {
    "customer_name": "王小明",
    "phone": "13800000001",
    "total": 100,
    "people": 4,
    "channel": "web",
    "professional_id": 7,
}


def listed(page: str) -> set[str]:
    """The case numbers on a page of the case list."""
    body = page.split("<tbody>")[1].split("</tbody>")[0] if "<tbody>" in page else ""
    return set(re.findall(r'href="/cases/([A-Z]+-[0-9-]+)"', body))


@pytest.fixture(params=["fetched", "walked", "probed"])
def arms(request, monkeypatch) -> str:
    """Each test three times, as the list would read a step's and a version's cases were they
    few (fetched by id), more (read whole, tested as the newest cases are walked) or many
    (probed case by case as they are walked)."""
    if request.param != "fetched":
        monkeypatch.setattr(case_filter, "FEW", 0)
    if request.param == "probed":
        monkeypatch.setattr(case_filter, "COMMON", 1)
    return request.param


def total(page: str) -> int:
    count = page.split('id="case-count">')[1].split("</span>")[0]
    return int(re.sub(r"\D", "", count))


def heat_rows(client, key: str, version: int) -> dict[str, tuple[int, str]]:
    """The heat map's table: element -> (the row's total, the address its name links to)."""
    page = client.get(f"/cases/heatmap/{key}/{version}").text
    table = page.split('id="heat-table"')[1].split("</table>")[0]
    rows = {}
    for element, row in re.findall(r'<tr data-element="([^"]+)">(.*?)</tr>', table, re.S):
        numbers = [int(n) for n in re.findall(r'<td class="n"[^>]*>(\d*)</td>', row) if n]
        href = htmllib.unescape(re.search(r'href="([^"]+)"', row).group(1))
        rows[element] = (sum(numbers), href)
    return rows


def test_heat_map_rows_link_to_the_cases_they_count(app, login, runtime, arms):
    cases = reply_world(runtime)
    # The same process's next version: one case there waits for the reply and the timer too,
    # and is counted and listed under v2 only.
    source = (FIXTURES / f"{FLOW}.bpmn").read_text().replace("客戶回覆", "客戶已回覆")
    runtime.deploy([SourceFile(f"{FLOW}.bpmn", source.encode())])
    newer = runtime.start_case(FLOW).number
    complete(runtime, newer, "task_intake")
    c = cases
    expected = {
        "task_intake": {c["d"], c["e"]},
        "reply": {c["a"], c["b"], c["c"]},
        "no_reply": {c["a"], c["b"], c["c"]},
        "receive_payment": {c["f"]},
        "task_close": {c["h"]},
        "withdrawn": {c["h"]},
    }
    sue = login("sue")
    rows = heat_rows(sue, FLOW, 1)
    assert set(rows) == set(expected)
    for element, (count, href) in rows.items():
        assert href == f"/cases?process={FLOW}&version=1&step={element}"
        page = sue.get(href).text
        assert count == total(page) == len(expected[element]), element
        assert listed(page) == expected[element], element
    later = heat_rows(sue, FLOW, 2)
    assert {e: n for e, (n, _) in later.items()} == {"reply": 1, "no_reply": 1}
    assert listed(sue.get(later["reply"][1]).text) == {newer}

    # By name, as the filter's list offers it: every version's cases at that step.
    by_name = sue.get(f"/cases?process={FLOW}&step=三天未回覆").text
    assert listed(by_name) == {c["a"], c["b"], c["c"], newer} and total(by_name) == 4
    # The list names an event's step and keeps the version chosen.
    page = sue.get(rows["no_reply"][1]).text
    step = page.split('name="step"')[1].split("</select>")[0]
    assert re.search(r'<option value="no_reply" selected>三天未回覆</option>', step)
    version = page.split('name="version"')[1].split("</select>")[0]
    assert re.search(r'<option value="1" selected>v1</option>', version)
    assert sue.get(f"/cases?process={FLOW}&version=x").status_code == 400
    assert sue.get(f"/cases?process={FLOW}&version={2**70}").status_code == 400
    assert listed(sue.get(f"/cases?process={FLOW}&version=9&step=reply").text) == set()


def test_cases_in_error_and_at_a_task_are_listed_where_the_heat_map_counts_them(
    app, login, runtime, arms
):
    """supervise_flow: two cases at 受理審核 while waiting for the reply and the phone note at
    once; one stopped at 計算每人金額 by an error (no people to share the total among)."""
    runtime.deploy(fixture_files(*SUPERVISE))
    waiting = {runtime.start_case("supervise_flow", START).number for _ in range(2)}
    failed = runtime.start_case("supervise_flow", {**START, "people": 0}).number
    assert runtime.get_case(failed).status == "error"
    expected = {
        "task_review": waiting,
        "wait_reply": waiting,
        "wait_call": waiting,
        "compute_share": {failed},
    }
    sue = login("sue")
    rows = heat_rows(sue, "supervise_flow", 1)
    assert {e: n for e, (n, _) in rows.items()} == {e: len(s) for e, s in expected.items()}
    for element, (count, href) in rows.items():
        page = sue.get(href).text
        assert total(page) == count and listed(page) == expected[element], element
    # The error's step by name, over every process.
    assert listed(sue.get("/cases?step=計算每人金額").text) == {failed}


def test_the_step_filter_reads_the_indexes(users, runtime, db, clock, arms):
    """Each arm of the step is read from an index on (status,) element and case, or probed
    by its case index; no table is scanned for it."""
    reply_world(runtime)
    flt = CaseFilter(process=FLOW, version=1, step="三天未回覆")
    assert step_elements(db, flt) == ["no_reply", "三天未回覆"]
    # The plan is read where it can be read as text: SQLite's EXPLAIN QUERY PLAN.
    if db.engine.dialect.name == "sqlite":
        query = _filtered(flt, clock.now(), step_condition(db, flt), version_condition(db, flt))
        query = query.order_by(
            case_filter.Case.started_at.desc(), case_filter.Case.id.desc()
        ).limit(51)
        compiled = query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
        with db.read() as session:
            plan = [row[-1] for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
        read = [line for line in plan if re.search(r"\b(task|timer|message_wait)\b", line)]
        # Only the timer arm holds cases (a, b, c): the empty arms are left out.
        assert len(read) == 1 and "timer" in read[0], plan
        assert read[0].startswith("SEARCH") and "INDEX" in read[0], plan
        assert not [line for line in plan if line.startswith("SCAN") and " case " not in line], plan
    nowhere = CaseFilter(process=FLOW, step="nowhere")
    assert str(step_condition(db, nowhere)) == "false"
