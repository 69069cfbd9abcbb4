"""Camunda forms as Caseflow forms: what the two converters share.

Process owners bring diagrams drawn in Camunda Modeler. A user task there names its form either
as a Camunda Form file (form-js JSON, linked by ``camunda:formKey`` or ``formRef``; converted
by ``engine.definitions.camunda_formjs``) or inline as ``camunda:formData`` fields (converted
by ``engine.definitions.camunda_formdata``). Caseflow forms are JSON Schema (Draft 2020-12, see
``engine.definitions.forms``), so both are converted into the shape our own files in ``forms/``
use:

* a field is a property: ``title`` from the label, ``description``, ``default``, and the
  constraints as JSON Schema keywords; long text is ``"x-widget": "textarea"``, radio buttons
  ``"x-widget": "radio"``, a read-only (or disabled) field ``"readOnly": true`` (shown, never
  taken from the submitter);
* options are an ``enum`` of their values; when a label differs from its value the labels
  follow in ``"x-labels"``, a list beside the ``enum`` in the same order (the shape the
  renderer takes as a field's ``labels``);
* a phone number is our usual ``pattern`` ``^\\+?[0-9 ()-]{6,20}$`` with ``maxLength`` 20;
* a required text field also gets ``minLength`` 1, and a required checkbox ``const: true``
  (form-js refuses an unticked required checkbox), as our own forms write them.

What cannot be honoured is refused with a ``FormError`` naming the component or field, never
dropped in silence. Every result is checked with ``load_form_schema`` (``checked_schema``)
before it is returned.
"""

from __future__ import annotations

import json
import re
from typing import Any

from engine.definitions.formchecks import _NO_REMOTE, FORMAT_CHECKER, FormValidator
from engine.definitions.forms import FormError, load_form_schema

__all__ = [
    "LABELS_KEY",
    "PHONE_MAX_LENGTH",
    "PHONE_PATTERN",
    "FIELD_KEY_RE",
    "check_default",
    "checked_schema",
]

# The phone check our own forms use for a phone number anywhere (consultation.record,
# signed_service_booking.request, ...): digits, spaces, brackets and dashes, "+" in front.
PHONE_PATTERN = r"^\+?[0-9 ()-]{6,20}$"
PHONE_MAX_LENGTH = 20
# Option labels, in the order of the "enum" they stand beside.
LABELS_KEY = "x-labels"

# A field's key: the plain name its value is stored under.
FIELD_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)


def check_default(prop: dict, default: Any, where: str, what: str) -> None:
    """Refuse a default that the field itself would refuse."""
    validator = FormValidator(prop, format_checker=FORMAT_CHECKER, registry=_NO_REMOTE)
    error = next(iter(validator.iter_errors(default)), None)
    if error is not None:
        raise FormError(f"{where}: {what} {default!r} does not fit the field: {error.message}")


def checked_schema(schema: dict, name: str) -> dict:
    """The schema, after it passed the same checks as a form file of our own."""
    load_form_schema(json.dumps(schema, ensure_ascii=False), name)
    return schema
