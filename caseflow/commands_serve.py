"""`caseflow worker` (the timer and outbox worker) and `caseflow serve` (the web app, with the
worker beside it)."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING

import click

from caseflow.cli_support import command, emit

if TYPE_CHECKING:
    from caseflow.cli import Context


@command()
@click.option("--once", is_flag=True, help="Fire what is due now and exit.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between scans when idle.")
def worker(ctx: Context, as_json: bool, once: bool, interval: float) -> None:
    """Fire due timers (runs until stopped)."""
    from engine.worker.timers import Worker

    worker = Worker(ctx.runtime)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # `caseflow serve --processes N` stops its worker with SIGTERM: finish the round first.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        worker.run(stop, interval_s=interval, once=once)
    except KeyboardInterrupt:
        return
    report = {
        "timers": worker.timers.to_dict(),
        "outbox": worker.delivery.to_dict(),
        **worker.timers.to_dict(),
    }
    emit(
        as_json,
        report,
        lambda: (
            f"fired {worker.timers.fired} timer(s) in {worker.timers.cases} case(s); conflicts "
            f"{worker.timers.conflicts}, failures {worker.timers.failures}; messages sent {worker.delivery.sent}, "
            f"retried {worker.delivery.retried}, failed {worker.delivery.failed}"
        ),
    )


@command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--worker/--no-worker",
    "with_worker",
    default=True,
    show_default=True,
    help="Run the timer worker too (in this process, or beside the web processes).",
)
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Web processes. 1: waitress in this process. More: gunicorn with that many processes"
    " (4 threads each) and the worker in a process of its own.",
)
@click.option(
    "--threads", default=8, show_default=True, type=click.IntRange(1, 64), help="Request threads."
)
def serve(
    ctx: Context,
    as_json: bool,
    host: str,
    port: int,
    with_worker: bool,
    processes: int,
    threads: int,
) -> None:
    """Serve the web app (and the timer worker)."""
    if processes > 1:
        from caseflow.webserver import serve_processes

        serve_processes(host, port, processes, with_worker, ctx.now)
        return
    from waitress import serve as waitress_serve

    from webui import create_app

    runtime = ctx.runtime
    app = create_app(runtime=runtime)
    stop = threading.Event()
    if with_worker:
        thread = threading.Thread(
            target=lambda: app.extensions["caseflow_worker"].run(stop),
            name="timer-worker",
            daemon=True,
        )
        thread.start()
    click.echo(
        f"Caseflow on http://{host}:{port}/ (worker {'on' if with_worker else 'off'})", err=True
    )
    try:
        waitress_serve(app, host=host, port=port, threads=threads)
    finally:
        stop.set()


# Added to the `caseflow` group by caseflow.cli.
COMMANDS = (worker, serve)
