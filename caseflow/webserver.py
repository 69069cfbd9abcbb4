"""`caseflow serve --processes N`: N gunicorn web processes (gthread, 4 threads each) on one
database, and the timer/outbox worker as a process of its own beside them.

One Python process runs Python on one core at a time; a web process per core lets a 2-core
machine answer twice the requests, and on SQLite the writers of the processes take turns through
engine.store.writerlock. Each web process builds its own app after the fork (no database connection
is shared across a fork). The worker process stops with the server (and, on Linux, when the
server is killed: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from typing import Any

import click

THREADS = 4


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_worker(now: str | None) -> subprocess.Popen:
    env = {**os.environ, **({"CASEFLOW_NOW": now} if now else {})}
    return subprocess.Popen(
        [sys.executable, "-c", "from caseflow.cli import main; main()", "worker"],
        env=env,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no locks
    )


def serve_processes(
    host: str, port: int, processes: int, with_worker: bool, now: str | None
) -> None:
    from gunicorn.app.base import BaseApplication

    def make_app() -> Any:
        """In each web process after the fork: its own runtime, as the command line makes it."""
        from caseflow.cli import Context
        from webui import create_app

        return create_app(runtime=Context(now).runtime)

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{host}:{port}",
                "workers": processes,
                "threads": THREADS,
                "worker_class": "gthread",
                "timeout": 120,
                "graceful_timeout": 20,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return make_app()

    worker = start_worker(now) if with_worker else None
    click.echo(
        f"Caseflow on http://{host}:{port}/ ({processes} web processes, worker"
        f" {'process ' + str(worker.pid) if worker else 'off'})",
        err=True,
    )
    try:
        Server().run()
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
