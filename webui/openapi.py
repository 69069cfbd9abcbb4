"""The OpenAPI 3.1 description of the JSON API (webui/api.py), served at /api/openapi.json: its
paths (one operation per route) and the document that joins them with the components of
webui/openapi_schemas.py.

Built in code so that it sits beside the views it describes. A test checks that every route of
the API blueprint is described here and that real responses match the schemas.
"""

from __future__ import annotations

import functools
from typing import Any

from .openapi_schemas import (
    DEFAULT_LIMIT,
    INBOX_STATUSES,
    MAX_BODY,
    MAX_DEPTH,
    MAX_ID,
    MAX_LIMIT,
    OBJECT,
    RESPONSES,
    SCHEMAS,
    STRING,
    json_response,
    ref,
)

MAX_IDEMPOTENCY_KEY = 100  # characters of an API client's Idempotency-Key

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
    return {"required": True, "content": {"application/json": {"schema": ref(schema_name)}}}


PATHS: dict[str, Any] = {
    "/api/cases": {
        "post": {
            "operationId": "start_case",
            "summary": "Start a case on the newest version of a process",
            "description": "For users holding one of the process's start roles (its "
            "`startRoles`; by default the role of its first user task, and supervisors); "
            "others get 403. `data` may hold only the fields of the process's start form, "
            "valid by it (422 naming the others); a process without one starts without data. "
            "With an `Idempotency-Key` header a retry is safe: the same key with the same body "
            "answers 200 with the case the first request started (nothing new is started, "
            "whichever server process answers); the same key with another body is refused "
            "with 409. Keys are per user.",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_IDEMPOTENCY_KEY,
                        "pattern": "^[\\x21-\\x7e]+$",
                    },
                }
            ],
            "requestBody": _body("StartCase"),
            "responses": {
                "200": {
                    **json_response(
                        ref("Case"), "The case an earlier request with this key started."
                    ),
                    "headers": {"Location": {"schema": STRING}},
                },
                "201": {
                    **json_response(ref("Case"), "The new case, after it ran to its first wait."),
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
                "200": json_response(ref("Case"), "The case."),
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
                "200": json_response(ref("TaskList"), "The tasks."),
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
                "200": json_response(ref("TaskWithForm"), "The task."),
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
                "200": json_response(ref("Task"), "The claimed task."),
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
                "200": json_response(ref("Task"), "The task, open again."),
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
                "200": json_response(ref("Case"), "The case after the step."),
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
            "responses": {"200": json_response(OBJECT, "The OpenAPI document.")},
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
