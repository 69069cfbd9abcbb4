"""What the process owners' pages need of a diagram: a layout drawn for files deployed without
one, the diagram the modeler posts (file name and XML, checked), and the engine's problems as the
JSON the modeler's script marks on the elements."""

from __future__ import annotations

import re
from typing import Any

from flask import jsonify, request
from flask_babel import gettext as _

BPMN_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,150}\.bpmn$")


def with_layout(xml: str) -> tuple[str, bool]:
    """Files deployed without a diagram layout (BPMN DI) get one drawn, when the layout tool
    is installed beside the app, so the modeler has something to show."""
    if "BPMNShape" in xml:
        return xml, False
    try:
        from engine import layout
    except ImportError:
        return xml, False
    try:
        return layout(xml.encode("utf-8")).decode("utf-8"), True
    except Exception:  # noqa: BLE001 - without a layout the page says so
        return xml, False


def diagram_request() -> tuple[str, str, Any]:
    """(filename, xml, None) from the JSON body, or ("", "", an error answer)."""
    body = request.get_json(silent=True) or {}
    filename, xml = body.get("filename"), body.get("xml")
    message = None
    if not isinstance(filename, str) or not BPMN_FILENAME.match(filename):
        message = _("The file name must end in .bpmn and use letters and digits.")
    elif not isinstance(xml, str) or not xml.strip():
        message = _("The diagram is empty.")
    if message:
        error = {"element_id": None, "file": filename, "message": message}
        return "", "", (jsonify(ok=False, problems=[error]), 400)
    return filename, xml, None


def problems_json(problems: list[Any], filename: str) -> list[dict[str, Any]]:
    """The problems for the modeler: each with its element (in the edited file) and the field
    of the element's properties it belongs to, where the engine knows it."""
    return [
        {
            "element_id": p.element_id if p.file == filename else None,
            "file": p.file,
            "message": p.message,
            "field": p.field if p.file == filename else None,
        }
        for p in problems
    ]
