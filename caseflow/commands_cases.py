"""Commands on cases and their tasks: start, tasks, task, claim, unclaim, complete, message,
cancel, retry, case and reproject."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from caseflow.cli_support import command, emit, json_arg

if TYPE_CHECKING:
    from caseflow.cli import Context


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


@command()
@click.argument("key")
@click.option("--data", help="Initial case data as a JSON object.")
@click.option(
    "--as",
    "actor",
    help="The user who starts the case (must hold one of the process's start roles).",
)
def start(ctx: Context, as_json: bool, key: str, data: str | None, actor: str | None) -> None:
    """Start a case with the fields of the process's start form; prints its number."""
    case = ctx.runtime.start_case(key, json_arg(data), actor=actor, check_roles=actor is not None)
    emit(as_json, case.to_dict(), lambda: _case_text(case))


def _tasks_text(tasks: list[Any]) -> str:
    if not tasks:
        return "no tasks"
    return "\n".join(
        f"{t.id:>6}  {t.case_number}  {t.name}  [{t.role}]  {t.status}"
        + (f"  {t.assignee}" if t.assignee else "")
        + (f"  due {t.due_at:%Y-%m-%d %H:%M}Z" if t.due_at else "")
        for t in tasks
    )


@command()
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
    emit(as_json, [t.to_dict() for t in found], lambda: _tasks_text(found))


@command()
@click.argument("task_id", type=int)
def task(ctx: Context, as_json: bool, task_id: int) -> None:
    """Show one task with its form schema."""
    found = ctx.runtime.get_task(task_id)
    emit(
        as_json,
        found.to_dict(),
        lambda: (
            _tasks_text([found]) + "\nform: " + json.dumps(found.form, ensure_ascii=False, indent=2)
        ),
    )


@command()
@click.argument("task_id", type=int)
@click.option("--as", "actor", required=True, help="The user claiming the task.")
def claim(ctx: Context, as_json: bool, task_id: int, actor: str) -> None:
    """Claim a task."""
    found = ctx.runtime.claim(task_id, actor)
    emit(as_json, found.to_dict(), lambda: _tasks_text([found]))


@command()
@click.argument("task_id", type=int)
@click.option("--as", "actor", required=True, help="The user giving the task back.")
def unclaim(ctx: Context, as_json: bool, task_id: int, actor: str) -> None:
    """Give a claimed task back to its role."""
    found = ctx.runtime.unclaim(task_id, actor)
    emit(as_json, found.to_dict(), lambda: _tasks_text([found]))


@command()
@click.argument("task_id", type=int)
@click.option("--data", help="Form data as a JSON object.")
@click.option("--as", "actor", required=True, help="The user completing the task.")
def complete(ctx: Context, as_json: bool, task_id: int, data: str | None, actor: str) -> None:
    """Complete a task with its form data."""
    case = ctx.runtime.complete_task(task_id, json_arg(data), actor)
    emit(as_json, case.to_dict(), lambda: _case_text(case))


@command()
@click.argument("case_number")
@click.argument("name")
@click.option("--data", help="Message data as a JSON object.")
@click.option("--as", "actor", help="Who sends it.")
def message(
    ctx: Context, as_json: bool, case_number: str, name: str, data: str | None, actor: str | None
) -> None:
    """Send a message to a waiting case."""
    case = ctx.runtime.send_message(case_number, name, json_arg(data), actor)
    emit(as_json, case.to_dict(), lambda: _case_text(case))


@command()
@click.argument("case_number")
@click.option("--reason", required=True, help="Why the case is cancelled.")
@click.option("--as", "actor", help="Who cancels it.")
def cancel(ctx: Context, as_json: bool, case_number: str, reason: str, actor: str | None) -> None:
    """Cancel a case with a reason."""
    case = ctx.runtime.cancel_case(case_number, reason, actor)
    emit(as_json, case.to_dict(), lambda: _case_text(case))


@command()
@click.argument("case_number")
@click.option("--data", help="Corrected data for the failed step, as a JSON object.")
@click.option("--as", "actor", help="Who retries it.")
def retry(
    ctx: Context, as_json: bool, case_number: str, data: str | None, actor: str | None
) -> None:
    """Run the failed step of a case in error again."""
    case = ctx.runtime.retry_case(case_number, actor, json_arg(data))
    emit(as_json, case.to_dict(), lambda: _case_text(case))


@command("case")
@click.argument("case_number")
def case_cmd(ctx: Context, as_json: bool, case_number: str) -> None:
    """Show a case: status, open tasks, waiting timers, history."""
    case = ctx.runtime.get_case(case_number)
    emit(as_json, case.to_dict(), lambda: _case_text(case))


@command()
def reproject(ctx: Context, as_json: bool) -> None:
    """Write the task, timer and message wait rows of every running case again from its
    state (once after an upgrade that adds such rows; the steps keep them up to date)."""
    written, busy = ctx.runtime.reproject_cases()
    emit(
        as_json,
        {"cases": written, "changed_meanwhile": busy},
        lambda: (
            f"rows written again for {written} running case(s)"
            + (
                f"; changed meanwhile (their own step wrote them): {', '.join(busy)}"
                if busy
                else ""
            )
        ),
    )


# Added to the `caseflow` group by caseflow.cli.
COMMANDS = (
    start,
    tasks,
    task,
    claim,
    unclaim,
    complete,
    message,
    cancel,
    retry,
    case_cmd,
    reproject,
)
