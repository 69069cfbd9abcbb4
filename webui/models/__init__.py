"""Process owners' pages (the `models` blueprint, under /models): the blueprint, the role that may
use it and the check of version numbers in its URLs.

The pages sit in the modules beside this one and register on `bp` when imported (below):
processes.py (processes, versions, comparison, moving running cases), modeler.py (the bpmn-js
modeler: edit, new, validate, deploy), importing.py (a diagram from another tool, uploaded or
pasted, opened in the modeler with its problems marked), diagrams.py (what the modeler's
requests and the pages need of a diagram), form_editor.py (the form editor and its preview) and
decisions.py (the dmn-js decision table editor: edit, check, deploy).
"""

from __future__ import annotations

from flask import Blueprint, abort, request

bp = Blueprint("models", __name__, url_prefix="/models")
PROCESS_OWNER = "process_owner"

MAX_VERSION = 2**31 - 1  # the version column is a 32-bit integer on PostgreSQL


def checked_version(value: int | None) -> int | None:
    """A version number from a form or query, or 404 for one no database could hold."""
    if value is not None and not 1 <= value <= MAX_VERSION:
        abort(404)
    return value


@bp.before_request
def _check_version_in_path() -> None:
    checked_version((request.view_args or {}).get("version"))


# The pages register their routes on bp.
from . import (  # noqa: E402, F401
    decisions,
    dryrun,
    form_editor,
    importing,
    modeler,
    processes,
    templates_pages,
)
