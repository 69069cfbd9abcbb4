"""The wording editors of a process: its message templates (SMS and e-mail) and the instructions
of its user tasks, each with a live preview rendered by the engine on one of the process's
running cases, and deployed as a new version of the process.

Looking at a preview on a real case shows that case's customer data: it is recorded like any
other view of a case (once per case and signed-in session, not on every keystroke)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import (
    DefinitionError,
    NotFound,
    deploy_instructions,
    deploy_template,
    message_template,
    preview_instructions,
    preview_template,
    sample_cases,
    sample_data,
    task_instruction,
    version_message_templates,
)

from ..auth import desk, role_required, runtime
from . import PROCESS_OWNER, bp, checked_version

CASE_NUMBER = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MAX_TEXT = 20_000  # characters of a template or of instructions
_SEEN = "wording_preview_cases"  # the cases whose data this session was shown a preview on


def _text() -> str:
    # Browsers send a textarea's line breaks as CRLF; the stored files use LF.
    return (request.form.get("text") or "").replace("\r\n", "\n").replace("\r", "\n")


def _chosen_case() -> str | None:
    """The case number the preview is asked to render on; anything that cannot be one (too
    long, odd characters) is no choice: the newest running case is used."""
    number = (request.values.get("case") or "").strip()
    return number if CASE_NUMBER.match(number) else None


def _sample(key: str, what: str, element_id: str | None = None) -> Any:
    """The sample the preview renders on (the chosen running case, else the newest), with the
    view of that case's data recorded once per session."""
    try:
        sample = sample_data(runtime(), key, _chosen_case(), element_id)
    except NotFound:  # a case that ended (or of another process) since the page was opened
        sample = sample_data(runtime(), key, None, element_id)
    number = sample.case_number
    if number is not None:
        seen = session.get(_SEEN) or []
        if number not in seen:
            desk().record_view(current_user.name, number, what)
            session[_SEEN] = [*seen[-49:], number]
    return sample


def _too_long(text: str) -> list[str]:
    if len(text) > MAX_TEXT:
        return [_("The text is longer than %(count)d characters.", count=MAX_TEXT)]
    return []


# ----- message templates --------------------------------------------------------------------


def _template_page(
    key: str, name: str, text: str, status: int = 200, problems: list[str] | None = None
) -> Any:
    process = desk().get_process(key)
    template = message_template(runtime(), key, name)
    sample = _sample(key, f"template_preview:{name}")
    preview = preview_template(runtime(), key, name, text[:MAX_TEXT], sample)
    fragment = request.headers.get("X-Preview") == "fragment"
    page = "models/_template_preview.html" if fragment else "models/template_edit.html"
    return (
        render_template(
            page,
            process=process,
            template=template,
            text=text,
            preview=preview,
            cases=sample_cases(runtime(), key),
            problems=problems or [],
        ),
        status,
    )


@bp.get("/<key>/templates/<name>")
@role_required(PROCESS_OWNER)
def template_edit(key: str, name: str) -> Any:
    """The newest version's text, or (`from`=N) the text version N kept, to bring it back."""
    start = checked_version(request.args.get("from", type=int))
    if start is None:
        return _template_page(key, name, message_template(runtime(), key, name).text)
    kept = {t.name: t.text for t in version_message_templates(runtime(), key, start)}
    if name not in kept:
        raise NotFound(f"version {start} of process {key!r} keeps no message template {name!r}")
    return _template_page(key, name, kept[name])


@bp.post("/<key>/templates/<name>/preview")
@role_required(PROCESS_OWNER)
def template_preview(key: str, name: str) -> Any:
    text = _text()
    return _template_page(key, name, text, problems=_too_long(text))


def _deploy_text(
    page: Callable[..., Any], deploy: Callable[..., Any], edit: Callable[[], str]
) -> Any:
    """The posted text deployed: too long or refused → the editor again (422) with the
    problems; deployed → the versions made, and back to the editor (`edit()`: its address)."""
    text = _text()
    if problems := _too_long(text):
        return page(text, 422, problems)
    try:
        results = deploy(text, actor=current_user.name)
    except DefinitionError as exc:
        return page(text, 422, [p.message for p in exc.problems])
    _flash_deployed(results)
    return redirect(edit())


@bp.post("/<key>/templates/<name>/deploy")
@role_required(PROCESS_OWNER)
def template_deploy(key: str, name: str) -> Any:
    return _deploy_text(
        lambda *a: _template_page(key, name, *a),
        lambda text, **kw: deploy_template(runtime(), key, name, text, **kw),
        lambda: url_for("models.template_edit", key=key, name=name, case=_chosen_case()),
    )


def _flash_deployed(results: list[Any]) -> None:
    made = [r for r in results if r.changed]
    if not made:
        flash(_("Nothing changed: the newest version already has this text."))
        return
    flash(
        _(
            "Deployed as new versions: %(versions)s. New cases get the new text; running cases "
            "keep the wording of the version they started with.",
            versions=", ".join(f"{r.key} v{r.version}" for r in made),
        )
    )


# ----- task instructions --------------------------------------------------------------------


def _instructions_page(
    key: str, element_id: str, text: str, status: int = 200, problems: list[str] | None = None
) -> Any:
    process = desk().get_process(key)
    task = task_instruction(runtime(), key, element_id)
    sample = _sample(key, f"instructions_preview:{element_id}", element_id)
    preview = preview_instructions(text[:MAX_TEXT], sample)
    fragment = request.headers.get("X-Preview") == "fragment"
    page = "models/_instructions_preview.html" if fragment else "models/instructions_edit.html"
    return (
        render_template(
            page,
            process=process,
            task=task,
            text=text,
            preview=preview,
            sample=sample,
            cases=sample_cases(runtime(), key, element_id),
            problems=problems or [],
        ),
        status,
    )


@bp.get("/<key>/instructions/<element_id>")
@role_required(PROCESS_OWNER)
def instructions_edit(key: str, element_id: str) -> Any:
    task = task_instruction(runtime(), key, element_id)
    return _instructions_page(key, element_id, task.text or "")


@bp.post("/<key>/instructions/<element_id>/preview")
@role_required(PROCESS_OWNER)
def instructions_preview(key: str, element_id: str) -> Any:
    text = _text()
    return _instructions_page(key, element_id, text, problems=_too_long(text))


@bp.post("/<key>/instructions/<element_id>/deploy")
@role_required(PROCESS_OWNER)
def instructions_deploy(key: str, element_id: str) -> Any:
    return _deploy_text(
        lambda *a: _instructions_page(key, element_id, *a),
        lambda text, **kw: deploy_instructions(runtime(), key, element_id, text, **kw),
        lambda: url_for(
            "models.instructions_edit", key=key, element_id=element_id, case=_chosen_case()
        ),
    )
