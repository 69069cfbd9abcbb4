"""The OpenAPI 3.1 description of the JSON API (webui/api.py), served at /api/openapi.json.

Built in code so that it sits beside the views it describes; the schemas follow the engine's
`to_dict()` views (engine/views.py). A test checks that every route of the API blueprint is
described here and that real responses match these schemas.
"""

from __future__ import annotations

import functools
from typing import Any

# The limits the API enforces, stated once here (webui/api.py imports them).
MAX_ID = 2**63 - 1  # the largest id the databases store (BIGINT)
MAX_BODY = 1024 * 1024  # request bodies are small JSON; the app-wide limit is sized for uploads
MAX_DEPTH = 32  # nesting of a request body
MAX_PROCESS_KEY = 200
INBOX_STATUSES = ["open", "claimed"]
DEFAULT_LIMIT, MAX_LIMIT = 200, 500


def _ref(name: str) -> dict[str, str]:
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
    "TaskWithForm": {"allOf": [_ref("Task"), {"required": ["form"]}]},
    "TaskList": _object(["tasks"], {"tasks": {"type": "array", "items": _ref("Task")}}),
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
            "open_tasks": {"type": "array", "items": _ref("Task")},
            "timers": {"type": "array", "items": _ref("Timer")},
            "history": {
                "type": "array",
                "items": _ref("Event"),
                "description": "The latest 50 events, oldest first.",
            },
            "active_elements": {"type": "array", "items": STRING},
            "notifications": {"type": "array", "items": _ref("Notification")},
        },
    ),
    "Error": _object(
        ["error", "message"],
        {
            "error": {**STRING, "description": "A stable name, e.g. not_found, conflict."},
            "message": {**STRING, "description": "What went wrong, for a person to act on."},
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


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


RESPONSES: dict[str, Any] = {
    "BadRequest": _json(
        _ref("Error"), "The body is not a JSON object of the documented fields, or a bad parameter."
    ),
    "Unauthorized": {
        **_json(_ref("Error"), "No API token, or an unknown or revoked one."),
        "headers": {"WWW-Authenticate": {"schema": STRING}},
    },
    "Forbidden": _json(_ref("Error"), "The task or case belongs to a role you do not hold."),
    "NotFound": _json(_ref("Error"), "No such task, case or process."),
    "Conflict": _json(
        _ref("Error"),
        "Someone else completed or claimed it first, or the case moved on; nothing was saved.",
    ),
    "TooLarge": _json(_ref("Error"), f"The request body is larger than {MAX_BODY} bytes."),
    "ValidationFailed": _json(
        _ref("ValidationError"), "The data does not match the task's form; nothing was saved."
    ),
}

TASK_ID = {
    "name": "task_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}


def _errors(*names: str) -> dict[str, Any]:
    codes = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "NotFound": "404",
        "Conflict": "409",
        "TooLarge": "413",
        "ValidationFailed": "422",
    }
    return {codes[name]: {"$ref": f"#/components/responses/{name}"} for name in names}


def _body(schema_name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema_name)}}}


