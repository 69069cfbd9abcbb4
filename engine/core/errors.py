"""Errors the engine's verbs raise. Each carries a message a person can act on."""

from __future__ import annotations


class CaseflowError(Exception):
    """Base class; `code` is a stable name for scripts and HTTP mapping. `reason` names the
    particular case (e.g. "task_done") and `params` its values, for the web layer to say it in
    the reader's language (webui/messages.py); the message itself is English."""

    code = "error"

    def __init__(self, *args: object, reason: str | None = None, **params: object) -> None:
        super().__init__(*args)
        self.reason = reason
        self.params = params


class NotFound(CaseflowError):
    code = "not_found"


class Forbidden(CaseflowError):
    code = "forbidden"


class Conflict(CaseflowError):
    """Someone else changed the same case or task first; nothing of this request was saved."""

    code = "conflict"


class InvalidState(CaseflowError):
    code = "invalid_state"


class ValidationFailed(CaseflowError):
    """Submitted data does not match the form; `errors` maps field path → messages."""

    code = "validation_failed"

    def __init__(self, message: str, errors: dict[str, list[str]]):
        super().__init__(message, reason="validation_failed")
        self.errors = errors
