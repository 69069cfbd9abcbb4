"""Error pages: HTML for people, JSON under /api.

Every error a request can cause is answered here: HTTP errors (404, 405, 413 for a body over
MAX_CONTENT_LENGTH, 400 for a missing or foreign CSRF token, 429), the engine's errors (404,
403, 409, 422) and, as a last resort, an unexpected exception (500, without its details).
Under /api/ the answer is JSON {"error": name, "message": text}, and for an engine error its
stable "reason" and "params" too (a client can say it in its own words); elsewhere an HTML page
that says the engine's error in the page's language (webui/engine_messages/ by its reason,
the English text for a reason without a sentence there).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import abort, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine import (
    CaseflowError,
    Conflict,
    Forbidden,
    InvalidState,
    NotFound,
    ValidationFailed,
)

from .messages import api_locale, error_summary, translate, translate_errors

STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, InvalidState: 409, ValidationFailed: 422}
# NUL (PostgreSQL text cannot hold it) and unpaired surrogates (no database driver can encode
# them): text carrying them would be a server error where it reaches the database.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def unstorable(value: Any) -> bool:
    """Whether a string, or any key or string inside a JSON value, has unstorable characters."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def refuse_unstorable_text() -> None:
    """400 for a request whose address, query or body carries unstorable characters. The
    API checks its own requests (webui/api.py), after the token and under its size limit."""
    if request.path.startswith("/api/"):
        return
    if unstorable(request.path) or unstorable(list(request.args.items(multi=True))):
        abort(400, description=_("The request contains characters that cannot be stored."))
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if request.mimetype in FORM_TYPES:
        fields = list(request.form.items(multi=True))
    elif request.is_json:
        try:
            fields = json.loads(request.get_data(cache=True))
        except (ValueError, RecursionError):
            return  # the view answers that the body is not JSON
    else:
        return
    if unstorable(fields):
        abort(400, description=_("The request contains characters that cannot be stored."))


def json_params(params: dict[str, Any]) -> dict[str, Any]:
    """An error's params as JSON values: times in ISO 8601, lists as lists, the rest as text."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, list | tuple | set | frozenset):
            return [plain(v) for v in value]
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, Decimal):
            return str(value)
        return str(value)

    return {str(k): plain(v) for k, v in (params or {}).items()}


def init_app(app: Any) -> None:
    app.before_request(refuse_unstorable_text)
    # The box of a form's errors above it, each with its field's title (macros/forms.html).
    app.add_template_global(error_summary)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        # Keep what the error says in its headers (Allow on 405, Retry-After on 429, …).
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        if request.path.startswith("/api/"):
            body = jsonify(error=exc.name.lower().replace(" ", "_"), message=exc.description)
            return body, exc.code, headers
        page = render_template(
            "errors/error.html", code=exc.code, title=_title(exc.code), message=_detail(exc)
        )
        return page, exc.code, headers

    @app.errorhandler(CaseflowError)
    def engine_error(exc: CaseflowError) -> Any:
        code = next((c for cls, c in STATUS.items() if isinstance(exc, cls)), 400)
        if request.path.startswith("/api/"):
            body: dict[str, Any] = {"error": exc.code, "message": str(exc)}
            if exc.reason:  # the particular case, for clients that say it in their words
                body["reason"] = exc.reason
                body["params"] = json_params(exc.params)
            if isinstance(exc, ValidationFailed):  # field messages in the client's language
                body["errors"] = translate_errors(exc.errors, api_locale())
            return jsonify(body), code
        return render_template(
            "errors/error.html", code=code, title=_title(code), message=translate(exc)
        ), code


def _detail(exc: HTTPException) -> str | None:
    """What the page says under its title: our own explanation (views write theirs with
    abort(400, description=_(...))), never werkzeug's stock English sentences."""
    if isinstance(exc, CSRFError):
        return _(
            "The form has expired or did not come from this site. Reload the page and try again."
        )
    if exc.description and exc.description != type(exc).description:
        return exc.description
    return None


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
        429: _("Too many attempts. Please wait a few minutes."),
    }.get(code or 500, _("Something went wrong"))
