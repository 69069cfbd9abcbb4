"""Staff: find a customer or a case by phone, name or case number (the search box in the
header), with the customer's cases. What a user may find, and the record of who saw whose
details, are the engine's (engine.staff.find_customers)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from engine import staff

from .auth import runtime

bp = Blueprint("search", __name__)


@bp.get("/search")
@login_required
def index() -> Any:
    text = (request.args.get("q") or "").strip()[:100]
    found = staff.find_customers(runtime(), current_user.name, text) if text else None
    return render_template("search/index.html", text=text, found=found)
