"""Who may start what: a process's `startRoles` (default: the role of its first user task, and
supervisors), checked at deploy, applied by the start verb for the API and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.errors import Forbidden
from engine.definitions.sources import DefinitionError, SourceFile
from engine.definitions.starting import may_start
from engine.identity.users import add_user
from tests.conftest import FIXTURES, fixture_files

ROOT = Path(__file__).resolve().parents[2]
REVIEW = (FIXTURES / "review_flow.bpmn").read_text()
CASE_PREFIX = '<spiffworkflow:property name="casePrefix" value="RV" />'


def _review_with(start_roles: str) -> list[SourceFile | Path]:
    text = REVIEW.replace(
        CASE_PREFIX,
        CASE_PREFIX + f'<spiffworkflow:property name="startRoles" value="{start_roles}" />',
    )
    return [
        SourceFile("review_flow.bpmn", text.encode()),
        *fixture_files("review_form.json", "review_start.json"),
    ]


def test_may_start_is_any_role_in_common():
    assert may_start(("service_desk", "supervisor"), {"finance", "supervisor"})
    assert not may_start(("service_desk",), {"finance"})
    assert not may_start(("service_desk",), set())


def test_default_is_the_first_tasks_role_and_supervisors(runtime, users, db, settings, clock):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    add_user(db, settings, "fin", ["finance"], clock.now())
    for user in ("alice", "sue"):  # service_desk (the lane of task_a); supervisor
        assert runtime.start_case("review_flow", actor=user, check_roles=True).status == "running"
    for user in ("bob", "fin"):
        with pytest.raises(Forbidden) as refused:
            runtime.start_case("review_flow", actor=user, check_roles=True)
        assert "may not start process 'review_flow'; allowed: service_desk, supervisor" in str(
            refused.value
        )
    assert runtime.list_tasks() and len(runtime.list_tasks()) == 2


def test_unknown_or_inactive_starters_are_refused(runtime, users):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    for actor in (None, "nobody"):
        with pytest.raises(Forbidden, match="no active user"):
            runtime.start_case("review_flow", actor=actor, check_roles=True)
    # Without the check (the engine's own callers, timers, the portal) nothing is asked.
    assert runtime.start_case("review_flow", actor="portal").status == "running"


def test_start_roles_property_by_id_or_lane_name(runtime, users, db, settings, clock):
    runtime.deploy(_review_with("財務, senior_service"))
    add_user(db, settings, "fin", ["finance"], clock.now())
    assert runtime.start_case("review_flow", actor="fin", check_roles=True)
    assert runtime.start_case("review_flow", actor="bob", check_roles=True)
    for user in ("alice", "sue"):  # not named: not even supervisors
        with pytest.raises(Forbidden, match="allowed: finance, senior_service"):
            runtime.start_case("review_flow", actor=user, check_roles=True)


def test_a_new_version_changes_who_may_start(runtime, users):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    assert runtime.start_case("review_flow", actor="alice", check_roles=True)
    runtime.deploy(_review_with("supervisor"))
    with pytest.raises(Forbidden):
        runtime.start_case("review_flow", actor="alice", check_roles=True)


def test_an_unknown_role_is_refused_at_deploy_naming_it(runtime):
    with pytest.raises(DefinitionError) as refused:
        runtime.deploy(_review_with("service_desk, 夜班"))
    problems = [str(p) for p in refused.value.problems]
    assert len(problems) == 1 and "startRoles: '夜班' is not a known role" in problems[0]
    with pytest.raises(DefinitionError, match="names no role"):
        runtime.deploy(_review_with(" , "))


def test_default_start_roles_of_every_process(runtime):
    """The processes in processes/ all begin at the service desk."""
    from engine.definitions.properties import process_properties
    from engine.definitions.sources import read_paths
    from engine.definitions.starting import start_roles
    from engine.definitions.validation import validate
    from engine.spiff.xmlsafe import parse_xml

    plans, _ = validate(read_paths([ROOT / "processes", ROOT / "forms"]), runtime.settings, {})
    found = {}
    for plan in plans:
        source = next(s for s in plan.sources if f'id="{plan.key}"' in s["text"])
        root = parse_xml(source["text"].encode(), 10**8)
        found[plan.key] = start_roles(
            process_properties(root, plan.key), plan.spec, plan.subprocess_specs, runtime.settings
        )
    assert set(found) == {p.stem for p in (ROOT / "processes").glob("*.bpmn")}
    assert all(v == (["service_desk", "supervisor"], []) for v in found.values()), found
