"""Case data is plain JSON: nothing that enters as data is ever restored as an object.

Threat model. A process owner, a member of staff, an API client or a message sender can put any
JSON into a case: a script task writes a dict, a form field of type object takes nested keys,
the API's start/complete and a message carry JSON objects, a `default:` process property holds
a JSON value. SpiffWorkflow's serializer registry rebuilds every dict with a "typename" key into
the class registered under that name when the case is loaded again. So a dict shaped like a
serialised BpmnWorkflow comes back as a live workflow carrying SpiffWorkflow's stock,
unrestricted script engine, and any later expression of the diagram (script task, gateway
condition, timer, pre/post script, assigneeExpression, loop cardinality, DMN cell, Jinja
instructions, message payload or correlation, a called process) that reaches
`wf.script_engine.environment.evaluate(...)` runs code as the server's user. A dict with an
unknown typename, a task spec or a timedelta beyond range bricks the case instead: every load
raises, the case page answers 500 for ever.

The shapes planted here are genuine: made by serialising real objects with SpiffWorkflow's own
registry (`BpmnWorkflowSerializer.configure(SPIFF_CONFIG)`), except the script engine (which
SpiffWorkflow does not register; its shape is written by hand, as an attacker would).

Each gadget (tests/hardening/fixtures/gadgets/, written by make_gadgets.py) plants the shapes by
one route, holds the case (so it is saved), and is then driven on in FRESH PROCESSES
(`python -m caseflow.cli case N`, `complete`, `worker --once`) against the same database. The
trigger element creates a marker file (unique per test, under tmp_path) only if the planted
`wf` came back alive. Asserted: no marker, `caseflow case N` exits 0, the supervisor's case
page answers 200, and the data read back is plain and equal to what was planted, unless the
entry refused it with a 4xx (also acceptable; never an object, never a 500).

The "control" plant set (the same dicts without a "typename" key) passes on today's code and
shows the gadgets themselves work; "revivable" and "bricking" fail on today's code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.core.errors import CaseflowError
from engine.definitions.sources import SourceFile
from engine.runtime.verbs import Runtime
from tests.hardening import conftest_web
from tests.hardening.conftest_web import Web, build_app

web = conftest_web.web
quick_password_hashing = conftest_web.quick_password_hashing
hardening_summary = conftest_web.hardening_summary

REPO = Path(__file__).resolve().parents[2]
GADGETS = Path(__file__).parent / "fixtures" / "gadgets"
NOW = "2026-11-23T01:30:00+00:00"  # the test clock (tests/conftest.py MONDAY_0930)
LATER = "2026-11-23T03:45:00+00:00"  # past the one-hour hold timers
MUCH_LATER = "2026-12-24T01:30:00+00:00"  # past every timer of the gadgets
SUBPROCESS_TIMEOUT_S = 120
PLAIN_TYPES = (dict, list, str, int, float, bool, type(None))

# ----- genuine shapes ----------------------------------------------------------------------

_TINY = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d_tiny"
                  targetNamespace="http://caseflow.example/shapes">
  <bpmn:process id="tiny" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>f</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="run"><bpmn:incoming>f</bpmn:incoming><bpmn:outgoing>g</bpmn:outgoing>
      <bpmn:script>__import__('os').system('id')</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="e"><bpmn:incoming>g</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f" sourceRef="s" targetRef="run" />
    <bpmn:sequenceFlow id="g" sourceRef="run" targetRef="e" />
  </bpmn:process>
</bpmn:definitions>"""


def stock_registry() -> Any:
    return BpmnWorkflowSerializer.configure(SPIFF_CONFIG)


def _tiny_spec() -> Any:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(_TINY)
    return parser.get_spec("tiny")


def workflow_shape() -> dict[str, Any]:
    """A serialised BpmnWorkflow (loads with SpiffWorkflow's stock script engine)."""
    workflow = BpmnWorkflow(_tiny_spec())  # no script_engine: the stock, unrestricted one
    shape = BpmnWorkflowSerializer(stock_registry()).to_dict(workflow)
    return json.loads(json.dumps(shape))


def task_spec_shape() -> dict[str, Any]:
    return json.loads(json.dumps(stock_registry().convert(_tiny_spec().task_specs["run"])))


