"""Who may do what to a task: the one place the engine and the web layer ask.

`task_refusal` answers why `user` may not take `action` on `task` now, or None when they may.
The engine's verbs raise the refusal (Forbidden or Conflict); the web layer asks the same
question before showing a form and translates the refusal's code. The status rules come from
the transition table in engine.core.status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from engine.core.errors import CaseflowError, Conflict, Forbidden
from engine.core.status import TASK_TRANSITIONS, TaskStatus

SUPERVISOR_ROLE = "supervisor"
PROCESS_OWNER_ROLE = "process_owner"

Action = Literal["complete", "claim", "unclaim", "reassign"]


@dataclass(frozen=True)
class Refusal:
    """Why an action is refused: a stable `code`, its `params`, and the English message."""

    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    # Conflict: someone else got there first (reload and see); else the user may never.
    conflict: bool = True

    def error(self) -> CaseflowError:
        cls = Conflict if self.conflict else Forbidden
        return cls(self.message, reason=self.code, **self.params)


def task_refusal(
    task: Any,
    roles: set[str],
    user: str,
    action: Action = "complete",
    *,
    to_user_roles: set[str] | None = None,
    to_user: str | None = None,
) -> Refusal | None:
    """Why `user` (holding `roles`) may not `action` the task, or None. `task` is anything with
    id, role, status, assignee, completed_by and completed_at. For "reassign", `to_user` and
    the roles they hold."""
    if action == "reassign":
        if SUPERVISOR_ROLE not in roles:
            return Refusal(
                "not_supervisor",
                f"only a {SUPERVISOR_ROLE} may reassign tasks",
                {"role": SUPERVISOR_ROLE},
                conflict=False,
            )
    elif task.role not in roles:
        return Refusal(
            "role_missing",
            f"task {task.id} belongs to role {task.role}, which {user} does not hold",
            {"task": task.id, "role": task.role, "user": user},
            conflict=False,
        )
    if not TASK_TRANSITIONS[TaskStatus(task.status)]:  # a final status: nothing more happens
        if task.status == TaskStatus.DONE:
            return Refusal(
                "task_done",
                f"task {task.id} was already completed by {task.completed_by}"
                f" at {task.completed_at:%Y-%m-%d %H:%M} UTC",
                {"task": task.id, "user": task.completed_by, "at": task.completed_at},
            )
        return Refusal(
            "task_cancelled",
            f"task {task.id} was cancelled at {task.completed_at:%Y-%m-%d %H:%M} UTC"
            " (the case moved on without it)",
            {"task": task.id, "at": task.completed_at},
        )
    if action == "reassign":
        if task.role not in (to_user_roles or set()):
            return Refusal(
                "target_role_missing",
                f"{to_user} does not hold role {task.role}",
                {"user": to_user, "role": task.role},
                conflict=False,
            )
        return None
    if task.status == TaskStatus.CLAIMED and task.assignee != user:
        return Refusal(
            "claimed_by_other",
            f"task {task.id} is claimed by {task.assignee}",
            {"task": task.id, "user": task.assignee},
        )
    return None


def check_task_action(
    task: Any, roles: set[str], user: str, action: Action = "complete", **reassign: Any
) -> None:
    """Raise the refusal of task_refusal (Forbidden or Conflict), if any."""
    refusal = task_refusal(task, roles, user, action, **reassign)
    if refusal is not None:
        raise refusal.error()


def model_refusal(roles: set[str] | frozenset[str], user: str) -> Refusal | None:
    """Why `user` (holding `roles`) may not work on the process definitions — check, try out
    in a dry run, or deploy a draft — or None: process owners may."""
    if PROCESS_OWNER_ROLE in roles:
        return None
    return Refusal(
        "not_process_owner",
        f"only a {PROCESS_OWNER_ROLE} may work on process definitions; {user} is not one",
        {"role": PROCESS_OWNER_ROLE, "user": user},
        conflict=False,
    )


# ----- which cases a user may look up ---------------------------------------------------------

# The front desk answers the phone for every customer-facing process: it finds any case of
# those processes (engine.casework.queries names them), not only the cases its role has a task in.
FRONT_DESK_ROLES = frozenset({"service_desk", "senior_service"})
# Roles whose members each work their own tasks (a cleaner, a nurse, a technician): they find
# only the cases they work on themselves, not every case their role has a task in.
PERSONAL_ROLES = frozenset({"field_staff"})


@dataclass(frozen=True)
class CaseScope:
    """The cases a user may find (the customer search): every case (`everything`), or those
    matching any of the parts below.

    - `customer_facing`: every case of the customer-facing processes;
    - `task_roles`: cases with a task (open, claimed, done or cancelled) of one of these roles;
    - `user` with `open_roles`: cases with a task claimed or completed by `user`, or open (not
      claimed by anyone) to one of `open_roles` (what the user's inbox offers them)."""

    everything: bool = False
    customer_facing: bool = False
    task_roles: frozenset[str] = frozenset()
    user: str | None = None
    open_roles: frozenset[str] = frozenset()


def case_scope(roles: set[str] | frozenset[str], user: str) -> CaseScope:
    """Which cases `user` (holding `roles`) may find: supervisors every case; the front desk
    the customer-facing processes; field staff the cases of their own tasks; every other role
    the cases its tasks are in."""
    if SUPERVISOR_ROLE in roles:
        return CaseScope(everything=True)
    return CaseScope(
        customer_facing=bool(roles & FRONT_DESK_ROLES),
        task_roles=frozenset(roles - PERSONAL_ROLES),
        user=user,
        open_roles=frozenset(roles & PERSONAL_ROLES),
    )
