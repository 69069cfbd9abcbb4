"""Moving running cases from one version of their process to another.

A deploy never touches running cases; `migrate_case` is the explicit move. It is allowed only
where nothing the case is doing right now would lose its meaning: every element the case is at
(an open user task, a waiting timer or message, a join waiting for its other branches) must
exist in the target version under the same id and with the same kind, and the case must be
running. Everything else (names, forms, conditions, later steps, steps already passed) may
change. The move is a step (Runtime.write_step): one transaction with the case's version check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.util.diff import diff_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.errors import InvalidState, NotFound
from engine.core.messages import Message
from engine.core.status import ACTIVE_CASE, ACTIVE_TASK, CaseStatus, TaskStatus
from engine.runtime.projection import project
from engine.runtime.versions import version_row
from engine.spiff import adapter as spiff
from engine.store.audit import record
from engine.store.tables import Case, ProcessVersion, Task

# ----- moving cases between versions ----------------------------------------------------------

# A task in one of these states is where the case "is".
_AT = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass(frozen=True)
class MigrationCheck:
    number: str
    version: int
    ok: bool
    reasons: list[str]
    at: list[str]  # element ids the case is at


def _kind(spec: Any) -> tuple[str, str | None]:
    definition = getattr(spec, "event_definition", None)
    return type(spec).__name__, type(definition).__name__ if definition is not None else None


def _label(spec: Any) -> str:
    if spec.bpmn_id and spec.bpmn_name:
        return f"{spec.bpmn_id} ({spec.bpmn_name})"
    return spec.bpmn_id or spec.name


def _pairs(workflow: Any, spec: Any, deps: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    """(workflow or sub-workflow, its spec in the target, where) for the case and every
    sub-process or call activity it is inside."""
    pairs = [(workflow, spec, "")]
    for sub in workflow.subprocesses.values():
        pairs.append((sub, deps.get(sub.spec.name), f"{sub.spec.name}: "))
    return pairs


def _obstacles(workflow: Any, spec: Any, deps: dict[str, Any], target: int) -> list[str]:
    reasons = []
    for wf, new_spec, where in _pairs(workflow, spec, deps):
        if new_spec is None:
            if wf.get_tasks(state=_AT, skip_subprocesses=True):
                reasons.append(f"{where}the sub-process is not in version {target}")
            continue
        for task in wf.get_tasks(state=_AT, skip_subprocesses=True):
            old = task.task_spec
            new = new_spec.task_specs.get(old.name)
            if new is None:
                reasons.append(f"{where}{_label(old)} is not in version {target}")
            elif _kind(new) != _kind(old):
                was, now = _kind(old), _kind(new)
                reasons.append(
                    f"{where}{_label(old)} is a {'/'.join(filter(None, was))} here but a "
                    f"{'/'.join(filter(None, now))} in version {target}"
                )
            elif (
                task.parent is not None
                and task.parent.task_spec.name in {s.name for s in old.inputs}
                and task.parent.task_spec.name not in {s.name for s in new.inputs}
            ):
                # e.g. a boundary event was added to or removed from the task the case is at
                before = task.parent.task_spec
                why = (
                    "its boundary events changed"
                    if "BoundaryEvent" in before.name
                    or any("BoundaryEvent" in s.name for s in new.inputs)
                    else f"it no longer follows {_label(before)}"
                )
                reasons.append(
                    f"{where}the way into {_label(old)} changed in version {target} ({why})"
                )
    return reasons


def _where_at(workflow: Any) -> list[str]:
    at = set()
    for wf, _spec, _where in _pairs(workflow, None, {}):
        for task in wf.get_tasks(state=_AT, skip_subprocesses=True):
            if task.task_spec.bpmn_id:
                at.add(task.task_spec.bpmn_id)
    return sorted(at)


def _check(runtime: Any, session: Session, case: Case, target: ProcessVersion) -> MigrationCheck:
    current = session.get(ProcessVersion, case.process_version_id)
    if current.key != target.key:
        reasons = [f"case {case.number} belongs to process {current.key}, not {target.key}"]
        return MigrationCheck(case.number, current.version, False, reasons, [])
    if current.id == target.id:
        reasons = [f"case {case.number} is already on version {target.version}"]
        return MigrationCheck(case.number, current.version, False, reasons, [])
    if case.status != CaseStatus.RUNNING:
        reasons = [f"case {case.number} is {case.status}; only running cases can move"]
        return MigrationCheck(case.number, current.version, False, reasons, [])
    workflow = runtime._load(case, current)
    spec, deps = runtime._specs_for(target)
    reasons = _obstacles(workflow, spec, deps, target.version)
    return MigrationCheck(case.number, current.version, not reasons, reasons, _where_at(workflow))


def _case_and_target(session: Session, number: str, to_version: int) -> tuple[Case, ProcessVersion]:
    case = session.scalars(select(Case).where(Case.number == number)).first()
    if case is None:
        raise NotFound(f"no case numbered {number!r}", reason="case_not_found", number=number)
    return case, version_row(session, case.process_key, to_version)


def can_migrate(runtime: Any, number: str, to_version: int) -> tuple[bool, list[str]]:
    """Whether case `number` can move to version `to_version` of its process, and if not, why
    (one sentence per obstacle). Changes nothing."""
    with runtime.db.read() as session:
        case, target = _case_and_target(session, number, to_version)
        check = _check(runtime, session, case, target)
    return check.ok, check.reasons


def migration_candidates(
    runtime: Any, key: str, from_version: int, to_version: int
) -> list[MigrationCheck]:
    """Every unfinished case on `from_version`, with whether it can move to `to_version`."""
    with runtime.db.read() as session:
        source = version_row(session, key, from_version)
        target = version_row(session, key, to_version)
        cases = session.scalars(
            select(Case)
            .where(Case.process_version_id == source.id, Case.status.in_(ACTIVE_CASE))
            .order_by(Case.id)
        ).all()
        return [_check(runtime, session, case, target) for case in cases]


def _move(wf: Any, new_spec: Any, diff: Any) -> None:
    """Point every task of `wf` at its element in `new_spec`, drop passed history of elements
    the new version no longer has, and re-predict the paths ahead of where the case is.

    Unlike SpiffWorkflow's migrate_workflow this does not reset the tasks the case is at:
    a reset clears their internal data, so a waiting timer would start counting again and a
    user task's pre-script would run a second time."""
    wf.spec = new_spec
    for task in list(wf.tasks.values()):
        aligned = diff.alignment.get(task) if diff is not None else None
        aligned = new_spec.task_specs.get(task.task_spec.name) or aligned
        if aligned is not None:
            task.task_spec = aligned
        elif task.has_state(TaskState.FINISHED_MASK) and task.parent is not None:
            spiff.splice_out(wf, task)
    # STARTED tasks (sub-processes, multi-instance) keep their children; they sync them
    # against the new outputs when they complete.
    for task in wf.get_tasks(state=TaskState.READY | TaskState.WAITING):
        if task.id not in wf.tasks:
            continue
        for child in list(task.children):
            if child.id in wf.tasks and child.has_state(
                TaskState.PREDICTED_MASK | TaskState.FUTURE
            ):
                spiff.remove_task(wf, child.id)
        spiff.predict(task, TaskState.PREDICTED_MASK | TaskState.FUTURE | task.state)
    for task in list(wf.tasks.values()):  # predictions of elements that are gone
        if task.id in wf.tasks and task.task_spec.name not in new_spec.task_specs:
            if task.has_state(TaskState.PREDICTED_MASK | TaskState.FUTURE):
                spiff.remove_task(wf, task.id)
    if wf.last_task is not None and wf.last_task.id not in wf.tasks:
        wf.last_task = None