def shapes() -> dict[str, dict[str, Any]]:
    registry = stock_registry()
    return {
        "wf": workflow_shape(),
        "td": registry.convert(timedelta(days=10)),
        "spec": task_spec_shape(),
        # Not registered by SpiffWorkflow: what an attacker would try next.
        "engine_shape": {
            "typename": "PythonScriptEngine",
            "environment": {"typename": "TaskDataEnvironment", "globals": {}},
        },
        "td_bomb": {"typename": "timedelta", "days": 10**12, "seconds": 0},
        "nope": {"typename": "nope"},
    }


def _without_typename(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            ("type_name" if k == "typename" else k): _without_typename(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_typename(v) for v in value]
    return value


REVIVABLE = ("wf", "td")  # come back as live objects on today's code
BRICKING = ("spec", "engine_shape", "td_bomb", "nope")  # make every load of the case raise


def plant_set(name: str) -> dict[str, Any]:
    every = shapes()
    if name == "control":
        return {k: _without_typename(every[k]) for k in REVIVABLE + BRICKING}
    if name == "revivable":
        return {k: every[k] for k in REVIVABLE}
    return {k: every[k] for k in REVIVABLE + BRICKING}


# What an HTML form can carry (strings, and integers where the form says so).
FORM_POSTS: dict[str, dict[str, str]] = {
    "control": {"td.type_name": "timedelta", "td.days": "10", "nope.type_name": "nope"},
    "revivable": {"td.typename": "timedelta", "td.days": "10", "td.seconds": "0"},
    "bricking": {
        "td.typename": "timedelta",
        "td.days": "10",
        "td.seconds": "0",
        "wf.typename": "BpmnWorkflow",
        "spec.typename": "ScriptTask",
        "engine_shape.typename": "PythonScriptEngine",
        "td_bomb.typename": "timedelta",
        "td_bomb.days": str(10**12),
        "td_bomb.seconds": "0",
        "nope.typename": "nope",
    },
}
FORM_EXPECTED: dict[str, dict[str, Any]] = {
    "control": {"td": {"type_name": "timedelta", "days": 10}, "nope": {"type_name": "nope"}},
    "revivable": {"td": {"typename": "timedelta", "days": 10, "seconds": 0}},
    "bricking": {
        "td": {"typename": "timedelta", "days": 10, "seconds": 0},
        "wf": {"typename": "BpmnWorkflow"},
        "spec": {"typename": "ScriptTask"},
        "engine_shape": {"typename": "PythonScriptEngine"},
        "td_bomb": {"typename": "timedelta", "days": 10**12, "seconds": 0},
        "nope": {"typename": "nope"},
    },
}

# ----- the gadgets -------------------------------------------------------------------------


@dataclass(frozen=True)
class Gadget:
    file: str
    key: str
    route: str  # script | api_start | api_complete | form_post | message | default
    hold: str = "task"  # task | timer | page (a task whose instructions are the trigger)
    extra: tuple[str, ...] = ()


GADGET_TABLE = {
    "script_task": Gadget("script_task.bpmn", "gadget_script_task", "script"),
    "gateway": Gadget("gateway.bpmn", "gadget_gateway", "api_start"),
    "timer_duration": Gadget(
        "timer_duration.bpmn", "gadget_timer_duration", "api_start", hold="timer"
    ),
    "timer_date": Gadget("timer_date.bpmn", "gadget_timer_date", "message"),
    "prescript": Gadget("prescript.bpmn", "gadget_prescript", "default"),
    "postscript": Gadget("postscript.bpmn", "gadget_postscript", "form_post"),
    "assignee": Gadget("assignee.bpmn", "gadget_assignee", "api_complete"),
    "loop_cardinality": Gadget("loop_cardinality.bpmn", "gadget_loop_cardinality", "api_start"),
    "dmn_output": Gadget(
        "dmn_output.bpmn", "gadget_dmn_output", "message", extra=("gadget_decision.dmn",)
    ),
    "instructions": Gadget("instructions.bpmn", "gadget_instructions", "api_complete", "page"),
    "message_payload": Gadget("message_payload.bpmn", "gadget_message_payload", "script"),
    "message_correlation": Gadget(
        "message_correlation.bpmn", "gadget_message_correlation", "api_complete"
    ),
    "call_activity": Gadget("call_activity.bpmn", "gadget_call_activity", "api_start"),
    "notify_template": Gadget("notify_template.bpmn", "gadget_notify_template", "default"),
}


def gadget_sources(gadget: Gadget, planted: dict[str, Any], route_defaults: dict[str, Any]):
    text = (GADGETS / gadget.file).read_text(encoding="utf-8")
    assignments = "\n".join(f"{name} = {value!r}" for name, value in planted.items())
    text = text.replace("PLANTED_BY_SCRIPT", escape(assignments))
    if route_defaults:
        properties = "".join(
            f"<spiffworkflow:property name={quoteattr('default:' + k)} "
            f"value={quoteattr(json.dumps(v))} />"
            for k, v in route_defaults.items()
        )
        text = text.replace(
            "PLANTED_DEFAULTS", f"<spiffworkflow:properties>{properties}</spiffworkflow:properties>"
        )
    files = [SourceFile(gadget.file, text.encode())]
    files.append(SourceFile("gadget_form.json", (GADGETS / "gadget_form.json").read_bytes()))
    files += [SourceFile(name, (GADGETS / name).read_bytes()) for name in gadget.extra]
    return files


# ----- fresh processes ---------------------------------------------------------------------


@pytest.fixture
def cli(db_url: str, settings: Any, tmp_path: Path):
    """Run `python -m caseflow.cli ...` in a fresh process against the test database."""
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CASEFLOW_SETTINGS": str(settings.path),
        "PYTHONPATH": str(REPO),
    }
    env.pop("CASEFLOW_NOW", None)

    def run(*args: str, now: str = NOW) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "caseflow.cli", "--now", now, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
        )

    return run


