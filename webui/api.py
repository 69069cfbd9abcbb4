"""JSON API for other systems: start cases, read them, work the caller's tasks.

Clients authenticate with `Authorization: Bearer <token>` (tokens from `engine.identity.tokens`, issued
on the command line). The API never looks at the session cookie, so a browser that is signed in
to the staff pages cannot be made to call it from another site; that is why it is exempt from
CSRF. Each request costs one token lookup plus the engine verb it calls.

A user may start a case of a process whose start roles include one of theirs (the process's
`startRoles`, by default the role of its first user task and supervisors; engine.definitions.starting), with
only the fields of its start form; a task is completed with only the fields of its form (other
keys are refused, 422, naming them). Who works each step is decided by the diagram's lanes. A
case can be read by supervisors and by holders of a role of one of its tasks.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request, url_for
from werkzeug.exceptions import BadRequest

from engine import RECENT_HISTORY, Forbidden, NotFound, UserInfo, staff

from . import csrf
from .auth import desk, runtime
from .errors import unstorable
from .openapi import MAX_IDEMPOTENCY_KEY, document
from .openapi_schemas import (
    DEFAULT_LIMIT,
    INBOX_STATUSES,
    MAX_BODY,
    MAX_DEPTH,
    MAX_ID,
    MAX_LIMIT,
    MAX_PROCESS_KEY,
)

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)

SUPERVISOR = "supervisor"
PUBLIC_ENDPOINTS = frozenset({"api.openapi"})
NO_DUE = datetime.min.replace(tzinfo=UTC)
IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{MAX_IDEMPOTENCY_KEY}}}")


def body_digest(value: Any) -> str:
    """What a request asked, as a digest: the same body always gives the same one."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# ----- authentication ----------------------------------------------------------------------


@bp.before_request
def authenticate() -> Any:
    app_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    limit = current_app.config.get("API_MAX_CONTENT_LENGTH", MAX_BODY)
    request.max_content_length = min(limit, app_limit) if app_limit else limit
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _unauthorized("send an API token as 'Authorization: Bearer <token>'")
    user = desk().user_for_token(token)
    if user is None:
        return _unauthorized(
            "the API token is unknown or revoked, or its user is inactive", "invalid_token"
        )
    g.api_user = user
    if unstorable(list(request.args.items(multi=True))):
        raise BadRequest(f"query parameters must not contain {UNSTORABLE_CHARACTERS}")
    return None


def _unauthorized(message: str, error: str | None = None) -> Any:
    challenge = 'Bearer realm="caseflow"' + (f', error="{error}"' if error else "")
    response = jsonify(error="unauthorized", message=message)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = challenge
    return response


@bp.after_request
def no_store(response: Any) -> Any:
    # Case data holds customers' personal data: no shared or browser cache keeps it.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


UNSTORABLE_CHARACTERS = (
    "NUL or unpaired surrogate characters (\\u0000, \\ud800-\\udfff): they cannot be stored"
)


def caller() -> UserInfo:
    return g.api_user


