"""`caseflow` command line. Every command prints JSON with --json; failures exit non-zero."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from engine.core.clock import FixedClock, SystemClock, parse_instant
from engine.core.errors import CaseflowError, ValidationFailed
from engine.core.settings import SettingsError, add_role, load_settings
from engine.definitions.sources import DefinitionError
from engine.store.database import Database

DEMO_PASSWORD = "caseflow-demo"


class Context:
    def __init__(self, now: str | None):
        self.now = now
        self._runtime = None
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database()
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()

    @property
    def clock(self):
        return FixedClock(parse_instant(self.now)) if self.now else SystemClock()

    @property
    def runtime(self):
        if self._runtime is None:
            from engine.runtime.verbs import Runtime

            self._runtime = Runtime(self.db, load_settings(), self.clock)
        return self._runtime


def _emit(as_json: bool, payload: Any, text: Callable[[], str]) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(text())


def command(group: click.Group, name: str | None = None) -> Callable:
    """A subcommand with a --json flag and uniform error handling."""

    def decorate(fn: Callable) -> Callable:
        @group.command(name)
        @click.option(
            "--json", "as_json", is_flag=True, help="Print JSON (a stable contract for scripts)."
        )
        @click.pass_obj
        @wraps(fn)
        def wrapper(ctx: Context, as_json: bool, **kwargs: Any) -> None:
            try:
                fn(ctx, as_json, **kwargs)
            except DefinitionError as exc:
                _fail(
                    as_json,
                    "invalid_definition",
                    "nothing was deployed",
                    problems=[p.to_dict() for p in exc.problems],
                    text="\n".join(f"  {p}" for p in exc.problems),
                )
            except ValidationFailed as exc:
                lines = [
                    f"  {field or '(form)'}: {'; '.join(msgs)}"
                    for field, msgs in exc.errors.items()
                ]
                _fail(as_json, exc.code, str(exc), errors=exc.errors, text="\n".join(lines))
            except CaseflowError as exc:
                _fail(as_json, exc.code, str(exc))
            except (SettingsError, ValueError) as exc:
                _fail(as_json, "invalid_input", str(exc))

        return wrapper

    return decorate


def _fail(as_json: bool, code: str, message: str, text: str = "", **extra: Any) -> None:
    if as_json:
        click.echo(
            json.dumps({"error": code, "message": message, **extra}, ensure_ascii=False, indent=2)
        )
    else:
        click.echo(f"error: {message}", err=True)
        if text:
            click.echo(text, err=True)
    sys.exit(1)


def _json_arg(text: str | None, what: str = "--data") -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(value, dict):
        raise ValueError(f'{what} must be a JSON object, e.g. \'{{"name": "王小明"}}\'')
    return value


@click.group()
@click.option(
    "--now", envvar="CASEFLOW_NOW", help="Run with a fixed clock (ISO 8601), for drills and tests."
)
@click.pass_context
def main(ctx: click.Context, now: str | None) -> None:
    """Caseflow: BPMN processes for a services company."""
    if now:
        try:
            parse_instant(now)
        except ValueError:
            raise click.BadParameter(
                f"{now!r} is not an ISO 8601 date-time", param_hint="--now"
            ) from None
    ctx.obj = Context(now)
    ctx.call_on_close(ctx.obj.close)


@command(main, "init-db")
def init_db(ctx: Context, as_json: bool) -> None:
    """Create or upgrade the database schema and the roles table."""
    from engine.identity.users import sync_roles
    from engine.store.migrate import upgrade

    db = ctx.db
    upgrade(db)
    with db.write() as session:
        sync_roles(session, load_settings())
        session.commit()
    _emit(as_json, {"database": db.url, "status": "ready"}, lambda: f"database ready: {db.url}")


@command(main)
@click.argument("paths", nargs=-1, required=True)
@click.option("--as", "actor", help="Who deploys.")
def deploy(ctx: Context, as_json: bool, paths: tuple[str, ...], actor: str | None) -> None:
    """Deploy BPMN, DMN and form files (or folders of them)."""
    results = ctx.runtime.deploy(list(paths), actor=actor)
    _emit(
        as_json,
        [r.to_dict() for r in results],
        lambda: (
            "\n".join(
                f"{r.kind:7} {r.key}  v{r.version}  {'deployed' if r.changed else 'unchanged'}"
                for r in results
            )
            or "nothing to deploy"
        ),
    )


def _case_text(case: Any) -> str:
    lines = [f"case {case.number}  {case.process} v{case.version}  {case.status}"]
    if case.error_message:
        lines.append(f"  error at {case.error_element}: {case.error_message}")
    if case.cancel_reason:
        lines.append(f"  cancelled: {case.cancel_reason}")
    for task in case.open_tasks:
        lines.append(
            f"  task {task.id}: {task.name} [{task.role}] {task.status}"
            + (f" due {task.due_at:%Y-%m-%d %H:%M}Z" if task.due_at else "")
        )
    for timer in case.timers:
        lines.append(f"  timer {timer.element_id}: due {timer.due_at:%Y-%m-%d %H:%M}Z")
    for event in case.history:
        lines.append(
            f"  {event.at:%Y-%m-%d %H:%M:%S}Z {event.kind} {event.element_id or ''} {event.actor or ''}".rstrip()
        )
    return "\n".join(lines)


@command(main)
@click.argument("key")
@click.option("--data", help="Initial case data as a JSON object.")
@click.option(
    "--as",
    "actor",
    help="The user who starts the case (must hold one of the process's start roles).",
)
def start(ctx: Context, as_json: bool, key: str, data: str | None, actor: str | None) -> None:
    """Start a case with the fields of the process's start form; prints its number."""
    case = ctx.runtime.start_case(key, _json_arg(data), actor=actor, check_roles=actor is not None)
    _emit(as_json, case.to_dict(), lambda: _case_text(case))


