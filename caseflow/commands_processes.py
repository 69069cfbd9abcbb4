"""`caseflow init-db` and `caseflow deploy`: the database schema and the process definitions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from caseflow.cli_support import command, emit
from engine.core.settings import load_settings

if TYPE_CHECKING:
    from caseflow.cli import Context


@command("init-db")
def init_db(ctx: Context, as_json: bool) -> None:
    """Create or upgrade the database schema and the roles table."""
    from engine.identity.users import sync_roles
    from engine.store.migrate import upgrade

    db = ctx.db
    upgrade(db)
    with db.write() as session:
        sync_roles(session, load_settings())
        session.commit()
    emit(as_json, {"database": db.url, "status": "ready"}, lambda: f"database ready: {db.url}")


@command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--as", "actor", help="Who deploys.")
def deploy(ctx: Context, as_json: bool, paths: tuple[str, ...], actor: str | None) -> None:
    """Deploy BPMN, DMN and form files (or folders of them)."""
    results = ctx.runtime.deploy(list(paths), actor=actor)
    emit(
        as_json,
        [r.to_dict() for r in results],
        lambda: (
            "\n".join(
                f"{r.kind:7} {r.key}  v{r.version}  {'deployed' if r.changed else 'unchanged'}"
                + (f" (uses the changed {', '.join(r.forms_changed)})" if r.forms_changed else "")
                for r in results
            )
            or "nothing to deploy"
        ),
    )


# Added to the `caseflow` group by caseflow.cli.
COMMANDS = (init_db, deploy)
