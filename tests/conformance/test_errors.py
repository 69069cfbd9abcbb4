"""An engine error stops the case where it happened: the case is in error with the element and a
message a supervisor can read, on the case page, and the supervisor can run the step again with
corrected data."""

from __future__ import annotations

import pytest

from tests.conftest import fixture_files
from tests.webui.conftest import app, csrf_token, login, quick_password_hashing  # noqa: F401


def test_a_failing_script_is_shown_on_the_case_page_and_retried_with_corrected_data(
    app,  # noqa: F811
    login,  # noqa: F811
    runtime,
):
    runtime.deploy(fixture_files("divide_flow.bpmn"))
    case = runtime.start_case("divide_flow", {"total": 100, "people": 0}, prevalidated=True)
    assert (case.status, case.error_element) == ("error", "compute_share")
    sue = login("sue")
    page = sue.get(f"/cases/{case.number}")
    assert "compute_share" in page.text and "division by zero" in page.text
    assert "object at 0x" not in page.text
    # A step of another kind (here: a timer scan) must not put the case back to running.
    assert runtime.fire_timers(case.number) == 0
    assert runtime.get_case(case.number).status == "error"

    refused = sue.post(
        f"/cases/{case.number}/retry",
        data={"csrf_token": csrf_token(page.text), "data": "[1, 2]"},
        follow_redirects=True,
    )
    assert runtime.get_case(case.number).status == "error" and refused.status_code == 422
    sue.post(
        f"/cases/{case.number}/retry",
        data={"csrf_token": csrf_token(page.text), "data": '{"people": 4}'},
    )
    after = runtime.get_case(case.number)
    assert after.status == "running" and after.data["share"] == 25
    assert [t.element_id for t in after.open_tasks] == ["check_share"]
    assert [e.kind for e in after.history].count("retry") == 1


@pytest.mark.usefixtures("users")
def test_an_error_outside_a_script_task_keeps_the_case_in_error(runtime):
    """A spec error SpiffWorkflow raises with the spec as its message (no task in ERROR
    state): the case shows error with a readable text, not running with nothing open."""
    from tests.conformance.test_timers import DIAGRAM

    runtime.deploy([DIAGRAM])
    case = runtime.start_case(
        "timer_vars", {"visit_at": "soon", "pause_for": "PT1H", "reminders": 0}, prevalidated=True
    )
    assert case.status == "error" and case.open_tasks == []
    again = runtime.get_case(case.number)
    assert again.status == "error" and again.error_element == "until_visit"
