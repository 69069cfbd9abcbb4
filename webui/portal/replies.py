"""The page behind a link in a customer's message (engine.casework.links): the form of the
message the case waits for, its answer sent to the case as that message, and what the
customer reads when the link does not open."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from engine import ValidationFailed, coerce_form_data, form_fields, links

from ..auth import runtime
from ..portal_text import portal_errors
from . import bp
from .lookups import link_limiter
from .pickers import link_earliest

# A link that does not open: what the customer reads, and the status.
LINK_REFUSED = {"invalid": 404, "expired": 410, "used": 409, "not_waiting": 409}


def _link_refused(reason: str) -> Any:
    status = LINK_REFUSED.get(reason, 404) if reason != "too_many" else 429
    return render_template("portal/reply_refused.html", reason=reason), status


@bp.route("/reply/<message>/<token>", methods=["GET", "POST"])
def reply(message: str, token: str) -> Any:
    """The page behind a link in a customer's message: the form of the message the case waits
    for; its answer is sent to the case as that message. The link is the only key: every
    opening counts against the address's limit, like a booking lookup."""
    if not link_limiter().allow(request.remote_addr or "?"):
        return _link_refused("too_many")
    rt = runtime()
    try:
        page = links.open_link(rt, message, token)
    except links.LinkRefused as exc:
        return _link_refused(exc.reason or "invalid")
    values: dict[str, Any] = page.values
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = coerce_form_data(page.schema, request.form)
        try:
            links.answer(rt, message, token, values, schema=page.schema)
        except links.LinkRefused as exc:
            return _link_refused(exc.reason or "invalid")
        except ValidationFailed as exc:
            errors = portal_errors(exc.errors)
        else:
            return render_template("portal/reply_done.html", page=page)
    return render_template(
        "portal/reply.html",
        page=page,
        fields=form_fields(page.schema),
        values=values,
        errors=errors,
        mins=link_earliest(page, values),
    ), (422 if errors else 200)