def _tasks_text(tasks: list[Any]) -> str:
    if not tasks:
        return "no tasks"
    return "\n".join(
        f"{t.id:>6}  {t.case_number}  {t.name}  [{t.role}]  {t.status}"
        + (f"  {t.assignee}" if t.assignee else "")
        + (f"  due {t.due_at:%Y-%m-%d %H:%M}Z" if t.due_at else "")
        for t in tasks
    )


@command(main)
@click.option("--case", "case_number", help="Case number.")
@click.option("--role", help="Role id.")
@click.option("--status", help="open, claimed, done or cancelled.")
@click.option("--assignee", help="User name.")
@click.option(
    "--inbox",
    "inbox_user",
    help="The inbox of this user (open tasks of their roles and their claimed tasks).",
)
def tasks(
    ctx: Context,
    as_json: bool,
    case_number: str | None,
    role: str | None,
    status: str | None,
    assignee: str | None,
    inbox_user: str | None,
) -> None:
    """List tasks."""
    if inbox_user:
        found = ctx.runtime.inbox(inbox_user)
    else:
        found = ctx.runtime.list_tasks(
            case=case_number, role=role, status=status, assignee=assignee
        )
    _emit(as_json, [t.to_dict() for t in found], lambda: _tasks_text(found))


@command(main)
@click.argument("task_id", type=int)
def task(ctx: Context, as_json: bool, task_id: int) -> None:
    """Show one task with its form schema."""
    found = ctx.runtime.get_task(task_id)
    _emit(
        as_json,
        found.to_dict(),
        lambda: (
            _tasks_text([found]) + "\nform: " + json.dumps(found.form, ensure_ascii=False, indent=2)
        ),
    )


@command(main)
@click.argument("task_id", type=int)
@click.option("--as", "actor", required=True, help="The user claiming the task.")
def claim(ctx: Context, as_json: bool, task_id: int, actor: str) -> None:
    """Claim a task."""
    found = ctx.runtime.claim(task_id, actor)
    _emit(as_json, found.to_dict(), lambda: _tasks_text([found]))


@command(main)
@click.argument("task_id", type=int)
@click.option("--as", "actor", required=True, help="The user giving the task back.")
def unclaim(ctx: Context, as_json: bool, task_id: int, actor: str) -> None:
    """Give a claimed task back to its role."""
    found = ctx.runtime.unclaim(task_id, actor)
    _emit(as_json, found.to_dict(), lambda: _tasks_text([found]))


@command(main)
@click.argument("task_id", type=int)
@click.option("--data", help="Form data as a JSON object.")
@click.option("--as", "actor", required=True, help="The user completing the task.")
def complete(ctx: Context, as_json: bool, task_id: int, data: str | None, actor: str) -> None:
    """Complete a task with its form data."""
    case = ctx.runtime.complete_task(task_id, _json_arg(data), actor)
    _emit(as_json, case.to_dict(), lambda: _case_text(case))


@command(main)
@click.argument("case_number")
@click.argument("name")
@click.option("--data", help="Message data as a JSON object.")
@click.option("--as", "actor", help="Who sends it.")
def message(
    ctx: Context, as_json: bool, case_number: str, name: str, data: str | None, actor: str | None
) -> None:
    """Send a message to a waiting case."""
    case = ctx.runtime.send_message(case_number, name, _json_arg(data), actor)
    _emit(as_json, case.to_dict(), lambda: _case_text(case))


@command(main)
@click.argument("case_number")
@click.option("--reason", required=True, help="Why the case is cancelled.")
@click.option("--as", "actor", help="Who cancels it.")
def cancel(ctx: Context, as_json: bool, case_number: str, reason: str, actor: str | None) -> None:
    """Cancel a case with a reason."""
    case = ctx.runtime.cancel_case(case_number, reason, actor)
    _emit(as_json, case.to_dict(), lambda: _case_text(case))