# ----- request parsing ---------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large a number")
    return value


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def json_body(required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, Any]:
    """The request body as a JSON object with only the given fields (400 otherwise)."""
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise BadRequest("the request body must be a JSON object")
    try:
        body = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise BadRequest(f"the request body is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    if _too_deep(body, MAX_DEPTH):
        raise BadRequest(f"the request body is nested more than {MAX_DEPTH} levels deep")
    if unstorable(body):
        raise BadRequest(f"the request body must not contain {UNSTORABLE_CHARACTERS}")
    known = required + optional
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise BadRequest(f"unknown field(s) {', '.join(unknown)}; expected: {', '.join(known)}")
    missing = [name for name in required if name not in body]
    if missing:
        raise BadRequest(f"missing field(s): {', '.join(missing)}")
    if "data" in body and not isinstance(body["data"], dict):
        raise BadRequest("'data' must be a JSON object (field name → value)")
    return body


def _task_id(task_id: int) -> int:
    if task_id > MAX_ID:
        raise NotFound(f"no task {task_id}")
    return task_id


# ----- cases -------------------------------------------------------------------------------


@bp.post("/cases")
def start_case() -> Any:
    body = json_body(required=("process",), optional=("data",))
    process = body["process"]
    if not isinstance(process, str) or not 1 <= len(process) <= MAX_PROCESS_KEY:
        raise BadRequest("'process' must be the key of a deployed process (a short string)")
    data = body.get("data") or {}
    actor = caller().name
    request_key = request_digest = None
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None:
        if not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise BadRequest(
                f"the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII"
                " characters"
            )
        # Per user: one client's key never finds another's case.
        request_key = f"api:{actor}:{idempotency_key}"
        request_digest = body_digest({"process": process, "data": data})
    case = runtime().start_case(
        process,
        data,
        actor=actor,
        check_roles=True,
        request_key=request_key,
        request_digest=request_digest or "",
    )
    response = jsonify(case.to_dict())
    response.status_code = 200 if case.repeated else 201
    response.headers["Location"] = url_for("api.get_case", number=case.number)
    return response


@bp.get("/cases/<number>")
def get_case(number: str) -> Any:
    if unstorable(number):  # no case number has them (and a database could not look it up)
        raise NotFound(f"no case numbered {number!r}")
    user = caller()
    if not _may_see_case(user, number):
        # Unknown numbers are 404, others' cases 403; nothing of the case is in the answer.
        if not runtime().list_tasks(case=number, limit=1):
            runtime().get_case(number, history_limit=0)  # raises NotFound for an unknown case
        raise Forbidden(
            f"case {number} is not one your roles may see; only supervisors see every case"
        )
    found = runtime().get_case(number, history_limit=RECENT_HISTORY)
    desk().record_view(user.name, number, "api_case")
    return jsonify(found.to_dict())


def _may_see_case(user: UserInfo, number: str) -> bool:
    """The rule of the customer search (engine.core.rules.case_scope): the API shows the
    cases the user may find on the pages, no more."""
    return staff.may_find(runtime(), user.name, number)


# ----- tasks -------------------------------------------------------------------------------


@bp.get("/tasks")
def list_tasks() -> Any:
    """The caller's inbox (open tasks of their roles, tasks they claimed), narrowed by filters."""
    user = caller()
    status = request.args.get("status") or None
    if status is not None and status not in INBOX_STATUSES:
        raise BadRequest("status must be 'open' or 'claimed' (this lists your inbox)")
    role = request.args.get("role") or None
    case = request.args.get("case") or None
    limit = _limit(request.args.get("limit"))
    # One query for both parts (open tasks of the roles, the caller's claimed tasks), merged
    # earliest due first in the database, so only the page's tasks are made and sent.
    tasks = runtime().inbox(
        user.name, limit, roles=sorted(user.roles), role=role, case=case, status=status
    )
    return jsonify(tasks=[t.to_dict() for t in tasks])


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


@bp.get("/tasks/<int:task_id>")
def get_task(task_id: int) -> Any:
    user = caller()
    task = runtime().get_task(_task_id(task_id), user=user.name)
    desk().record_view(user.name, task.case_number, f"api_task:{task.id}")
    return jsonify(task.to_dict())


@bp.post("/tasks/<int:task_id>/claim")
def claim_task(task_id: int) -> Any:
    return jsonify(runtime().claim(_task_id(task_id), caller().name).to_dict())


@bp.post("/tasks/<int:task_id>/unclaim")
def unclaim_task(task_id: int) -> Any:
    return jsonify(runtime().unclaim(_task_id(task_id), caller().name).to_dict())


@bp.post("/tasks/<int:task_id>/complete")
def complete_task(task_id: int) -> Any:
    body = json_body(required=(), optional=("data",))
    case = runtime().complete_task(_task_id(task_id), body.get("data") or {}, caller().name)
    return jsonify(case.to_dict())


# ----- the description ---------------------------------------------------------------------


@functools.cache
def _openapi_text() -> str:
    return json.dumps(document(), ensure_ascii=False)


@bp.get("/openapi.json")
def openapi() -> Any:
    return current_app.response_class(_openapi_text(), mimetype="application/json")
