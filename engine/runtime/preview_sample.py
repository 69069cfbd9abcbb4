"""What a preview of an owner's template renders on, and how: a sample case (a running case of
the process, else what a case would start with, else nothing) and the rendering itself, in the
bounded sandbox of an evaluator process (engine.spiff.templating.render) that `notify` and the
task page use, never in the caller. Used by the message template and instructions editors
(engine.runtime.template_preview, engine.runtime.instructions)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.core.errors import NotFound
from engine.core.status import ACTIVE_TASK, CaseStatus
from engine.spiff import templating
from engine.store.tables import Case, Form, ProcessVersion, Task

PREVIEW_TIME_S = 1.0  # as engine.worker.notify.TEMPLATE_TIME_S and the task page's
SAMPLE_CASES = 50


def process_version(session: Session, key: str, version: int | None = None) -> ProcessVersion:
    """Version `version` of process `key`, or its newest; NotFound when there is none."""
    if version is None:
        version = session.scalar(
            select(func.max(ProcessVersion.version)).where(ProcessVersion.key == key)
        )
        if version is None:
            raise NotFound(f"no deployed process {key!r}", reason="process_not_found", process=key)
    row = session.scalars(
        select(ProcessVersion).where(ProcessVersion.key == key, ProcessVersion.version == version)
    ).first()
    if row is None:
        raise NotFound(
            f"no version {version} of process {key!r}",
            reason="version_not_found",
            version=version,
            process=key,
        )
    return row


@dataclass(frozen=True)
class SampleCase:
    number: str
    version: int
    started_at: datetime
    at_element: bool = False  # it has an open task of the element asked about


@dataclass(frozen=True)
class Sample:
    """The data a preview renders on: a running case's (`case_number`; as its open task
    `at_task` sees it when the preview is for that task's element), else what a case would
    start with (`source` "start": the process defaults and the start form's fields), else
    nothing ("empty")."""

    source: str
    data: dict[str, Any]
    case_number: str | None = None
    at_task: int | None = None


def sample_cases(
    runtime: Any, key: str, element_id: str | None = None, limit: int = SAMPLE_CASES
) -> list[SampleCase]:
    """The running cases of process `key` (any version), newest first; with `element_id`,
    those with an open task of that element first."""
    with runtime.db.read() as session:
        rows = session.execute(
            select(Case.id, Case.number, ProcessVersion.version, Case.started_at)
            .join(ProcessVersion, ProcessVersion.id == Case.process_version_id)
            .where(Case.process_key == key, Case.status == CaseStatus.RUNNING)
            .order_by(Case.started_at.desc(), Case.id.desc())
            .limit(limit)
        ).all()
        at = set()
        if element_id is not None and rows:
            at = set(
                session.scalars(
                    select(Task.case_id).where(
                        Task.case_id.in_([r[0] for r in rows]),
                        Task.element_id == element_id,
                        Task.status.in_(ACTIVE_TASK),
                    )
                )
            )
    cases = [
        SampleCase(number, version, started, cid in at) for cid, number, version, started in rows
    ]
    return sorted(cases, key=lambda c: not c.at_element)  # (a stable sort: newest first stays)


def _field_sample(name: str, spec: Any) -> Any:
    if not isinstance(spec, dict):
        return f"[{name}]"
    for word in ("default", "const"):
        if word in spec:
            return spec[word]
    if spec.get("examples"):
        return spec["examples"][0]
    if spec.get("enum"):
        return spec["enum"][0]
    kind = spec.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind in ("integer", "number"):
        return spec.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return f"[{spec.get('title') or name}]"


def _start_sample(session: Session, row: ProcessVersion) -> dict[str, Any]:
    data = dict(row.defaults or {})
    portal = row.portal or {}
    form_id = portal.get("staff_start_form_id") or portal.get("start_form_id")
    form = session.get(Form, form_id) if form_id else None
    for name, spec in ((form.schema if form else {}).get("properties") or {}).items():
        data[name] = _field_sample(name, spec)
    return data


def sample_data(
    runtime: Any, key: str, case_number: str | None = None, element_id: str | None = None
) -> Sample:
    """The data to preview on: running case `case_number` of process `key` (NotFound for
    another process's or a finished case), as its open task `element_id` sees it when it has
    one; without a case the newest running one; without any, the start sample."""
    if case_number is None:
        running = sample_cases(runtime, key, element_id, limit=SAMPLE_CASES)
        case_number = running[0].number if running else None
    if case_number is None:
        with runtime.db.read() as session:
            data = _start_sample(session, process_version(session, key))
        return Sample("start" if data else "empty", data)
    case = runtime.get_case(case_number, history_limit=0)
    if case.process != key or case.status != CaseStatus.RUNNING:
        raise NotFound(
            f"{case_number} is not a running case of process {key!r}",
            reason="not_a_running_case_of",
            number=case_number,
            process=key,
        )
    task = next((t for t in case.open_tasks if t.element_id == element_id), None)
    data = runtime.task_data(task.id) if task is not None else dict(case.data)
    return Sample("case", data, case.number, task.id if task is not None else None)


# ----- rendering -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A template rendered for a preview: the text, or the error with its line (and that
    line of the template)."""

    text: str | None
    error: str | None = None
    line: int | None = None
    source_line: str | None = None


_LINE = re.compile(r"^line (\d+): ")


def render_preview(source: str, data: dict[str, Any], *, strict: bool) -> Rendered:
    """Render `source` with `data` in the bounded sandbox (engine.spiff.templating.render, an
    evaluator process), reporting a problem with the template's line where known."""
    try:
        return Rendered(templating.render(source, data, strict=strict, limit_s=PREVIEW_TIME_S))
    except templating.TemplateProblem as exc:
        message, line = str(exc), None
        if match := _LINE.match(message):
            line, message = int(match.group(1)), message[match.end() :]
        lines = source.splitlines()
        shown = lines[line - 1] if line and 0 < line <= len(lines) else None
        return Rendered(None, message, line, shown)
