"""Message templates (SMS and e-mail wording) as part of a process version.

A template is a file `<name>.txt` (Jinja2, Chinese by default; a first line "Subject: …" gives
an e-mail's subject). A process version keeps the templates it sends — those its scripts name
in `notify(channel, to, "<name>", …)` (its called processes' scripts too) and every deployed
template named `<process key>.…` — among its stored sources, so a running case keeps its
version's wording, a new version can change it, and a rollback brings the old wording back.

A template the scripts name that is not among the deployed files is read from the
notifications folder at deploy time (`CASEFLOW_NOTIFICATIONS`, default `notifications/`) and
stored with the version like the others; one found nowhere is a deploy error.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

FOLDER = Path(
    os.environ.get("CASEFLOW_NOTIFICATIONS", Path(__file__).resolve().parents[2] / "notifications")
)
SUFFIX = ".txt"
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")
_JINJA = SandboxedEnvironment()
# A script element's text (script, preScript, postScript) holds Python.
SCRIPT_ELEMENTS = frozenset({"script", "preScript", "postScript"})


def template_name(filename: str) -> str | None:
    """`store_appointment.reminder.txt` -> `store_appointment.reminder`; None when the file
    name is not a template's."""
    if not filename.endswith(SUFFIX):
        return None
    name = filename[: -len(SUFFIX)]
    return name if NAME.match(name) else None


def syntax_problem(text: str) -> str | None:
    """Why `text` is not a template that can be rendered, or None."""
    try:
        _JINJA.parse(text)
    except TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    return None


def notify_calls(code: str) -> Iterator[tuple[ast.Module, ast.Call, dict[str, ast.expr]]]:
    """The notify() calls of a script: (its parsed tree, the call, its arguments by name:
    channel, to, template, data, ics); a script that does not parse has none (deploy reports
    it elsewhere)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "notify"
        ):
            args = dict(zip(("channel", "to", "template", "data", "ics"), node.args, strict=False))
            args.update({kw.arg: kw.value for kw in node.keywords if kw.arg})
            yield tree, node, args


def literal(node: ast.expr | None) -> str | None:
    """The text of a string literal, else None."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def named_in(scripts: Iterable[str]) -> set[str]:
    """The template names scripts pass to notify() as a literal (third argument or
    `template=`)."""
    return {
        name
        for code in scripts
        for _, _, args in notify_calls(code)
        if (name := literal(args.get("template")))
    }


def read_from_folder(name: str) -> str | None:
    """The text of template `name` in the notifications folder, or None."""
    if not NAME.match(name):
        return None
    try:
        return (FOLDER / f"{name}{SUFFIX}").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def version_templates(sources: Iterable[dict] | None) -> dict[str, str] | None:
    """The templates among a version's stored sources (name -> text); None when it keeps
    none (deployed before versions kept their templates)."""
    found = {
        name: src.get("text") or ""
        for src in sources or ()
        if src.get("kind") == "template" and (name := template_name(src.get("filename") or ""))
    }
    return found or None
