"""The web app over its JSON API, served as `make run` serves it: `caseflow serve --processes 2`
(two gunicorn web processes, the timer worker in a third) on SQLite, here on a copy of the
100k-case database; the same figures for one process (waitress, the worker as a thread) go
under `http_single_process`.

- one client, sequential requests on one keep-alive connection: start a case, list its tasks,
  complete the first, list, complete the second (the 5-step case) — cases per second;
- 8 concurrent clients, each working its own cases as fast as it can (start, list, complete,
  look at its inbox, list, complete): p95 of the completions and of the inbox requests.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .common import ROOT, free_port, log, median, percentile
from .lists import build_dataset, copy_dataset

PROCESS = "bench_lifecycle"


class Client:
    """One keep-alive connection with a bearer token."""

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
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {payload}")
        return payload

    def close(self) -> None:
        self.conn.close()


def lifecycle(client: Client, timings: dict[str, list[float]] | None = None) -> None:
    """The 5-step case over the API."""

    def step(kind: str, method: str, path: str, body: Any = None) -> Any:
        t0 = time.perf_counter()
        payload = client.ok(method, path, body)
        if timings is not None:
            timings.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
        return payload

    case = step(
        "start", "POST", "/api/cases", {"process": PROCESS, "data": {"customer_name": "王小明"}}
    )
    number = case["number"]
    tasks = step("list", "GET", f"/api/tasks?case={number}")["tasks"]
    step("complete", "POST", f"/api/tasks/{tasks[0]['id']}/complete", {"data": {"approve": True}})
    if timings is not None:
        step("inbox", "GET", "/api/tasks")
    tasks = step("list", "GET", f"/api/tasks?case={number}")["tasks"]
    done = step(
        "complete", "POST", f"/api/tasks/{tasks[0]['id']}/complete", {"data": {"confirmed": True}}
    )
    if done["status"] != "completed":
        raise RuntimeError(f"case {number} is {done['status']}")


def _tokens(url: str, names: list[str]) -> dict[str, str]:
    from engine.core.clock import SystemClock
    from engine.identity.tokens import issue_token
    from engine.store.database import Database

    db = Database(url)
    try:
        return {name: issue_token(db, name, SystemClock().now()) for name in names}
    finally:
        db.dispose()


def _serve(
    ws: Any, url: str, mode: str = "serve", health_token: str = ""
) -> tuple[list[subprocess.Popen], int]:
    """Start the web app. "serve": `caseflow serve --processes 2` (what `make run` starts: two
    gunicorn web processes with 4 threads each, the worker in a process of its own);
    "single": `caseflow serve --processes 1` (waitress, 8 threads, the worker in the same
    process)."""
    port = free_port()
    caseflow = Path(sys.executable).with_name("caseflow")
    command = (
        [str(caseflow)]
        if caseflow.exists()
        else [sys.executable, "-c", "from caseflow.cli import main; main()"]
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CASEFLOW_SETTINGS": str(ws.settings_path),
        "CASEFLOW_SECRET_KEY": "benchmark",
        "PYTHONPATH": str(ROOT),
    }
    log_path = ws.path / f"{mode}.log"
    log_file = open(log_path, "w")  # noqa: SIM115 - closed with the process
    serve = [*command, "serve", "--host", "127.0.0.1", "--port", str(port)]
    commands = [serve + (["--processes", "2"] if mode == "serve" else ["--processes", "1"])]
    procs = [
        subprocess.Popen(c, cwd=str(ws.path), env=env, stdout=log_file, stderr=subprocess.STDOUT)
        for c in commands
    ]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            _stop(procs)
            raise RuntimeError(f"{mode} exited: {log_path.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            # The worker's details are shown to supervisors only (a supervisor's token here).
            conn.request("GET", "/health", headers={"Authorization": f"Bearer {health_token}"})
            response = conn.getresponse()
            body = json.loads(response.read() or b"{}")
            conn.close()
            # Measure from the end of the worker's first round: it starts with the daily
            # retention purge, which reads every finished case once. (A separate worker
            # process is not seen by /health: give it the same few seconds.)
            if response.status == 200 and (
                mode != "single" or body.get("worker", {}).get("last_run")
            ):
                if mode != "single":
                    time.sleep(5)  # the worker process's first round (not seen by /health)
                return procs, port
        except OSError:
            pass
        time.sleep(0.2)
    _stop(procs)
    raise RuntimeError(f"{mode} was not ready within 120 s")


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _one_client(port: int, token: str, count: int) -> float:
    """Cases per second, one client, one keep-alive connection, one request after the other."""
    client = Client(port, token)
    for _ in range(20):
        lifecycle(client)
    t0 = time.perf_counter()
    for _ in range(count):
        lifecycle(client)
    rate = count / (time.perf_counter() - t0)
    client.close()
    return rate


def _eight_clients(port: int, tokens: dict[str, str], seconds: float) -> dict[str, Any]:
    """Eight clients at once, each working its own cases as fast as it can."""
    names = list(tokens)
    timings: list[dict[str, list[float]]] = [{} for _ in names]
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def work(n: int) -> None:
        c = Client(port, tokens[names[n]])
        try:
            while time.monotonic() < stop:
                lifecycle(c, timings[n])
        except Exception as exc:  # noqa: BLE001 - reported
            errors.append(f"{names[n]}: {type(exc).__name__}: {exc}")
        finally:
            c.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(names))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    merged: dict[str, list[float]] = {}
    for per_client in timings:
        for kind, values in per_client.items():
            merged.setdefault(kind, []).extend(values)
    requests = sum(len(v) for v in merged.values())
    log(
        f"  8 clients for {elapsed:.0f} s: {requests / elapsed:,.0f} requests/s; "
        + ", ".join(
            f"{kind} p95 {percentile(v, 95):.1f} ms (median {median(v):.1f})"
            for kind, v in merged.items()
        )
        + (f"; {len(errors)} client(s) failed: {errors[0]}" if errors else "")
    )
    return {
        "complete_p95_ms": round(percentile(merged.get("complete", []), 95), 2),
        "inbox_p95_ms": round(percentile(merged.get("inbox", []), 95), 2),
        "requests_per_s": round(requests / elapsed, 1),
        "errors": errors[:10],
        "detail": {
            kind: {
                "count": len(values),
                "median_ms": round(median(values), 2),
                "p95_ms": round(percentile(values, 95), 2),
            }
            for kind, values in merged.items()
        },
    }


def run(ws: Any, results: dict[str, Any], quick: bool = False) -> None:
    """Both ways of serving, each on its own copy of the 100k database. The issue's keys come
    from `caseflow serve --processes 2` (what `make run` starts); the same figures for one
    process are under `http_single_process`."""
    source = build_dataset(ws, open_cases=20_000 if quick else 100_000)
    count = 60 if quick else 300
    seconds = 8 if quick else 25
    for mode in ("serve", "single"):
        url = copy_dataset(ws, source, f"web-{mode}.db")
        tokens = _tokens(url, [f"client{n}" for n in range(1, 9)])
        boss = _tokens(url, ["boss"])["boss"]
        procs, port = _serve(ws, url, mode, health_token=boss)
        try:
            log(f"  {mode}:")
            rate = _one_client(port, tokens["client1"], count)
            log(
                f"  1 client, 5 requests a case, keep-alive: {rate:,.1f} cases/s"
                f" ({1000 / rate / 5:.2f} ms a request)"
            )
            load = _eight_clients(port, tokens, seconds)
        finally:
            _stop(procs)
        if mode == "serve":
            results["http_lifecycle_cases_per_s"] = round(rate, 1)
            results["http_complete_p95_ms"] = load["complete_p95_ms"]
            results["http_inbox_p95_ms"] = load["inbox_p95_ms"]
            results["http_concurrent_detail"] = load["detail"]
            results["http_concurrent_requests_per_s"] = load["requests_per_s"]
            if load["errors"]:
                results["http_errors"] = load["errors"]
        else:
            results["http_single_process"] = {
                "setup": "caseflow serve --processes 1 (waitress, 8 threads, worker thread)",
                "lifecycle_cases_per_s": round(rate, 1),
                **load,
            }
