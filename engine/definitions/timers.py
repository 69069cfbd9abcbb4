"""Timer checks: a timer is an ISO 8601 value in quotes or a call of a calendar helper.

Camunda's bare ISO text (P3D) is quoted before it is checked, as SpiffWorkflow reads timers as
Python expressions.
"""

from __future__ import annotations

import ast
import json
import re

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.spiff.scripts import ScriptError, check_expression

# Names a timer expression may call (see engine.core.calendar_scripts.script_helpers).
DATE_HELPERS = {
    "now",
    "working_days_from_now",
    "add_working_days",
    "hours_before",
    "hours_after",
    "days_from_now",
    "days_after",
    "days_before",
    "next_holiday",
}

_ISO_DURATION = re.compile(
    r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
)


def check_timer(kind: str, text: str) -> str | None:
    """None when `text` is a usable timer expression of `kind` (timeDuration, timeDate,
    timeCycle), else what is wrong."""
    juel = re.match(r"^\s*(?:[$#]\{\s*|=\s*)([A-Za-z_]\w*)\s*\}?\s*$", text)
    if juel:
        return (
            f"timer {text.strip()!r} is a Camunda expression: write the variable's name,"
            f" {juel.group(1)}"
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return f'timer {text!r} is not a valid expression: write an ISO 8601 value in quotes, e.g. "P3D"'
    node = tree.body
    if isinstance(node, ast.Name):
        # A case variable holding an ISO 8601 text or a date: checked when the timer starts
        # (a value that is neither puts the case in error, naming the timer).
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        value = node.value.strip()
        try:
            if kind == "timeDuration":
                if not _ISO_DURATION.match(value.upper()):
                    raise ValueError
                TimerEventDefinition.parse_iso_duration(value)
            elif kind == "timeDate":
                TimerEventDefinition.parse_time_or_duration(value)
                if value.upper().startswith("P"):
                    raise ValueError
            else:
                if not value.upper().startswith("R"):
                    raise ValueError
                TimerEventDefinition.parse_iso_recurring_interval(value)
        except Exception:
            label = {"timeDuration": "duration", "timeDate": "date", "timeCycle": "cycle"}[kind]
            return f"timer {value!r} is not a valid ISO 8601 {label}"
        return None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in DATE_HELPERS
    ):
        if kind != "timeDate":
            return (
                f"calendar helper {node.func.id}() gives a date: use it in a date timer (timeDate),"
                " not a duration or cycle"
            )
        try:
            check_expression(text)
        except ScriptError as exc:
            return str(exc)
        return None
    return (
        f'timer {text.strip()!r} must be an ISO 8601 value in quotes (e.g. "P3D"), a case'
        f" variable's name, or a call of a calendar helper ({', '.join(sorted(DATE_HELPERS))})"
    )


def quote_bare_iso(node: etree._Element) -> None:
    """Camunda writes timers as bare ISO text (P3D); SpiffWorkflow reads Python expressions."""
    text = (node.text or "").strip()
    if not text:
        return
    upper = text.upper()
    bare = bool(_ISO_DURATION.match(upper)) or upper.startswith("R") and "/" in upper
    if not bare and re.match(r"^\d{4}-\d{2}-\d{2}", text):
        bare = True
    if bare:
        node.text = json.dumps(text)
