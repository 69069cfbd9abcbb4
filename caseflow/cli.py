"""`caseflow` command line. Every command prints JSON with --json; failures exit non-zero.

This module holds the `caseflow` group with its --now option and the Context every command
receives; the commands live in caseflow.commands_* and are added to the group here."""

from __future__ import annotations

import click

from caseflow import (
    commands_cases,
    commands_data,
    commands_people,
    commands_processes,
    commands_serve,
)
from engine.core.clock import FixedClock, SystemClock, parse_instant
from engine.core.settings import load_settings
from engine.store.database import Database


class Context:
    def __init__(self, now: str | None):
        self.now = now
        self._runtime = None
        self._db: Database | None = None

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database()
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()

    @property
    def clock(self):
        return FixedClock(parse_instant(self.now)) if self.now else SystemClock()

    @property
    def runtime(self):
        if self._runtime is None:
            from engine.runtime.verbs import Runtime

            self._runtime = Runtime(self.db, load_settings(), self.clock)
        return self._runtime


@click.group()
@click.option(
    "--now", envvar="CASEFLOW_NOW", help="Run with a fixed clock (ISO 8601), for drills and tests."
)
@click.pass_context
def main(ctx: click.Context, now: str | None) -> None:
    """Caseflow: BPMN processes for a services company."""
    if now:
        try:
            parse_instant(now)
        except ValueError:
            raise click.BadParameter(
                f"{now!r} is not an ISO 8601 date-time", param_hint="--now"
            ) from None
    ctx.obj = Context(now)
    ctx.call_on_close(ctx.obj.close)


for _module in (
    commands_processes,
    commands_cases,
    commands_serve,
    commands_people,
    commands_data,
):
    for _command in _module.COMMANDS:
        main.add_command(_command)


if __name__ == "__main__":
    main()
