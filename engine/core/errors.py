"""Errors the engine's verbs raise. Each carries a message a person can act on, as data.

Every error has a class `code` (not_found, forbidden, conflict, …: what scripts and the HTTP
mapping look at) and, for the particular case, a `reason` (a stable snake_case name such as
"task_done" or "case_not_found") with its `params` (the task id, the user, the case number …).
The text itself is English; the web layer says the reason in the reader's language with the
params (webui/engine_messages/), and shows the English text for a reason it does not know.
An error can be raised with keyword arguments or with a Message (engine.core.messages):

    raise NotFound(f"no case numbered {number!r}", reason="case_not_found", number=number)
    raise Conflict(Message("case_busy", f"case {number} is busy; …", number=number))
"""

from __future__ import annotations

from typing import Any

from engine.core.messages import Message


class CaseflowError(Exception):
    """Base class: `code` for the kind of error, `reason` and `params` for the particular one
    (None when the raiser gave no reason: the page shows the English text)."""

    code = "error"

    def __init__(self, *args: object, reason: str | None = None, **params: Any) -> None:
        super().__init__(*args)
        first = args[0] if args else None
        if reason is None and isinstance(first, Message):  # raised with a Message: its code
            reason, params = first.code, {**first.params, **params}
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
    """Submitted data does not match the form; `errors` maps field path → messages. The reason
    of the whole (the summary) defaults to "validation_failed"; raisers that know more give
    e.g. "form_errors" with the fields' titles."""

    code = "validation_failed"

    def __init__(
        self,
        message: str,
        errors: dict[str, list[str]],
        *,
        reason: str | None = None,
        **params: Any,
    ) -> None:
        if reason is None and not isinstance(message, Message):
            reason = "validation_failed"
        super().__init__(message, reason=reason, **params)
        self.errors = errors


def refine(
    exc: ValidationFailed, message: str, errors: dict[str, list[str]] | None = None
) -> ValidationFailed:
    """The same validation failure said by an outer step ("the booking form has errors"):
    its reason and params kept, its field errors unless `errors` replaces them."""
    return ValidationFailed(
        message, exc.errors if errors is None else errors, reason=exc.reason, **exc.params
    )