@command(main)
@click.argument("case_number")
@click.option("--data", help="Corrected data for the failed step, as a JSON object.")
@click.option("--as", "actor", help="Who retries it.")
def retry(
    ctx: Context, as_json: bool, case_number: str, data: str | None, actor: str | None
) -> None:
    """Run the failed step of a case in error again."""
    case = ctx.runtime.retry_case(case_number, actor, _json_arg(data))
    _emit(as_json, case.to_dict(), lambda: _case_text(case))


@command(main, "case")
@click.argument("case_number")
def case_cmd(ctx: Context, as_json: bool, case_number: str) -> None:
    """Show a case: status, open tasks, waiting timers, history."""
    case = ctx.runtime.get_case(case_number)
    _emit(as_json, case.to_dict(), lambda: _case_text(case))


@command(main)
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
    _emit(
        as_json,
        report,
        lambda: (
            f"fired {worker.timers.fired} timer(s) in {worker.timers.cases} case(s); conflicts "
            f"{worker.timers.conflicts}, failures {worker.timers.failures}; messages sent {worker.delivery.sent}, "
            f"retried {worker.delivery.retried}, failed {worker.delivery.failed}"
        ),
    )


@command(main)
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


@main.group()
def users() -> None:
    """Users and their roles."""


@command(users, "add")
@click.argument("name")
@click.option(
    "--role", "roles", multiple=True, required=True, help="A role id (repeat for several)."
)
@click.option("--password", help="Password for signing in to the web app.")
@click.option("--display-name")
@click.option("--email")
def users_add(
    ctx: Context,
    as_json: bool,
    name: str,
    roles: tuple[str, ...],
    password: str | None,
    display_name: str | None,
    email: str | None,
) -> None:
    """Add a user (or set an existing user's roles)."""
    from engine.identity.users import add_user

    add_user(
        ctx.db,
        load_settings(),
        name,
        list(roles),
        ctx.clock.now(),
        password,
        display_name,
        email,
    )
    _emit(as_json, {"name": name, "roles": list(roles)}, lambda: f"user {name}: {', '.join(roles)}")


@command(users, "token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Revoke the user's API token instead.")
@click.option("--as", "actor", help="Who issues it.")
def users_token(ctx: Context, as_json: bool, name: str, revoke: bool, actor: str | None) -> None:
    """Issue (or revoke) the API token of a user; the token is shown once."""
    from engine.identity.tokens import issue_token, revoke_token

    if revoke:
        had = revoke_token(ctx.db, name, now=ctx.clock.now(), actor=actor)
        _emit(
            as_json,
            {"user": name, "revoked": had},
            lambda: f"token of {name} {'revoked' if had else 'was not set'}",
        )
        return
    token = issue_token(ctx.db, name, ctx.clock.now(), actor=actor)
    _emit(
        as_json,
        {"user": name, "token": token},
        lambda: f"API token for {name} (shown once):\n{token}",
    )


@command(users, "list")
def users_list(ctx: Context, as_json: bool) -> None:
    """List users."""
    from engine.identity.users import list_users

    found = list_users(ctx.db)
    _emit(
        as_json,
        found,
        lambda: "\n".join(f"{u['name']:20} {', '.join(u['roles'])}" for u in found) or "no users",
    )


@command(users, "demo")
def users_demo(ctx: Context, as_json: bool) -> None:
    """Create one demo user per role (password: caseflow-demo) and an admin with every role."""
    from engine.identity.users import add_user

    settings = load_settings()
    db = ctx.db
    created = []
    for role in settings.roles:
        name = role.replace("_", "-")
        add_user(db, settings, name, [role], ctx.clock.now(), DEMO_PASSWORD)
        created.append({"name": name, "roles": [role]})
    add_user(db, settings, "admin", list(settings.roles), ctx.clock.now(), DEMO_PASSWORD)
    created.append({"name": "admin", "roles": list(settings.roles)})
    _emit(
        as_json,
        created,
        lambda: (
            "\n".join(f"{u['name']:16} {', '.join(u['roles'])}" for u in created)
            + f"\npassword for all: {DEMO_PASSWORD}"
        ),
    )


@command(main, "demo-data")
def demo_data(ctx: Context, as_json: bool) -> None:
    """Load demo stores, rooms, staff shifts, nurses, cleaners and customers (idempotent)."""
    from caseflow.demo import load_demo, summary

    counts = load_demo(ctx.db, load_settings(), ctx.clock.now())
    _emit(as_json, counts, lambda: summary(counts))


@main.group()
def roles() -> None:
    """Roles (the lanes of the diagrams)."""


