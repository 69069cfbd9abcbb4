"""Several web processes on one database: `gunicorn --workers 2 webui.wsgi:app`, as the README
shows for PostgreSQL (this runs on both databases). Clients on separate connections work cases
through the JSON API at once; two processes completing the same task at the same moment give one
success and one clear conflict."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.identity.tokens import issue_token
from engine.identity.users import add_user
from tests.conftest import fixture_files

ROOT = Path(__file__).resolve().parents[2]
CLIENTS, CASES_EACH, RACE_ROUNDS = 4, 8, 12


class Client:
    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data, headers=self.headers)
        response = self.conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = self.call(method, path, body)
        assert status < 300, (method, path, status, payload)
        return payload

    def close(self) -> None:
        self.conn.close()


def _env(db_url: str, settings: Any) -> dict[str, str]:
    """What every process of one deployment shares."""
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "CASEFLOW_SETTINGS": str(settings.path),
        "CASEFLOW_SECRET_KEY": "gunicorn-test",
        "PYTHONPATH": str(ROOT),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(db_url, settings, runtime, clock, tmp_path):
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    add_user(runtime.db, settings, "pat", ["service_desk", "senior_service"], clock.now())
    token = issue_token(runtime.db, "pat", clock.now())
    port = _free_port()
    env = _env(db_url, settings)
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}"]
        + ["webui.wsgi:app"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "gunicorn did not answer /health in 60 s"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                try:
                    conn.request("GET", "/health")
                    if conn.getresponse().status == 200:
                        break
                finally:
                    conn.close()
            except OSError:
                time.sleep(0.2)
        yield port, token, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _web_workers(master: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True)
    return {int(p) for p in out.stdout.split()}


def test_two_gunicorn_processes_share_the_work(gunicorn, runtime):
    port, token, proc = gunicorn
    assert len(_web_workers(proc.pid)) == 2
    numbers: list[str] = []
    failures: list[str] = []

    def work() -> None:
        client = Client(port, token)
        try:
            for _ in range(CASES_EACH):
                case = client.ok(
                    "POST",
                    "/api/cases",
                    {"process": "review_flow", "data": {"customer_name": "林"}},
                )
                numbers.append(case["number"])
                for data in ({"approve": True}, {"confirmed": True}):
                    tasks = client.ok("GET", f"/api/tasks?case={case['number']}")["tasks"]
                    assert len(tasks) == 1, tasks
                    done = client.ok(
                        "POST", f"/api/tasks/{tasks[0]['id']}/complete", {"data": data}
                    )
                # both tasks done, the case waits on its 3-day timer
                assert done["active_elements"] == ["wait_3_days"], done
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            client.close()

    threads = [threading.Thread(target=work) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(set(numbers)) == CLIENTS * CASES_EACH  # every case its own number
    for number in numbers:
        case = runtime.get_case(number)
        assert case.status == "running" and case.active_elements == ["wait_3_days"]
        assert case.data["approve"] is True and case.data["confirmed"] is True
        assert [e.kind for e in case.history].count("task_completed") == 2


def _complete(c: Client, task_id: int, barrier: threading.Barrier, answers: list) -> None:
    barrier.wait()
    answers.append(c.call("POST", f"/api/tasks/{task_id}/complete", {"data": {"approve": False}}))


def test_the_same_task_completed_by_two_processes_at_once(gunicorn):
    port, token, _ = gunicorn
    starter = Client(port, token)
    outcomes: list[tuple[int, ...]] = []
    for _ in range(RACE_ROUNDS):
        case = starter.ok("POST", "/api/cases", {"process": "review_flow", "data": {}})
        task = starter.ok("GET", f"/api/tasks?case={case['number']}")["tasks"][0]
        clients = [Client(port, token) for _ in range(2)]
        for c in clients:  # open both connections first, so the two posts go out together
            c.ok("GET", "/health")
        barrier = threading.Barrier(2)
        answers: list[tuple[int, Any]] = []
        threads = [
            threading.Thread(target=_complete, args=(c, task["id"], barrier, answers))
            for c in clients
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in clients:
            c.close()
        for status, body in answers:
            assert status == 200 or (status == 409 and body["message"]), (status, body)
        outcomes.append(tuple(sorted(status for status, _ in answers)))
        final = starter.ok("GET", f"/api/cases/{case['number']}")
        assert final["status"] == "completed"
        assert [e["kind"] for e in final["history"]].count("task_completed") == 1
    starter.close()
    assert outcomes == [(200, 409)] * RACE_ROUNDS


def test_caseflow_serve_with_two_processes(db_url, settings, runtime, clock, tmp_path):
    """`caseflow serve --processes 2`: two web processes and a worker process, all stopped
    with the server."""
    runtime.deploy(fixture_files("review_flow.bpmn", "review_form.json"))
    add_user(runtime.db, settings, "pat", ["service_desk", "senior_service"], clock.now())
    token = issue_token(runtime.db, "pat", clock.now())
    add_user(runtime.db, settings, "sue", ["supervisor"], clock.now())
    watcher_token = issue_token(runtime.db, "sue", clock.now())  # /health details: supervisors
    port = _free_port()
    env = _env(db_url, settings)
    command = [sys.executable, "-c", "from caseflow.cli import main; main()", "serve"]
    proc = subprocess.Popen(
        [*command, "--processes", "2", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_web_workers(proc.pid)) < 3:  # 2 web processes + the worker
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        children = _web_workers(proc.pid)
        client = Client(port, token)
        while True:
            try:
                case = client.ok("POST", "/api/cases", {"process": "review_flow", "data": {}})
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
                client.close()
                client = Client(port, token)
        task = client.ok("GET", f"/api/tasks?case={case['number']}")["tasks"][0]
        done = client.ok("POST", f"/api/tasks/{task['id']}/complete", {"data": {"approve": False}})
        assert done["status"] == "completed"
        # The worker runs in its own process; the web processes' /health still sees it.
        assert client.ok("GET", "/health") == {"status": "ok"}  # nothing more for others
        watcher = Client(port, watcher_token)
        while not watcher.ok("GET", "/health")["workers"]:
            assert time.monotonic() < deadline, "no worker noted a round"
            time.sleep(0.2)
        watcher.close()
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    for pid in children:  # none left behind
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )
