"""Helpers for the hardening tests of the web app: an app on the test runtime with one user per
role, signed-in clients, API tokens, CSRF tokens, and tiny one-task processes built around any
form (so every real form can be posted to the real task page without driving its procedure).

Test modules bind the fixtures they use from here (tests/hardening/conftest.py belongs to
another set of tests):
    web = conftest_web.web
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest

from engine.definitions.sources import SourceFile
from engine.identity.tokens import issue_token
from engine.identity.users import add_user
from tests.hardening import summary_plugin
from webui import create_app

PASSWORD = "secret-pass-1"
# One user per role the web app distinguishes; carol shares alice's role (claims between peers).
USERS: dict[str, list[str]] = {
    "alice": ["service_desk"],
    "carol": ["service_desk"],
    "bob": ["senior_service"],
    "sue": ["supervisor"],
    "olga": ["process_owner"],
}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def build_app(runtime: Any, **config: Any) -> Any:
    """The app as `create_app` makes it, with the process owners' blueprint registered even
    while webui/__init__.py does not do it yet (as tests/webui/test_models.py does)."""
    settings = {"TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False}
    settings.update(config)
    app = create_app(settings, runtime=runtime)
    if "models" not in app.blueprints:
        from webui import models

        app.register_blueprint(models.bp)
    return app


def one_task_bpmn(
    key: str,
    lane: str = "service_desk",
    form: str | None = None,
    instructions: str | None = None,
    loop: bool = False,
    name: str = "處理",
) -> str:
    """A process with one user task in one lane; with `loop`, completing the task opens it
    again (a new task each round), so a fuzzer can keep posting to a live task."""
    props = ""
    if form:
        props = (
            "<spiffworkflow:properties><spiffworkflow:property "
            f'name="formJsonSchemaFilename" value={quoteattr(form)} />'
            "</spiffworkflow:properties>"
        )
    text = ""
    if instructions is not None:
        text = (
            "<spiffworkflow:instructionsForEndUser>"
            f"{escape(instructions)}</spiffworkflow:instructionsForEndUser>"
        )
    ext = f"<bpmn:extensionElements>{props}{text}</bpmn:extensionElements>" if props or text else ""
    if loop:
        tail = """
    <bpmn:exclusiveGateway id="again" default="f_again"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f_again</bpmn:outgoing><bpmn:outgoing>f_end</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="end"><bpmn:incoming>f_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="again" />
    <bpmn:sequenceFlow id="f_again" sourceRef="again" targetRef="work" />
    <bpmn:sequenceFlow id="f_end" sourceRef="again" targetRef="end">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">False</bpmn:conditionExpression>
    </bpmn:sequenceFlow>"""
        refs = "start work again end"
        incoming = "<bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>f_again</bpmn:incoming>"
    else:
        tail = """
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />"""
        refs = "start work end"
        incoming = "<bpmn:incoming>f1</bpmn:incoming>"
    node_refs = "".join(f"<bpmn:flowNodeRef>{r}</bpmn:flowNodeRef>" for r in refs.split())
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  id="defs_{key}" targetNamespace="http://caseflow.example/test">
  <bpmn:process id="{key}" name="{key}" isExecutable="true">
    <bpmn:laneSet id="lanes_{key}">
      <bpmn:lane id="lane_{key}" name={quoteattr(lane)}>{node_refs}</bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="work" name={quoteattr(name)}>{ext}{incoming}<bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />{tail}
  </bpmn:process>
</bpmn:definitions>
"""


@dataclass
class Web:
    """The app under test and ways to reach it as each identity."""

    app: Any
    runtime: Any
    db: Any
    clock: Any
    _tokens: dict[str, str] = field(default_factory=dict)

    def client(self, name: str | None = None) -> Any:
        """A test client, signed in as `name` (None: anonymous)."""
        client = self.app.test_client()
        if name is not None:
            page = client.get("/login")
            response = client.post(
                "/login",
                data={"name": name, "password": PASSWORD, "csrf_token": csrf_token(page.text)},
            )
            assert response.status_code == 302, (name, response.status_code, response.text[:300])
        return client

    def csrf(self, client: Any) -> str:
        """A CSRF token valid for `client`'s session (the sign-in page always carries one)."""
        return csrf_token(client.get("/login").text)

    def token(self, name: str) -> str:
        if name not in self._tokens:
            self._tokens[name] = issue_token(self.db, name, self.clock.now())
        return self._tokens[name]

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(name)}"}

    def deploy_one_task(self, key: str, **kwargs: Any) -> None:
        extra = list(kwargs.pop("extra_files", []))
        files = [SourceFile(f"{key}.bpmn", one_task_bpmn(key, **kwargs).encode())]
        self.runtime.deploy(files + extra)

    def open_task(self, number: str) -> Any:
        tasks = [t for t in self.runtime.get_case(number).open_tasks]
        assert tasks, f"case {number} has no open task"
        return tasks[0]


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # The production work factor costs ~0.1 s per hash; these tests sign in hundreds of times.
    monkeypatch.setattr("engine.identity.users.SCRYPT_N", 2**8)


@pytest.fixture
def web(runtime, db, settings, clock, quick_password_hashing) -> Web:
    for name, roles in USERS.items():
        add_user(db, settings, name, roles, clock.now(), password=PASSWORD)
    return Web(build_app(runtime), runtime, db, clock)


@pytest.fixture(autouse=True)
def hardening_summary(request: pytest.FixtureRequest) -> None:
    """Make sure the figures these tests record are printed at the end of the run, whether or
    not tests/conftest.py lists the plugin in `pytest_plugins`."""
    summary_plugin.ensure_registered(request.config)