@command(roles, "add")
@click.argument("role_id")
@click.argument("name_zh")
def roles_add(ctx: Context, as_json: bool, role_id: str, name_zh: str) -> None:
    """Add a role to the settings file, e.g. `caseflow roles add night_shift 夜班`."""
    from engine.identity.users import sync_roles

    settings = add_role(role_id, name_zh)
    db = ctx.db
    if os.environ.get("DATABASE_URL") or (
        db.is_sqlite and os.path.exists(db.url.split("///", 1)[-1])
    ):
        with db.write() as session:
            sync_roles(session, settings)
            session.commit()
    _emit(
        as_json,
        {"id": role_id, "name_zh": name_zh, "settings": str(settings.path)},
        lambda: f"role {role_id} ({name_zh}) added to {settings.path}",
    )


@command(roles, "list")
def roles_list(ctx: Context, as_json: bool) -> None:
    """List the roles."""
    settings = load_settings()
    _emit(
        as_json,
        [{"id": k, "name_zh": v} for k, v in settings.roles.items()],
        lambda: "\n".join(f"{k:16} {v}" for k, v in settings.roles.items()),
    )


# ----- personal data and backups (engine/privacy.py, engine/backup.py) ------------------------


@command(main)
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
@click.option("--as", "actor", help="Who runs it (recorded with the run).")
def purge(ctx: Context, as_json: bool, dry_run: bool, actor: str | None) -> None:
    """Remove customers' personal data from cases that ended more than [privacy]
    retention_days ago (the worker also does this once a day)."""
    from engine.casework.privacy import purge as run_purge

    report = run_purge(ctx.db, load_settings(), ctx.clock.now(), dry_run=dry_run, actor=actor)
    _emit(
        as_json,
        report.to_dict(),
        lambda: (
            f"{'would remove' if dry_run else 'removed'} personal data of {report.cases} case(s) "
            f"that ended before {report.cutoff} ({report.retention_days} days): "
            f"{report.tasks} task(s), {report.events} event(s), {report.messages} message(s), "
            f"{report.attachments} attachment(s), {report.blobs} file(s); "
            f"{report.fields} field(s) in all"
            + (f"; {report.skipped} skipped (changed meanwhile)" if report.skipped else "")
        ),
    )


@command(main, "export-customer")
@click.argument("phone", required=False)
@click.option("--name", help="The customer's name (exact); with PHONE, cases matching both.")
@click.option("--as", "actor", help="Who asks for the export (recorded on every case).")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="Write the JSON to this file."
)
def export_customer_cmd(
    ctx: Context,
    as_json: bool,
    phone: str | None,
    name: str | None,
    actor: str | None,
    output: str | None,
) -> None:
    """Everything about one customer (by phone number and/or name) as JSON: cases, task data,
    messages, events, attachments. The export is recorded on each case."""
    from pathlib import Path

    from engine.casework.privacy import export_customer

    data = export_customer(ctx.db, phone, name, actor=actor, now=ctx.clock.now())
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if output is None:
        click.echo(text)
        return
    Path(output).write_text(text + "\n", encoding="utf-8")
    _emit(
        as_json,
        {"path": output, "cases": len(data["cases"])},
        lambda: f"{len(data['cases'])} case(s) written to {output}",
    )


@command(main)
@click.argument("path", type=click.Path())
def backup(ctx: Context, as_json: bool, path: str) -> None:
    """Copy the SQLite database to PATH (a file, or a folder for a dated file in it); safe
    while the app and the worker run. PostgreSQL: use pg_dump (see the README)."""
    from engine.store.backup import backup as run_backup
    from engine.store.database import database_url

    info = run_backup(database_url(), path, ctx.clock.now())
    _emit(
        as_json,
        info,
        lambda: (
            f"backup written to {info['path']} ({info['cases']} case(s), "
            f"{info['bytes']:,} bytes, schema {info['revision']})"
        ),
    )


@command(main)
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite the existing database (it is first saved beside it as "
    "<name>.before-restore-<time>). Stop the app and the worker first.",
)
def restore(ctx: Context, as_json: bool, path: str, force: bool) -> None:
    """Put a backup made by `caseflow backup` in place of the SQLite database."""
    from engine.store.backup import restore as run_restore
    from engine.store.database import database_url

    info = run_restore(path, database_url(), force=force, now=ctx.clock.now())
    _emit(
        as_json,
        info,
        lambda: (
            f"restored {info['path']} into {info['database']} ({info['cases']} case(s))"
            + (
                f"; the previous database is kept as {info['previous_saved_as']}"
                if info["previous_saved_as"]
                else ""
            )
            + ("; run `caseflow init-db` to upgrade its schema" if info["needs_upgrade"] else "")
            + "; restart the app and the worker"
        ),
    )


if __name__ == "__main__":
    main()
