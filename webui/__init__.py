"""Caseflow web application (Flask). Views parse requests, call engine verbs and render."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify
from sqlalchemy import text

from engine.runtime import Runtime
from engine.settings import load_settings
from engine.store import Database
from engine.timers import FireReport, fire_due_timers


class WorkerHandle:
    """The timer worker run beside the web app; the health page shows its heartbeat."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.last_run: datetime | None = None
        self.last_report = FireReport()
        self.last_error: str | None = None

    def run(self, stop: threading.Event, interval_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.last_report = fire_due_timers(self.runtime)
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - the loop must survive a bad round
                self.last_error = f"{type(exc).__name__}: {exc}"
            self.last_run = datetime.now(UTC)
            if self.last_report.cases == 0:
                stop.wait(interval_s)


def create_app(config: dict[str, Any] | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the app; tests pass their own runtime (temporary database, fixed clock)."""
    app = Flask(__name__)
    app.config.update(config or {})
    if runtime is None:
        runtime = Runtime(Database(app.config.get("DATABASE_URL")), load_settings())
    app.extensions["caseflow"] = runtime
    app.extensions["caseflow_worker"] = WorkerHandle(runtime)

    @app.get("/health")
    def health() -> Any:
        worker: WorkerHandle = app.extensions["caseflow_worker"]
        try:
            with runtime.db.read() as session:
                session.execute(text("select 1"))
            database = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            database = f"error: {exc}"
        body = {
            "status": "ok" if database == "ok" else "degraded",
            "database": database,
            "worker": {
                "last_run": worker.last_run.isoformat() if worker.last_run else None,
                "last_report": worker.last_report.to_dict(),
                "last_error": worker.last_error,
            },
            "time": runtime.clock.now().isoformat(),
        }
        return jsonify(body), 200 if database == "ok" else 503

    @app.get("/")
    def index() -> str:
        return "<!doctype html><meta charset=utf-8><title>Caseflow</title><h1>Caseflow</h1><p><a href=/health>health</a></p>"

    return app
