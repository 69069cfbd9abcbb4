"""A collaboration as Camunda Modeler draws it: the customer's black-box pool is an empty
process, which is not deployed; the company's executable process is, with lanes named in any
case matched to roles."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.identity.users import add_user

DIAGRAM = Path(__file__).parent / "diagrams" / "collaboration.bpmn"
OK = {"confirmed": True}


@pytest.mark.usefixtures("users")
def test_a_black_box_pool_is_skipped_and_the_company_process_runs(runtime, db, settings, clock):
    add_user(db, settings, "frank", ["field_staff"], clock.now())
    deployed = runtime.deploy([DIAGRAM])
    assert [(d.key, d.version) for d in deployed] == [("repair_request", 1)]
    case = runtime.start_case("repair_request")
    (receive,) = case.open_tasks
    assert receive.role == "service_desk"
    (repair,) = runtime.complete_task(receive.id, OK, "alice").open_tasks
    assert (repair.element_id, repair.role) == ("repair", "field_staff")
    (reply,) = runtime.complete_task(repair.id, OK, "frank").open_tasks
    assert runtime.complete_task(reply.id, OK, "alice").status == "completed"
