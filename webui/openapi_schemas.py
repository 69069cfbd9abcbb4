"""The limits the JSON API enforces (webui/api.py, and the id checks of the staff pages) and the
OpenAPI components built from them: the schemas of its bodies and answers, and the error
responses the operations share.

The schemas follow the engine's `to_dict()` views (engine/views.py); webui/openapi.py puts them
together with the paths into the document served at /api/openapi.json.
"""

from __future__ import annotations

from typing import Any

# The limits the API enforces, stated once here (webui/api.py imports them; the staff pages
# check ids against MAX_ID).
MAX_ID = 2**63 - 1  # the largest id the databases store (BIGINT)
MAX_BODY = 1024 * 1024  # request bodies are small JSON; the app-wide limit is sized for uploads
MAX_DEPTH = 32  # nesting of a request body
MAX_PROCESS_KEY = 200
INBOX_STATUSES = ["open", "claimed"]
DEFAULT_LIMIT, MAX_LIMIT = 200, 500


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


STRING = {"type": "string"}
INTEGER = {"type": "integer"}
DATE_TIME = {"type": "string", "format": "date-time"}
OBJECT = {"type": "object"}


def _object(required: list[str], properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, **extra}


SCHEMAS: dict[str, Any] = {
    "Task": _object(
        [
            "id",
            "case",
            "element_id",
            "name",
            "role",
            "status",
            "assignee",
            "due_at",
            "created_at",
            "completed_at",
            "completed_by",
            "instructions",
            "data",
        ],
        {
            "id": INTEGER,
            "case": {**STRING, "description": "The case number, e.g. BK-20261123-0001."},
            "element_id": {**STRING, "description": "The BPMN user task's id."},
            "name": STRING,
            "role": {**STRING, "description": "The role (lane) that works the task."},
            "status": {"type": "string", "enum": ["open", "claimed", "done", "cancelled"]},
            "assignee": _nullable(STRING),
            "due_at": _nullable(DATE_TIME),
            "created_at": DATE_TIME,
            "completed_at": _nullable(DATE_TIME),
            "completed_by": _nullable(STRING),
            "instructions": {
                **_nullable(STRING),
                "description": "Instructions for the person working the task (a Jinja template "
                "over the case data).",
            },
            "data": {**_nullable(OBJECT), "description": "What was submitted when completed."},
            "form": {
                **OBJECT,
                "description": "The JSON Schema the submitted data must match; only in the "
                "answer of GET /api/tasks/{task_id}.",
            },
        },
    ),
    "TaskWithForm": {"allOf": [ref("Task"), {"required": ["form"]}]},
    "TaskList": _object(["tasks"], {"tasks": {"type": "array", "items": ref("Task")}}),
    "Timer": _object(
        ["id", "element_id", "name", "kind", "due_at", "status"],
        {
            "id": INTEGER,
            "element_id": STRING,
            "name": _nullable(STRING),
            "kind": STRING,
            "due_at": DATE_TIME,
            "status": {"type": "string", "enum": ["waiting", "fired", "cancelled"]},
        },
    ),
    "Event": _object(
        ["at", "kind", "actor", "element_id", "detail"],
        {
            "at": DATE_TIME,
            "kind": STRING,
            "actor": _nullable(STRING),
            "element_id": _nullable(STRING),
            "detail": _nullable(OBJECT),
        },
    ),
    "Notification": _object(
        [
            "channel",
            "recipient",
            "subject",
            "status",
            "attempts",
            "created_at",
            "sent_at",
            "last_error",
        ],
        {
            "channel": STRING,
            "recipient": STRING,
            "subject": _nullable(STRING),
            "status": {"type": "string", "enum": ["pending", "sent", "failed"]},
            "attempts": INTEGER,
            "created_at": DATE_TIME,
            "sent_at": _nullable(DATE_TIME),
            "last_error": _nullable(STRING),
        },
    ),
    "Case": _object(
        [
            "number",
            "process",
            "version",
            "status",
            "started_at",
            "ended_at",
            "error",
            "cancel_reason",
            "data",
            "open_tasks",
            "timers",
            "history",
            "active_elements",
            "notifications",
        ],
        {
            "number": {**STRING, "description": "The case number people quote."},
            "process": {**STRING, "description": "The process key."},
            "version": {**INTEGER, "description": "The process version the case runs on."},
            "status": {"type": "string", "enum": ["running", "completed", "cancelled", "error"]},
            "started_at": DATE_TIME,
            "ended_at": _nullable(DATE_TIME),
            "error": {
                "type": ["object", "null"],
                "description": "Where and why the case stopped, when its status is error.",
                "required": ["element_id", "message"],
                "properties": {"element_id": _nullable(STRING), "message": STRING},
            },
            "cancel_reason": _nullable(STRING),
            "data": OBJECT,
            "open_tasks": {"type": "array", "items": ref("Task")},
            "timers": {"type": "array", "items": ref("Timer")},
            "history": {
                "type": "array",
                "items": ref("Event"),
                "description": "The latest 50 events, oldest first.",
            },
            "active_elements": {"type": "array", "items": STRING},
            "notifications": {"type": "array", "items": ref("Notification")},
        },
    ),
    "Error": _object(
        ["error", "message"],
        {
            "error": {**STRING, "description": "A stable name, e.g. not_found, conflict."},
            "message": {**STRING, "description": "What went wrong, for a person to act on."},
            "reason": {
                **STRING,
                "description": "For the engine's errors: the particular case, a stable code"
                " (e.g. role_missing, task_done, case_not_found), to say it in the client's"
                " own words with `params`.",
            },
            "params": {
                "type": "object",
                "description": "The values `reason` speaks of (task id, user, case number, …).",
            },
        },
    ),
    "ValidationError": _object(
        ["error", "message", "errors"],
        {
            "error": {"const": "validation_failed"},
            "message": STRING,
            "errors": {
                "type": "object",
                "description": "Field name (a path for nested fields) → messages.",
                "additionalProperties": {"type": "array", "items": STRING},
            },
        },
    ),
    "StartCase": _object(
        ["process"],
        {
            "process": {**STRING, "minLength": 1, "maxLength": MAX_PROCESS_KEY},
            "data": {**OBJECT, "description": "The case's starting data."},
        },
        additionalProperties=False,
    ),
    "CompleteTask": _object(
        [],
        {"data": {**OBJECT, "description": "The form's fields; checked against the task's form."}},
        additionalProperties=False,
    ),
}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


RESPONSES: dict[str, Any] = {
    "BadRequest": json_response(
        ref("Error"), "The body is not a JSON object of the documented fields, or a bad parameter."
    ),
    "Unauthorized": {
        **json_response(ref("Error"), "No API token, or an unknown or revoked one."),
        "headers": {"WWW-Authenticate": {"schema": STRING}},
    },
    "Forbidden": json_response(ref("Error"), "The task or case belongs to a role you do not hold."),
    "NotFound": json_response(ref("Error"), "No such task, case or process."),
    "Conflict": json_response(
        ref("Error"),
        "Someone else completed or claimed it first, or the case moved on; nothing was saved.",
    ),
    "TooLarge": json_response(ref("Error"), f"The request body is larger than {MAX_BODY} bytes."),
    "ValidationFailed": json_response(
        ref("ValidationError"), "The data does not match the task's form; nothing was saved."
    ),
}
