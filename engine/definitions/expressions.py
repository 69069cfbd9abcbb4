"""Expression and script checks: conditions, loop and correlation expressions, scripts,
assignee expressions and DMN entries go through the restricted evaluator's checks; task
instructions must be valid templates.
"""

from __future__ import annotations

import re

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from engine.definitions.sources import Validation
from engine.spiff.scripts import ScriptError, check_expression, check_script

_JINJA = SandboxedEnvironment()


def check_code(
    v: Validation,
    filename: str,
    owner: str | None,
    text: str,
    *,
    script: bool,
    what: str,
    field: str | None = None,
) -> None:
    """A script (`script`) or an expression the restricted evaluator accepts; `what` names it
    and `field` the property it is written in (Problem.field). An expression written for
    another engine (JUEL `${…}`, FEEL `= …`) or in words gets a hint with the Python to write
    instead, where one is obvious."""
    try:
        (check_script if script else check_expression)(text)
    except ScriptError as exc:
        v.add(filename, owner, f"{what} refused: {exc}{foreign_hint(text, script)}", field)
    except SyntaxError as exc:
        v.add(
            filename,
            owner,
            f"{what} is not valid Python: {exc.msg}{foreign_hint(text, script)}",
            field,
        )


_JUEL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.S)
_JUEL_WORDS = {
    "&&": " and ",
    "||": " or ",
    " eq ": " == ",
    " ne ": " != ",
    " gt ": " > ",
    " lt ": " < ",
    " ge ": " >= ",
    " le ": " <= ",
    " and ": " and ",
    " or ": " or ",
}
_LITERALS = {"true": "True", "false": "False", "null": "None"}


def _python_of(body: str, feel: bool) -> str | None:
    """The Python for a simple JUEL or FEEL expression, or None when it is not obvious."""
    out = body.strip()
    for word, py in _JUEL_WORDS.items():
        out = out.replace(word, py)
    out = re.sub(r"!(?!=)", " not ", out)
    out = re.sub(r"\bempty\s+", "not ", out)
    if feel:
        out = re.sub(r"(?<![<>!=])=(?!=)", "==", out)
    out = re.sub(r"\b(true|false|null)\b", lambda m: _LITERALS[m.group(1)], out)
    out = re.sub(r"\s+", " ", out).strip()
    try:
        check_expression(out)
    except (ScriptError, SyntaxError):
        return None
    return out


_WORDS_HINT = (
    " (this reads as words, not an expression: write a Python condition such as approved == True)"
)


def foreign_hint(text: str, script: bool = False) -> str:
    """A hint for an expression that is not Python: JUEL (Camunda 7), FEEL (Camunda 8, DMN),
    or prose. Empty when the text looks like Python that is merely wrong."""
    if script:
        return ""
    stripped = text.strip()
    juel = _JUEL.match(stripped)
    if juel:
        python = _python_of(juel.group(1), feel=False)
        hint = f"; write it as Python: {python}" if python else "; write it as Python"
        return f" (this is a Camunda JUEL expression{hint})"
    if stripped.startswith("=") and not stripped.startswith("=="):
        python = _python_of(stripped[1:], feel=True)
        hint = f"; write it as Python: {python}" if python else "; write it as Python"
        return f" (this is a FEEL expression{hint})"
    words = stripped.split()
    sentence = (
        len(words) >= 3
        and all(re.fullmatch(r"[\w'’?,.]+", w) for w in words)
        and not any(w in ("and", "or", "not", "in", "is", "if", "else") for w in words)
    )
    chinese_words = (
        not stripped.isascii()
        and " " not in stripped
        and not re.search(r"[=<>()\[\]\"']", stripped)
    )
    return _WORDS_HINT if sentence or chinese_words else ""


def check_instructions(v: Validation, filename: str, owner: str | None, text: str) -> None:
    """Task instructions (spiffworkflow:instructionsForEndUser) are rendered as templates."""
    try:
        _JINJA.parse(text)
    except TemplateSyntaxError as exc:
        v.add(
            filename,
            owner,
            f"instructions are not a valid template: {exc}",
            "instructionsForEndUser",
        )