PATHS: dict[str, Any] = {
    "/api/cases": {
        "post": {
            "operationId": "start_case",
            "summary": "Start a case on the newest version of a process",
            "description": "For users holding one of the process's start roles (its "
            "`startRoles`; by default the role of its first user task, and supervisors); "
            "others get 403. `data` may hold only the fields of the process's start form, "
            "valid by it (422 naming the others); a process without one starts without data.",
            "requestBody": _body("StartCase"),
            "responses": {
                "201": {
                    **_json(_ref("Case"), "The new case, after it ran to its first wait."),
                    "headers": {"Location": {"schema": STRING}},
                },
                **_errors(
                    "BadRequest",
                    "Unauthorized",
                    "Forbidden",
                    "NotFound",
                    "Conflict",
                    "TooLarge",
                    "ValidationFailed",
                ),
            },
        }
    },
    "/api/cases/{number}": {
        "get": {
            "operationId": "get_case",
            "summary": "One case: status, open tasks, timers, latest history, data",
            "description": "For supervisors and holders of a role of one of the case's tasks.",
            "parameters": [
                {"name": "number", "in": "path", "required": True, "schema": STRING},
            ],
            "responses": {
                "200": _json(_ref("Case"), "The case."),
                **_errors("Unauthorized", "Forbidden", "NotFound"),
            },
        }
    },
    "/api/tasks": {
        "get": {
            "operationId": "list_tasks",
            "summary": "My tasks: open tasks of my roles and tasks I claimed, earliest due first",
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"type": "string", "enum": INBOX_STATUSES},
                },
                {"name": "case", "in": "query", "schema": STRING, "description": "Case number."},
                {"name": "role", "in": "query", "schema": STRING},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_LIMIT,
                        "default": DEFAULT_LIMIT,
                    },
                },
            ],
            "responses": {
                "200": _json(_ref("TaskList"), "The tasks."),
                **_errors("BadRequest", "Unauthorized"),
            },
        }
    },
    "/api/tasks/{task_id}": {
        "get": {
            "operationId": "get_task",
            "summary": "One task with its form (a JSON Schema)",
            "parameters": [TASK_ID],
            "responses": {
                "200": _json(_ref("TaskWithForm"), "The task."),
                **_errors("Unauthorized", "Forbidden", "NotFound"),
            },
        }
    },
    "/api/tasks/{task_id}/claim": {
        "post": {
            "operationId": "claim_task",
            "summary": "Take the task, so it leaves the inboxes of others with the role",
            "parameters": [TASK_ID],
            "responses": {
                "200": _json(_ref("Task"), "The claimed task."),
                **_errors("Unauthorized", "Forbidden", "NotFound", "Conflict"),
            },
        }
    },
    "/api/tasks/{task_id}/unclaim": {
        "post": {
            "operationId": "unclaim_task",
            "summary": "Give the task back to the role",
            "parameters": [TASK_ID],
            "responses": {
                "200": _json(_ref("Task"), "The task, open again."),
                **_errors("Unauthorized", "Forbidden", "NotFound", "Conflict"),
            },
        }
    },
    "/api/tasks/{task_id}/complete": {
        "post": {
            "operationId": "complete_task",
            "summary": "Submit the task's form; the case runs on to its next wait",
            "description": "Only the fields the task's form declares are accepted: others "
            "(and read-only ones) are refused with 422 naming them. Validation messages are in "
            "English when Accept-Language prefers it, otherwise in Chinese.",
            "parameters": [TASK_ID],
            "requestBody": _body("CompleteTask"),
            "responses": {
                "200": _json(_ref("Case"), "The case after the step."),
                **_errors(
                    "BadRequest",
                    "Unauthorized",
                    "Forbidden",
                    "NotFound",
                    "Conflict",
                    "TooLarge",
                    "ValidationFailed",
                ),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This description",
            "security": [],
            "responses": {"200": _json(OBJECT, "The OpenAPI document.")},
        }
    },
}

DESCRIPTION = """\
Start Caseflow cases and work your tasks from other systems.

Authenticate with `Authorization: Bearer <token>`; an administrator issues a token with
`caseflow users token NAME` (issuing again replaces the old token). The API does not accept the
staff pages' session cookie. Request bodies are JSON objects of at most {MAX_BODY} bytes,
nested at most {MAX_DEPTH} levels.
"""


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document (built once; callers must not change it)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Caseflow API",
            "version": "1.0.0",
            "description": DESCRIPTION.format(MAX_BODY=MAX_BODY, MAX_DEPTH=MAX_DEPTH),
        },
        "security": [{"bearerAuth": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (cf_…) issued on the command line.",
                }
            },
            "schemas": SCHEMAS,
            "responses": RESPONSES,
        },
    }
