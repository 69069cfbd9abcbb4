"""The form editor: the deployed forms, editing one (or a new one) as JSON Schema with a live
preview of the fields it asks for, and deploying it."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine import DefinitionError, FormError, SourceFile, form_fields, load_form_schema

from ..auth import desk, role_required, runtime
from . import PROCESS_OWNER, bp

FORM_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,150}\.json$")
NEW_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "新表單",
    "type": "object",
    "required": ["note"],
    "properties": {"note": {"type": "string", "title": "備註", "maxLength": 500}},
}


@bp.get("/forms")
@role_required(PROCESS_OWNER)
def forms() -> Any:
    return render_template("models/forms.html", forms=desk().deployed_forms())


def _preview(name: str, text: str) -> dict[str, Any]:
    try:
        schema = load_form_schema(text, name or "form.json")
    except FormError as exc:
        return {"error": str(exc), "schema": None, "fields": []}
    return {"error": None, "schema": schema, "fields": form_fields(schema)}


def _form_page(name: str, text: str, new: bool, status: int = 200, **extra: Any) -> Any:
    form = desk().deployed_forms().get(name)
    return (
        render_template(
            "models/form_edit.html",
            name=name,
            text=text,
            new=new,
            form=form,
            users=desk().form_users(name) if form else [],
            preview=_preview(name, text),
            **extra,
        ),
        status,
    )


@bp.get("/forms/new")
@role_required(PROCESS_OWNER)
def form_new() -> Any:
    return _form_page("", json.dumps(NEW_FORM, ensure_ascii=False, indent=2), new=True)


@bp.get("/forms/<name>")
@role_required(PROCESS_OWNER)
def form_edit(name: str) -> Any:
    return _form_page(name, desk().form_text(name), new=False)


@bp.post("/forms/preview")
@role_required(PROCESS_OWNER)
def form_preview() -> Any:
    name = (request.form.get("name") or "").strip()
    text = request.form.get("text") or ""
    if request.headers.get("X-Preview") == "fragment":
        return render_template("models/_form_preview.html", preview=_preview(name, text))
    return _form_page(name, text, new=request.form.get("new") == "1")


@bp.post("/forms/deploy")
@role_required(PROCESS_OWNER)
def form_deploy() -> Any:
    name = (request.form.get("name") or "").strip()
    text = request.form.get("text") or ""
    is_new = request.form.get("new") == "1"
    if not FORM_FILENAME.match(name):
        error = _("The form's file name must end in .json and use letters and digits.")
        return _form_page(name, text, new=is_new, status=422, problems=[error])
    if is_new and name in desk().deployed_forms():
        error = _("A form with this name exists already; edit it instead.")
        return _form_page(name, text, new=is_new, status=422, problems=[error])
    try:
        results = runtime().deploy(
            [SourceFile(name, text.encode("utf-8"))], actor=current_user.name
        )
    except DefinitionError as exc:
        return _form_page(
            name, text, new=is_new, status=422, problems=[p.message for p in exc.problems]
        )
    result = results[0]
    if result.changed:
        flash(
            _("Form %(name)s deployed as version %(version)d.", name=name, version=result.version)
        )
        # The processes that use it got a new version with it (engine.definitions.deploy).
        followed = [r for r in results if r.kind == "process" and r.forms_changed]
        if followed:
            flash(
                _(
                    "New versions of the processes that use it: %(versions)s. New cases get "
                    "this form; running cases keep the version they started with.",
                    versions=", ".join(f"{r.key} v{r.version}" for r in followed),
                )
            )
    else:
        flash(
            _(
                "Nothing changed: version %(version)d already has this content.",
                version=result.version,
            )
        )
    return redirect(url_for("models.form_edit", name=name))
