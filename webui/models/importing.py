"""Importing a diagram drawn in another tool (Camunda Modeler, SpiffArena, Signavio …): the
owner uploads a .bpmn file or pastes its XML, and the modeler opens with it, laid out when the
file has no diagram layout, and with every problem deploy would find already marked. Nothing is
stored: the owner fixes the diagram in the modeler and deploys it from there.

A file that cannot be opened at all (empty, over the size limit, not XML, with DOCTYPE or
ENTITY declarations, not BPMN 2.0) goes back to the import page with the reason and status 400.
Those checks are the engine's own, made through `check_diagram` like a deploy makes them."""

from __future__ import annotations

import re
from typing import Any

from flask import render_template, request
from flask_babel import gettext as _

from engine import check_diagram, process_keys_in

from ..auth import desk, role_required, runtime
from . import PROCESS_OWNER, bp
from .diagrams import BPMN_FILENAME, problems_json, with_layout
from .modeler import modeler_page

SAFE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,120}$")
DEFAULT_FILENAME = "imported.bpmn"


@bp.get("/import")
@role_required(PROCESS_OWNER)
def import_form() -> Any:
    return _import_page()


@bp.post("/import")
@role_required(PROCESS_OWNER)
def import_diagram() -> Any:
    limit = runtime().settings.max_definition_bytes
    # A pasted diagram arrives as a form field; let one somewhat over the limit through so the
    # answer is the limit below rather than a bare "too large".
    request.max_form_memory_size = 2 * limit + 65_536
    upload = request.files.get("file")
    pasted = request.form.get("xml") or ""
    if upload is not None and upload.filename:
        data = upload.read(limit + 1)
        filename = _filename(upload.filename)
    else:
        data = pasted.encode("utf-8")
        filename = ""
    if not data.strip():
        return _refuse(_("Choose a .bpmn file or paste the diagram's XML."), pasted)
    if len(data) > limit:
        message = _("The file is larger than the limit of %(limit)s bytes.", limit=f"{limit:,}")
        return _refuse(message, "")
    try:
        xml = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _refuse(_("The file is not UTF-8 text."), "")

    probe = filename or DEFAULT_FILENAME
    unreadable = _unreadable(check_diagram(runtime(), probe, xml), probe)
    if unreadable is not None:
        return _refuse(
            _("This file cannot be opened: %(reason)s", reason=unreadable.message),
            pasted if not filename else "",
        )

    keys = process_keys_in(xml)
    deployed = {p.key: p for p in desk().list_processes()}
    if not filename:
        first = next((k for k in keys if SAFE_ID.match(k)), None)
        known = deployed.get(first) if first else None
        filename = (known.latest.filename if known else None) or (
            f"{first}.bpmn" if first else DEFAULT_FILENAME
        )
        if not BPMN_FILENAME.match(filename):
            filename = DEFAULT_FILENAME

    xml, laid_out = with_layout(xml)
    problems = problems_json(check_diagram(runtime(), filename, xml), filename)
    notes = [
        _(
            "Process %(key)s is already deployed (newest version %(version)s): deploying this "
            "diagram makes it a new version of that process.",
            key=key,
            version=deployed[key].latest.version,
        )
        for key in keys
        if key in deployed
    ]
    key = keys[0] if keys else None
    return modeler_page(
        xml, filename, key, laid_out=laid_out, imported=True, problems=problems, notes=notes
    )


def _import_page(error: str | None = None, pasted: str = "", status: int = 200) -> Any:
    limit = runtime().settings.max_definition_bytes
    return (
        render_template("models/import.html", error=error, pasted=pasted, limit=limit),
        status,
    )


def _refuse(message: str, pasted: str) -> Any:
    """The import page again with the reason; nothing was stored."""
    return _import_page(message, pasted, 400)


def _filename(raw: str) -> str:
    """The uploaded file's own name when it is one the modeler can deploy under (else the
    name comes from the process id)."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name.lower().endswith(".bpmn20.xml"):
        name = name[: -len(".bpmn20.xml")] + ".bpmn"
    return name if BPMN_FILENAME.match(name) else ""


def _unreadable(problems: list[Any], filename: str) -> Any:
    """The problem that keeps the file from being opened, or None.

    The engine reads a file (size, DOCTYPE/ENTITY, well-formed XML, a bpmn:definitions root
    with a process) before it checks anything inside: when reading fails, that one problem,
    about the whole file, is all it reports on the file. A file it could read has its problems
    on its elements, or none, or more than one."""
    own = [p for p in problems if p.file == filename]
    if len(own) == 1 and own[0].element_id is None:
        return own[0]
    return None
