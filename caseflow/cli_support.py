"""What every `caseflow` command module shares: the subcommand decorator (a --json flag and
uniform error handling with exit code 1), printing a result as JSON or text, and reading a
JSON object argument."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

import click

from engine.core.errors import CaseflowError, ValidationFailed
from engine.core.settings import SettingsError
from engine.definitions.sources import DefinitionError

# Messages in the company's language, as on its pages (webui's catalogue).
CLI_LOCALE = "zh_Hant"

if TYPE_CHECKING:
    from caseflow.cli import Context


def emit(as_json: bool, payload: Any, text: Callable[[], str]) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(text())


def command(name: str | None = None, group: click.Group | None = None) -> Callable:
    """A subcommand with a --json flag and uniform error handling, registered on `group`
    (a top-level command is left for caseflow.cli to add to the `caseflow` group)."""

    def decorate(fn: Callable) -> Callable:
        register = click.command(name) if group is None else group.command(name)

        @register
        @click.option(
            "--json", "as_json", is_flag=True, help="Print JSON (a stable contract for scripts)."
        )
        @click.pass_obj
        @wraps(fn)
        def wrapper(ctx: Context, as_json: bool, **kwargs: Any) -> None:
            try:
                fn(ctx, as_json, **kwargs)
            except DefinitionError as exc:
                fail(
                    as_json,
                    "invalid_definition",
                    "nothing was deployed",
                    problems=[p.to_dict() for p in exc.problems],
                    text="\n".join(f"  {p}" for p in exc.problems),
                )
            except ValidationFailed as exc:
                from webui.messages import translate_errors  # (loads Flask: only on an error)

                errors = translate_errors(exc.errors, CLI_LOCALE)
                lines = [
                    f"  {field or '(form)'}: {'; '.join(msgs)}" for field, msgs in errors.items()
                ]
                fail(as_json, exc.code, str(exc), errors=errors, text="\n".join(lines))
            except CaseflowError as exc:
                from webui.messages import translate

                fail(as_json, exc.code, translate(exc, CLI_LOCALE))
            except (SettingsError, ValueError) as exc:
                fail(as_json, "invalid_input", str(exc))

        return wrapper

    return decorate


def fail(as_json: bool, code: str, message: str, text: str = "", **extra: Any) -> None:
    if as_json:
        click.echo(
            json.dumps({"error": code, "message": message, **extra}, ensure_ascii=False, indent=2)
        )
    else:
        click.echo(f"error: {message}", err=True)
        if text:
            click.echo(text, err=True)
    sys.exit(1)


def json_arg(text: str | None, what: str = "--data") -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(value, dict):
        raise ValueError(f'{what} must be a JSON object, e.g. \'{{"name": "王小明"}}\'')
    return value