@pytest.fixture
def cli_batch(db_url: str, settings: Any, tmp_path: Path):
    """Run a sequence of `caseflow` commands in ONE fresh process (tests/hardening/cli_batch.py):
    each command still loads the case from its saved state with a runtime of its own."""
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "CASEFLOW_SETTINGS": str(settings.path),
        "PYTHONPATH": str(REPO),
    }
    env.pop("CASEFLOW_NOW", None)

    def run(commands: list[list[str]]) -> list[dict[str, Any]]:
        done = subprocess.run(
            [sys.executable, "-m", "tests.hardening.cli_batch", json.dumps(commands)],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S * len(commands),
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run


def fresh_web(web: Web) -> Web:
    """The web app on a new Runtime: nothing cached, every case loaded from its saved state."""
    runtime = Runtime(web.db, web.runtime.settings, web.clock)
    return Web(build_app(runtime), runtime, web.db, web.clock, web._tokens)


def not_plain(value: Any, path: str = "data") -> list[str]:
    """Where `value` holds something other than JSON's types."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in not_plain(v, f"{path}[{k!r}]")] + (
            [] if all(isinstance(k, str) for k in value) else [f"{path}: non-string keys"]
        )
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in not_plain(v, f"{path}[{i}]")]
    if isinstance(value, PLAIN_TYPES):
        return []
    return [f"{path}: {type(value).__module__}.{type(value).__qualname__}"]


def open_task_ids(runtime: Runtime, number: str) -> list[int]:
    return [t.id for t in runtime.list_tasks(case=number, status=["open", "claimed"])]


def page_status(client: Any, url: str) -> str | int:
    """The status of a page; an exception the app let through (TESTING mode) counts as 500."""
    try:
        return client.get(url).status_code
    except Exception as exc:  # noqa: BLE001 - what a browser would see as a 500
        return f"500 ({type(exc).__name__}: {str(exc)[:200]})"


def refused(response: Any) -> bool:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    return 400 <= response.status_code < 500


# ----- the test ----------------------------------------------------------------------------


@pytest.mark.parametrize("plant", ["control", "revivable", "bricking"])
@pytest.mark.parametrize("name", sorted(GADGET_TABLE))
def test_planted_object_shapes_stay_plain_data(
    web: Web, cli_batch, tmp_path: Path, name: str, plant: str
) -> None:
    gadget = GADGET_TABLE[name]
    marker = tmp_path / f"pwned-{name}-{plant}"
    planted = plant_set(plant)
    expected = dict(planted)
    by_script = planted if gadget.route == "script" else {}
    defaults: dict[str, Any] = {}
    if gadget.route == "default":
        defaults = dict(planted)
    if gadget.route == "message":  # the payload lands in `msg`; a script copies out `wf`
        expected = {"msg": planted, "wf": planted["wf"]}
    if gadget.route == "form_post":
        defaults = {"wf": "absent"}  # an HTML form cannot carry a whole workflow
        expected = {**defaults, **FORM_EXPECTED[plant]}
    try:
        web.runtime.deploy(gadget_sources(gadget, by_script, defaults))
    except Exception as exc:  # noqa: BLE001 - refused at deploy: as good as refused at entry
        assert "typename" in str(exc) or "default" in str(exc), exc
        assert not marker.exists()
        return

    alice, headers = web.client("alice"), web.bearer("alice")
    start_data: dict[str, Any] = {"marker": str(marker)}
    if gadget.route == "api_start":
        start_data.update(planted)
    started = alice.post(
        "/api/cases", json={"process": gadget.key, "data": start_data}, headers=headers
    )
    if refused(started):
        assert not marker.exists()
        return
    number = started.json["number"]

    # ----- the planting step (where not done by the start) -----
    if gadget.route in ("api_complete", "form_post"):
        (task_id,) = open_task_ids(web.runtime, number)
        if gadget.route == "api_complete":
            answer = alice.post(
                f"/api/tasks/{task_id}/complete", json={"data": planted}, headers=headers
            )
        else:
            answer = alice.post(
                f"/tasks/{task_id}", data={**FORM_POSTS[plant], "csrf_token": web.csrf(alice)}
            )
        if refused(answer):
            assert page_status(fresh_web(web).client("sue"), f"/cases/{number}") == 200
            assert not marker.exists()
            return
    if gadget.route == "message":
        # The supervisor's message page sends only the fields of the message's form (never raw
        # JSON), so the payload goes in through the engine's message verb, as a customer's link
        # delivers its answer.
        try:
            web.runtime.send_message(number, "gadget_plant", planted, actor="sue")
        except CaseflowError:
            pass
        history = web.runtime.get_case(number).to_dict()
        if "gadget_plant" in json.dumps(history.get("waiting_messages", [])):
            # Refused: the message was not taken; that is acceptable, nothing else to check.
            assert not marker.exists()
            return

    # ----- reload in a fresh process, drive past the hold there, let the worker run -----
    problems: list[str] = []
    if gadget.hold == "page":
        (hold_id,) = open_task_ids(web.runtime, number)
        status = page_status(fresh_web(web).client("alice"), f"/tasks/{hold_id}")
        if status != 200:
            problems.append(f"task page with the instructions answered {status}")
    steps: list[tuple[str, list[str], str]] = [
        ("`caseflow case` after planting", ["case", number, "--json"], NOW)
    ]
    if gadget.hold == "timer":
        steps.append(("worker round", ["worker", "--once", "--json"], LATER))
    else:
        for task_id in open_task_ids(web.runtime, number)[:1]:
            args = ["complete", str(task_id), "--data", '{"confirmed": true}', "--as", "alice"]
            steps.append((f"`caseflow complete {task_id}`", [*args, "--json"], NOW))
    steps.append(("late worker round", ["worker", "--once", "--json"], MUCH_LATER))
    steps.append((f"`caseflow case {number}`", ["case", number, "--json"], NOW))
    results = cli_batch([["--now", now, *args] for _, args, now in steps])
    for (what, _, _), result in zip(steps, results, strict=True):
        if result["returncode"] != 0:
            problems.append(
                f"{what} exited {result['returncode']}: "
                f"{(result['stderr'] or result['stdout'])[-400:]}"
            )
    shown = results[-1]

    # ----- what is left -----
    assert not marker.exists(), (
        f"{name}/{plant}: a planted object came back alive and ran a command "
        f"(marker {marker.name} created)"
    )
    status = page_status(fresh_web(web).client("sue"), f"/cases/{number}")
    if status != 200:
        problems.append(f"the case page answered {status}")
    assert not problems, "\n".join(problems)

    data = Runtime(web.db, web.runtime.settings, web.clock).get_case(number).data
    assert not_plain(data) == [], f"{name}/{plant}: objects in the case data"
    cli_data = json.loads(shown["stdout"])["data"]
    for key, value in expected.items():
        assert data.get(key) == value, f"{name}/{plant}: {key} came back changed"
        assert cli_data.get(key) == value, f"{name}/{plant}: {key} changed in `caseflow case`"
    view = json.loads(shown["stdout"])
    reached = set(view.get("active_elements", [])) | set(view.get("completed_elements", []))
    trigger = "called_trigger" if name == "call_activity" else "trigger"
    assert trigger in reached or view["status"] == "completed", (
        f"{name}/{plant}: the trigger element was never reached ({sorted(reached)})"
    )
    assert view["status"] in ("running", "completed"), (
        f"{name}/{plant}: the gadget itself failed on plain data: "
        f"{json.loads(shown['stdout']).get('error_message')}"
    )


# ----- the API alone ------------------------------------------------------------------------

API_SHAPES = {
    "unknown_typename": {"typename": "nope"},
    "timedelta_10e12_days": {"typename": "timedelta", "days": 10**12, "seconds": 0},
    "timedelta_in_a_list": [{"typename": "timedelta", "days": 10**12, "seconds": 0}],
    "task_spec_deep_inside": {"a": {"b": [{"c": task_spec_shape()}]}},
}


@pytest.mark.parametrize("where", ["top_level", "field"])
@pytest.mark.parametrize("verb", ["start", "complete"])
@pytest.mark.parametrize("shape", sorted(API_SHAPES))
def test_api_typename_payloads_are_refused_or_stored_plain(
    web: Web, cli, verb: str, shape: str, where: str
) -> None:
    """`{"typename": "nope"}` or a timedelta of 10**12 days sent to the API's start or complete
    (as the whole data object, or as one field): refused with a 4xx, or stored as the same
    plain JSON; the case page stays 200 and `caseflow case` exits 0 in a fresh process."""
    web.runtime.deploy(
        [
            SourceFile("gadget_form.json", (GADGETS / "gadget_form.json").read_bytes()),
            SourceFile(
                "api_plain.bpmn",
                conftest_web.one_task_bpmn("api_plain", form="gadget_form.json").encode(),
            ),
        ]
    )
    value = API_SHAPES[shape]
    alice, headers = web.client("alice"), web.bearer("alice")
    if where == "top_level" and not isinstance(value, dict):
        # A list is not a data object: refused outright, nothing started or completed.
        if verb == "start":
            answer = alice.post(
                "/api/cases", json={"process": "api_plain", "data": value}, headers=headers
            )
        else:
            number = alice.post("/api/cases", json={"process": "api_plain"}, headers=headers)
            (task_id,) = open_task_ids(web.runtime, number.json["number"])
            answer = alice.post(
                f"/api/tasks/{task_id}/complete", json={"data": value}, headers=headers
            )
        assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
        return
    payload = dict(value) if where == "top_level" else {"evil": value}
    body = {"process": "api_plain"} | ({"data": payload} if verb == "start" else {})
    started = alice.post("/api/cases", json=body, headers=headers)
    if refused(started):
        return
    number = started.json["number"]
    if verb == "complete":
        (task_id,) = open_task_ids(web.runtime, number)
        answer = alice.post(
            f"/api/tasks/{task_id}/complete", json={"data": payload}, headers=headers
        )
        if refused(answer):
            assert page_status(fresh_web(web).client("sue"), f"/cases/{number}") == 200
            return
    shown = cli("case", number, "--json")
    assert page_status(fresh_web(web).client("sue"), f"/cases/{number}") == 200
    assert shown.returncode == 0, (shown.stderr or shown.stdout)[-600:]
    data = Runtime(web.db, web.runtime.settings, web.clock).get_case(number).data
    assert not_plain(data) == []
    for key, item in payload.items():
        assert data.get(key) == item
        assert json.loads(shown.stdout)["data"].get(key) == item
