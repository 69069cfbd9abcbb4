"""Error pages: HTML for people, JSON under /api."""

from __future__ import annotations

from typing import Any

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from engine.errors import (
    CaseflowError,
    Conflict,
    Forbidden,
    InvalidState,
    NotFound,
    ValidationFailed,
)

STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, InvalidState: 409, ValidationFailed: 422}


def init_app(app: Any) -> None:
    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            return jsonify(
                error=exc.name.lower().replace(" ", "_"), message=exc.description
            ), exc.code
        return render_template(
            "errors/error.html", code=exc.code, title=_title(exc.code), message=None
        ), exc.code

    @app.errorhandler(CaseflowError)
    def engine_error(exc: CaseflowError) -> Any:
        code = next((c for cls, c in STATUS.items() if isinstance(exc, cls)), 400)
        if request.path.startswith("/api/"):
            body: dict[str, Any] = {"error": exc.code, "message": str(exc)}
            if isinstance(exc, ValidationFailed):
                body["errors"] = exc.errors
            return jsonify(body), code
        return render_template(
            "errors/error.html", code=code, title=_title(code), message=str(exc)
        ), code


def _title(code: int | None) -> str:
    return {
        400: _("Bad request"),
        401: _("Please sign in"),
        403: _("You do not have access to this page"),
        404: _("Not found"),
        405: _("Not allowed"),
        409: _("Someone else changed this first"),
        413: _("The upload is too large"),
        422: _("Please correct the form"),
    }.get(code or 500, _("Something went wrong"))