def migrate_case(
    runtime: Any, number: str, to_version: int, actor: str | None = None
) -> MigrationCheck:
    """Move running case `number` to version `to_version` of its process, in one transaction:
    its state is rewritten against the new version, its open tasks take the new version's
    names, roles and forms, and a "case_migrated" event is recorded. Raises InvalidState with
    the reasons when the move is not safe (nothing changes then)."""
    now = runtime.clock.now()
    conflict = Message(
        "case_changed_not_moved",
        f"case {number} was changed by someone else at the same time; nothing was moved",
        number=number,
    )
    with runtime.write_step(lambda: conflict) as txn:
        session = txn.session()
        case, target = _case_and_target(session, number, to_version)
        check = _check(runtime, session, case, target)
        if not check.ok:
            raise InvalidState(
                f"case {number} cannot move to version {to_version}: " + "; ".join(check.reasons),
                reason="migration_refused",
                number=number,
                version=to_version,
                reasons=list(check.reasons),
            )
        current = session.get(ProcessVersion, case.process_version_id)
        workflow = runtime._load(case, current)
        spec, deps = runtime._specs_for(target)
        try:
            top, sub_diffs = diff_workflow(spiff.SERIALIZER.registry, workflow, spec, deps)
        except (KeyError, AttributeError):  # its alignment is a help, not a must
            top, sub_diffs = None, {}
        _move(workflow, spec, top)
        for sub_id, sub in workflow.subprocesses.items():
            if sub.spec.name in deps:
                _move(sub, deps[sub.spec.name], sub_diffs.get(sub_id))
        state = spiff.dump_case_state(workflow)
        try:  # prove the new state loads on the new version before anything is written
            workflow = spiff.load_case_state(state, spec, deps, runtime.script_engine)
        except Exception as exc:  # noqa: BLE001 - any failure means "not safe"
            raise InvalidState(
                f"case {number} cannot move to version {to_version}: its state does not "
                f"fit the new version ({type(exc).__name__}: {exc})",
                reason="migration_state_mismatch",
                number=number,
                version=to_version,
                problem=f"{type(exc).__name__}: {exc}",
            ) from exc
        case.state = state
        case.process_version_id = target.id
        case.serializer_version = spiff.SERIALIZER_VERSION
        case.updated_at = now
        _retarget_tasks(session, case, target)
        project(session, case, target, workflow, now, runtime.settings.default_role, rows=txn.rows)
        record(
            session,
            "case_migrated",
            at=now,
            actor=actor,
            case_id=case.id,
            detail={
                "process": target.key,
                "from": current.version,
                "to": target.version,
                "at": check.at,
            },
        )
    return check


def _retarget_tasks(session: Session, case: Case, target: ProcessVersion) -> None:
    """Open task rows take the name, role, form and instructions of the new version."""
    for row in session.scalars(
        select(Task).where(Task.case_id == case.id, Task.status.in_(ACTIVE_TASK))
    ):
        meta = (target.task_meta or {}).get(row.element_id)
        if meta is None:
            continue
        if meta.get("role") and meta["role"] != row.role:
            row.role = meta["role"]
            if row.status == TaskStatus.CLAIMED:  # the holder may not have the new role
                row.status, row.assignee, row.claimed_at = TaskStatus.OPEN, None, None
        row.name = meta.get("name") or row.name
        row.form_id = meta.get("form_id")
        row.instructions = meta.get("instructions")
