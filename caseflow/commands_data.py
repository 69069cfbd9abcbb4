"""Commands on the data as a whole: demo data, purging and exporting customers' personal data,
and backing up and restoring the SQLite database."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from caseflow.cli_support import command, emit
from engine.core.settings import load_settings

if TYPE_CHECKING:
    from caseflow.cli import Context


@command("demo-data")
def demo_data(ctx: Context, as_json: bool) -> None:
    """Load demo stores, rooms, staff shifts, nurses, cleaners and customers (idempotent)."""
    from caseflow.demo import load_demo, summary

    counts = load_demo(ctx.db, load_settings(), ctx.clock.now())
    emit(as_json, counts, lambda: summary(counts))


# ----- personal data (engine.casework.retention, customer_export) and backups (engine.store.backup)


@command()
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
@click.option("--as", "actor", help="Who runs it (recorded with the run).")
def purge(ctx: Context, as_json: bool, dry_run: bool, actor: str | None) -> None:
    """Remove customers' personal data from cases that ended more than [privacy]
    retention_days ago (the worker also does this once a day)."""
    from engine.casework.retention import purge as run_purge

    report = run_purge(ctx.db, load_settings(), ctx.clock.now(), dry_run=dry_run, actor=actor)
    emit(
        as_json,
        report.to_dict(),
        lambda: (
            f"{'would remove' if dry_run else 'removed'} personal data of {report.cases} case(s) "
            f"that ended before {report.cutoff} ({report.retention_days} days): "
            f"{report.tasks} task(s), {report.events} event(s), {report.messages} message(s), "
            f"{report.attachments} attachment(s), {report.blobs} file(s); "
            f"{report.fields} field(s) in all"
            + (f"; {report.skipped} skipped (changed meanwhile)" if report.skipped else "")
        ),
    )


@command("export-customer")
@click.argument("phone", required=False)
@click.option("--name", help="The customer's name (exact); with PHONE, cases matching both.")
@click.option("--as", "actor", help="Who asks for the export (recorded on every case).")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="Write the JSON to this file."
)
def export_customer_cmd(
    ctx: Context,
    as_json: bool,
    phone: str | None,
    name: str | None,
    actor: str | None,
    output: str | None,
) -> None:
    """Everything about one customer (by phone number and/or name) as JSON: cases, task data,
    messages, events, attachments. The export is recorded on each case."""
    from pathlib import Path

    from engine.casework.customer_export import export_customer

    data = export_customer(ctx.db, phone, name, actor=actor, now=ctx.clock.now())
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if output is None:
        click.echo(text)
        return
    Path(output).write_text(text + "\n", encoding="utf-8")
    emit(
        as_json,
        {"path": output, "cases": len(data["cases"])},
        lambda: f"{len(data['cases'])} case(s) written to {output}",
    )


@command()
@click.argument("path", type=click.Path())
def backup(ctx: Context, as_json: bool, path: str) -> None:
    """Copy the SQLite database to PATH (a file, or a folder for a dated file in it); safe
    while the app and the worker run. PostgreSQL: use pg_dump (see the README)."""
    from engine.store.backup import backup as run_backup
    from engine.store.database import database_url

    info = run_backup(database_url(), path, ctx.clock.now())
    emit(
        as_json,
        info,
        lambda: (
            f"backup written to {info['path']} ({info['cases']} case(s), "
            f"{info['bytes']:,} bytes, schema {info['revision']})"
        ),
    )


@command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--force",
    is_flag=True,
    help="Overwrite the existing database (it is first saved beside it as "
    "<name>.before-restore-<time>). Stop the app and the worker first.",
)
def restore(ctx: Context, as_json: bool, path: str, force: bool) -> None:
    """Put a backup made by `caseflow backup` in place of the SQLite database."""
    from engine.store.backup import restore as run_restore
    from engine.store.database import database_url

    info = run_restore(path, database_url(), force=force, now=ctx.clock.now())
    emit(
        as_json,
        info,
        lambda: (
            f"restored {info['path']} into {info['database']} ({info['cases']} case(s))"
            + (
                f"; the previous database is kept as {info['previous_saved_as']}"
                if info["previous_saved_as"]
                else ""
            )
            + ("; run `caseflow init-db` to upgrade its schema" if info["needs_upgrade"] else "")
            + "; restart the app and the worker"
        ),
    )


# Added to the `caseflow` group by caseflow.cli.
# ----- KPIs (engine.casework.kpi_rebuild) --------------------------------------------------------


@click.group()
def kpi() -> None:
    """The KPI rollup the dashboard reads."""


@command("rebuild", group=kpi)
def kpi_rebuild(ctx: Context, as_json: bool) -> None:
    """Recompute the KPI rollup from the case and task rows (after an upgrade from a version
    without it; the steps keep it up to date afterwards)."""
    from engine.casework.kpi_rebuild import rebuild_kpis

    count = rebuild_kpis(ctx.db, load_settings().timezone)
    emit(as_json, {"rows": count}, lambda: f"KPI rollup rebuilt: {count} row(s)")


COMMANDS = (demo_data, purge, export_customer_cmd, backup, restore, kpi)
