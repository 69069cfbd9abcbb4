"""Expression and script checks: conditions, loop and correlation expressions, scripts,
assignee expressions and DMN entries go through the restricted evaluator's checks; task
instructions must be valid templates.
"""

from __future__ import annotations

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from engine.definitions.sources import Validation
from engine.spiff.scripts import ScriptError, check_expression, check_script

_JINJA = SandboxedEnvironment()


def check_code(
    v: Validation, filename: str, owner: str | None, text: str, *, script: bool, what: str
) -> None:
    """A script (`script`) or an expression the restricted evaluator accepts; `what` names it."""
    try:
        (check_script if script else check_expression)(text)
    except ScriptError as exc:
        hint = (
            " (Camunda ${...} expressions are not supported; write Python)" if "${" in text else ""
        )
        v.add(filename, owner, f"{what} refused: {exc}{hint}")
    except SyntaxError as exc:
        v.add(filename, owner, f"{what} is not valid Python: {exc.msg}")


def check_instructions(v: Validation, filename: str, owner: str | None, text: str) -> None:
    """Task instructions (spiffworkflow:instructionsForEndUser) are rendered as templates."""
    try:
        _JINJA.parse(text)
    except TemplateSyntaxError as exc:
        v.add(filename, owner, f"instructions are not a valid template: {exc}")
