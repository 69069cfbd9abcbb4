"""Staff: the inbox of my roles' tasks (filters, search, paging, counts: engine.staff.inbox),
claim/unclaim, the task page with its form."""

from __future__ import annotations

import functools
import io
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import (
    EXTRAS_DROP,
    Conflict,
    InboxFilter,
    NotFound,
    ValidationFailed,
    attachments,
    coerce_form_data,
    form_fields,
    prefilled_values,
    staff,
    templating,
    undeclared_posted,
    with_case_limits,
)

from .auth import _safe_next, desk, runtime
from .messages import translate, translate_errors
from .openapi_schemas import MAX_ID

bp = Blueprint("tasks", __name__)

# Rendered as plain text: the page escapes the result once, so neither the data nor what the
# process owner wrote around it becomes HTML (escaping here too would show "&lt;" to people).


@bp.before_request
def _no_absurd_ids() -> None:
    # Ids beyond what the database stores are unknown (SQLite cannot even bind them: a 500).
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and value > MAX_ID:
            kind = name.removesuffix("_id")
            params = {"task": value} if kind == "task" else {"id": value}
            raise NotFound(f"no {kind} {value}", reason=f"{kind}_not_found", **params)


def attachment_list(case_number: str) -> list[Any]:
    return desk().attachments_for_case(case_number)


INSTRUCTIONS_TIME_S = 1.0


def render_instructions(template: str | None, data: dict[str, Any]) -> str | None:
    """Instructions are written by process owners: rendered in a sandbox as text (the page
    template escapes it). A template that fails on this data (an error, a blocked attribute, a
    range too large) is reported in place of the instructions, not as a server error."""
    if not template:
        return None
    try:
        return templating.render(template, data, limit_s=INSTRUCTIONS_TIME_S)
    except templating.TemplateProblem as exc:
        return _("(Instructions could not be shown: %(reason)s)", reason=str(exc))


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and 0 < len(text) < 7 else 1


