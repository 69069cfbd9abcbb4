"""Fuzzing the JSON API from its own OpenAPI document (/api/openapi.json) with schemathesis.

Every operation gets requests generated from the document, both fitting it (positive) and
breaking it (negative: wrong types, missing or extra fields, bad parameters), sent to the
Flask app in-process (WSGI) with a bearer token of one of the demo roles. Half the requests
aim at real ids (a live task, a live case, a deployed process) instead of random ones, so the
fuzzing reaches the code behind the "not found". Every answer must be a documented, clear
answer: no server error, a status code the document lists, JSON as documented; for negative
requests, no 5xx (unknown query parameters are ignored, as HTTP APIs do).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import fixture_files
from tests.hardening import conftest_web, summary_plugin
from tests.hardening.conftest_web import Web
from webui.openapi import document

web = conftest_web.web
quick_password_hashing = conftest_web.quick_password_hashing
hardening_summary = conftest_web.hardening_summary

# Examples per operation and mode; HARDENING_FUZZ_SCALE=10 runs ten times as many.
SCALE = float(os.environ.get("HARDENING_FUZZ_SCALE", "1"))
EXAMPLES = max(1, int(25 * SCALE))
CALLERS = ["alice", "bob", "sue", "olga"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

summary_plugin.describe(
    "API fuzzing",
    "{operations} operations × 2 modes, {examples} generated requests "
    "({positive} fitting the document, {negative} breaking it); no server error, every "
    "answer documented; {without_token} requests without a valid token answered 401",
)


@pytest.fixture
def api(web: Web) -> dict[str, Any]:
    runtime = web.runtime
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    web.deploy_one_task("senior_flow", lane="senior_service")
    cases = [runtime.start_case("review_flow", {"customer_name": "王"}).number for _ in range(3)]
    cases.append(runtime.start_case("senior_flow", {}).number)
    return {
        "schema": schemathesis.openapi.from_wsgi("/api/openapi.json", web.app),
        "cases": cases,
        "processes": ["review_flow", "senior_flow"],
    }


def _real_ids(web: Web, api: dict[str, Any], case: Any, draw: Any) -> None:
    """Point the request at something that exists (keeps the fuzzing past the 404s)."""
    params = case.path_parameters or {}
    if "task_id" in params:
        open_ids = [t.id for n in api["cases"] for t in web.runtime.get_case(n).open_tasks]
        if open_ids:
            params["task_id"] = draw(st.sampled_from(open_ids))
    if "number" in params:
        params["number"] = draw(st.sampled_from(api["cases"]))
    body = case.body
    if isinstance(body, dict) and "process" in body:
        body["process"] = draw(st.sampled_from(api["processes"]))


def test_every_operation_answers_clearly(web: Web, api: dict[str, Any]) -> None:
    schema = api["schema"]
    operations = [result.ok() for result in schema.get_all_operations()]
    documented = {
        f"{method.upper()} {path}" for path, item in document()["paths"].items() for method in item
    }
    # Schemathesis leaves out the operation that serves the document it was loaded from.
    assert {op.label for op in operations} == documented - {"GET /api/openapi.json"}
    summary_plugin.set_figure("API fuzzing", operations=len(operations))
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(web, api, operation, mode)


def _fuzz(web: Web, api: dict[str, Any], operation: Any, mode: GenerationMode) -> None:
    strategy = operation.as_strategy(generation_mode=mode)
    # Not negative_data_rejection: the API ignores query parameters it does not know (as HTTP
    # APIs do), which that check counts as accepting invalid data.
    checks = CHECKS

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def check(data: Any) -> None:
        case = data.draw(strategy)
        if mode is GenerationMode.POSITIVE and data.draw(st.booleans()):
            _real_ids(web, api, case, data.draw)
        caller = data.draw(st.sampled_from(CALLERS))
        response = case.call(headers=web.bearer(caller))
        case.validate_response(response, checks=checks)
        assert response.status_code < 500, (operation.label, response.text[:500])
        summary_plugin.record("API fuzzing", examples=1, **{mode.value: 1})

    check()


def test_requests_without_a_token_are_401(web: Web, api: dict[str, Any]) -> None:
    schema = api["schema"]
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path == "/api/openapi.json":
            continue

        @settings(
            max_examples=5, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            for headers in (
                {},
                {"Authorization": "Bearer cf_not-a-token"},
                {"Authorization": "Basic x"},
            ):
                response = case.call(headers=headers)
                assert response.status_code == 401, (case.operation.label, headers, response.text)
                summary_plugin.record("API fuzzing", without_token=1)

        check()
