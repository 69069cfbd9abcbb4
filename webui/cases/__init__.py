"""Supervisors' pages (the `cases` blueprint, under /cases): the blueprint, the roles that may
use it, the supervisor's questions on the app's runtime and the check of ids in its URLs.

The pages sit in the modules beside this one and register on `bp` when imported (below):
listing.py (every case with its filters, and the incidents), exports.py (the list as CSV or
Excel), heatmap.py (where a process version's running cases wait), page.py (the case page
with its diagram, timeline and data) and actions.py (message, reassign, cancel, retry).
"""

from __future__ import annotations

from flask import Blueprint, current_app, request

from engine import NotFound, Supervision

from ..auth import runtime
from ..openapi_schemas import MAX_ID

bp = Blueprint("cases", __name__, url_prefix="/cases")
SUPERVISOR = "supervisor"
PROCESS_OWNER = "process_owner"
STATUSES = ["running", "completed", "cancelled", "error"]


def supervision() -> Supervision:
    """The supervisor's questions on the app's runtime (engine.casework.supervision)."""
    return current_app.extensions.setdefault("caseflow_supervision", Supervision(runtime()))


@bp.before_request
def _no_absurd_task_ids() -> None:
    # Ids beyond what the database stores are unknown (SQLite cannot even bind them: a 500).
    for name in ("task_id", "version"):
        value = (request.view_args or {}).get(name)
        if value is not None and value > MAX_ID:
            kind = name.removesuffix("_id")
            if kind == "task":
                raise NotFound(f"no task {value}", reason="task_not_found", task=value)
            raise NotFound(f"no {kind} {value}", reason="process_version_not_found", id=value)


# The pages register their routes on bp.
from . import actions, exports, heatmap, listing, page  # noqa: E402, F401