@bp.get("/tasks")
@login_required
def inbox() -> Any:
    args = request.args
    flt = InboxFilter(
        process=args.get("process") or None,
        role=args.get("role") or None,
        due=args.get("due") or None,
        status=args.get("status") or None,
        search=(args.get("q") or "")[:100] or None,
    )
    number = _page_number(args.get("page"))
    size = staff.INBOX_PAGE_SIZE
    page = staff.inbox(runtime(), current_user.name, flt, offset=(number - 1) * size, limit=size)
    # The filters as the engine applied them (it drops what does not apply: a role not held).
    applied = page.applied
    query = {
        k: v
        for k, v in (
            ("process", applied.process),
            ("role", applied.role),
            ("due", applied.due),
            ("status", applied.status),
            ("q", applied.search),
        )
        if v
    }

    def inbox_url(**changes: Any) -> str:
        """This inbox with some filters changed (None drops one); back to the first page
        unless `page` is given."""
        merged = {**query, **changes}
        return url_for("tasks.inbox", **{k: v for k, v in merged.items() if v})

    last = max(1, -(-page.total // size))
    if number > last:  # past the end (the list got shorter meanwhile): its last page
        return redirect(inbox_url(page=last if last > 1 else None))
    return render_template(
        "tasks/inbox.html",
        page=page,
        query=query,
        inbox_url=inbox_url,
        number=page.offset // size + 1,
        pages=f"{last}{'+' if 'total' in page.capped else ''}",
        processes=staff.process_names(runtime()),
        due_choices=[
            ("overdue", _("Overdue")),
            ("today", _("Due today")),
            ("week", _("Due this week")),
        ],
        status_choices=[("open", _("Open to my roles")), ("claimed", _("Claimed by me"))],
    )


@bp.post("/tasks/<int:task_id>/claim")
@login_required
def claim(task_id: int) -> Any:
    runtime().claim(task_id, current_user.name)
    flash(_("Task claimed."))
    target = request.form.get("next")
    return redirect(_safe_next(target) if target else url_for("tasks.task", task_id=task_id))


@bp.post("/tasks/<int:task_id>/unclaim")
@login_required
def unclaim(task_id: int) -> Any:
    runtime().unclaim(task_id, current_user.name)
    flash(_("Task returned to the team."))
    return redirect(url_for("tasks.inbox"))


def _page(
    task_id: int,
    values: dict[str, Any] | None = None,
    errors: dict | None = None,
    status: int = 200,
    conflict: str | None = None,
) -> Any:
    task = runtime().get_task(task_id, user=current_user.name)
    case = runtime().get_case(task.case_number, history_limit=20)
    desk().record_view(current_user.name, task.case_number, f"task_page:{task_id}")
    # Someone else holds it: said at the top, and the form cannot be filled in meanwhile.
    refusal = runtime().task_refusal(task_id, current_user.name)
    claimed_by = (
        refusal.params.get("user")
        if refusal is not None and refusal.code == "claimed_by_other"
        else None
    )
    context = runtime().task_data(task_id)
    # The options a field takes from the case ("x-choices") are shown as its choices.
    schema = with_case_limits(task.form or {}, context)
    if values is None:
        # A done task shows what was submitted; an open form starts only with the fields it
        # marks "x-prefill" (e.g. a customer's online request), never with another task's
        # answer that shares a field's name.
        values = task.data or prefilled_values(schema, context)
    return (
        render_template(
            "tasks/task.html",
            task=task,
            case=case,
            schema=schema,
            fields=form_fields(schema),
            values=values,
            errors=translate_errors(errors),
            instructions=render_instructions(task.instructions, context),
            attachments=attachment_list(task.case_number),
            conflict=conflict,
            claimed_by=claimed_by,
            claimed_notice=translate(refusal) if claimed_by else None,
        ),
        status,
    )


@bp.get("/tasks/<int:task_id>")
@login_required
def task(task_id: int) -> Any:
    return _page(task_id)


@bp.post("/tasks/<int:task_id>")
@login_required
def complete(task_id: int) -> Any:
    """One call: the engine checks the data and the files together, stores the files and
    completes the task in one step, or changes nothing and says why."""
    task = runtime().get_task(task_id, user=current_user.name)
    schema = task.form or {}
    files = {
        key[: -len("__file")]: (upload.filename, upload.read(attachments.MAX_BYTES + 1))
        for key, upload in request.files.items()
        if key.endswith("__file") and upload and upload.filename
    }
    form = request.form.copy()
    for field in files:
        form[field] = "att-0"  # the form's field for the file, while the data is coerced
    data = {k: v for k, v in coerce_form_data(schema, form).items() if k not in files}
    shown = dict(data)
    # A field the form does not have (hand-made; the browser sends only the form's own) goes
    # to the engine too, which drops it and notes it in the case's history.
    extra = undeclared_posted(schema, request.form)
    extra.pop("csrf_token", None)
    try:
        case = runtime().complete_task(
            task_id,
            {**extra, **data},
            current_user.name,
            extras=EXTRAS_DROP,
            files=files,
        )
    except ValidationFailed as exc:
        return _page(task_id, values=shown, errors=exc.errors, status=422)
    except Conflict as exc:
        refusal = runtime().task_refusal(task_id, current_user.name)
        message = translate(refusal if refusal is not None else exc)
        return _page(task_id, values=shown, status=409, conflict=message)
    flash(
        _(
            "Task completed. Case %(number)s is now %(status)s.",
            number=case.number,
            status=_status(case.status),
        )
    )
    return redirect(url_for("tasks.inbox"))


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int) -> Any:
    from flask import send_file

    info, data = desk().read_attachment(attachment_id, current_user.name)
    desk().record_view(current_user.name, info.case_number, f"attachment:{attachment_id}")
    response = send_file(
        io.BytesIO(data),
        mimetype=info.content_type,
        as_attachment=True,
        download_name=info.filename,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _status(value: str) -> str:
    return _status_words(str(get_locale())).get(value, value)


@functools.cache
def _status_words(locale: str) -> dict[str, str]:
    # Once per language: a page lists hundreds of statuses, and each gettext costs ~35 µs.
    return {
        "running": _("running"),
        "completed": _("completed"),
        "cancelled": _("cancelled"),
        "error": _("in error"),
        "open": _("open"),
        "claimed": _("claimed"),
        "done": _("done"),
    }


@bp.app_template_filter("status")
def status_filter(value: str) -> str:
    return _status(value)
