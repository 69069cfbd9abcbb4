"""The `caseflow users` and `caseflow roles` groups: users, their roles and API tokens, the demo
users, and the roles of the settings file."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from caseflow.cli_support import command, emit
from engine.core.settings import add_role, load_settings

if TYPE_CHECKING:
    from caseflow.cli import Context


DEMO_PASSWORD = "caseflow-demo"


@click.group()
def users() -> None:
    """Users and their roles."""


@command("add", users)
@click.argument("name")
@click.option(
    "--role", "roles", multiple=True, required=True, help="A role id (repeat for several)."
)
@click.option("--password", help="Password for signing in to the web app.")
@click.option("--display-name")
@click.option("--email")
def users_add(
    ctx: Context,
    as_json: bool,
    name: str,
    roles: tuple[str, ...],
    password: str | None,
    display_name: str | None,
    email: str | None,
) -> None:
    """Add a user (or set an existing user's roles)."""
    from engine.identity.users import add_user

    add_user(
        ctx.db,
        load_settings(),
        name,
        list(roles),
        ctx.clock.now(),
        password,
        display_name,
        email,
    )
    emit(as_json, {"name": name, "roles": list(roles)}, lambda: f"user {name}: {', '.join(roles)}")


@command("token", users)
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Revoke the user's API token instead.")
@click.option("--as", "actor", help="Who issues it.")
def users_token(ctx: Context, as_json: bool, name: str, revoke: bool, actor: str | None) -> None:
    """Issue (or revoke) the API token of a user; the token is shown once."""
    from engine.identity.tokens import issue_token, revoke_token

    if revoke:
        had = revoke_token(ctx.db, name, now=ctx.clock.now(), actor=actor)
        emit(
            as_json,
            {"user": name, "revoked": had},
            lambda: f"token of {name} {'revoked' if had else 'was not set'}",
        )
        return
    token = issue_token(ctx.db, name, ctx.clock.now(), actor=actor)
    emit(
        as_json,
        {"user": name, "token": token},
        lambda: f"API token for {name} (shown once):\n{token}",
    )


@command("list", users)
def users_list(ctx: Context, as_json: bool) -> None:
    """List users."""
    from engine.identity.users import list_users

    found = list_users(ctx.db)
    emit(
        as_json,
        found,
        lambda: "\n".join(f"{u['name']:20} {', '.join(u['roles'])}" for u in found) or "no users",
    )


@command("demo", users)
def users_demo(ctx: Context, as_json: bool) -> None:
    """Create one demo user per role (password: caseflow-demo) and an admin with every role."""
    from engine.identity.users import add_user

    settings = load_settings()
    db = ctx.db
    created = []
    for role in settings.roles:
        name = role.replace("_", "-")
        add_user(db, settings, name, [role], ctx.clock.now(), DEMO_PASSWORD)
        created.append({"name": name, "roles": [role]})
    add_user(db, settings, "admin", list(settings.roles), ctx.clock.now(), DEMO_PASSWORD)
    created.append({"name": "admin", "roles": list(settings.roles)})
    emit(
        as_json,
        created,
        lambda: (
            "\n".join(f"{u['name']:16} {', '.join(u['roles'])}" for u in created)
            + f"\npassword for all: {DEMO_PASSWORD}"
        ),
    )


@click.group()
def roles() -> None:
    """Roles (the lanes of the diagrams)."""


@command("add", roles)
@click.argument("role_id")
@click.argument("name_zh")
def roles_add(ctx: Context, as_json: bool, role_id: str, name_zh: str) -> None:
    """Add a role to the settings file, e.g. `caseflow roles add night_shift 夜班`."""
    from engine.identity.users import sync_roles

    settings = add_role(role_id, name_zh)
    db = ctx.db
    if os.environ.get("DATABASE_URL") or (
        db.is_sqlite and os.path.exists(db.url.split("///", 1)[-1])
    ):
        with db.write() as session:
            sync_roles(session, settings)
            session.commit()
    emit(
        as_json,
        {"id": role_id, "name_zh": name_zh, "settings": str(settings.path)},
        lambda: f"role {role_id} ({name_zh}) added to {settings.path}",
    )


@command("list", roles)
def roles_list(ctx: Context, as_json: bool) -> None:
    """List the roles."""
    settings = load_settings()
    emit(
        as_json,
        [{"id": k, "name_zh": v} for k, v in settings.roles.items()],
        lambda: "\n".join(f"{k:16} {v}" for k, v in settings.roles.items()),
    )


# Added to the `caseflow` group by caseflow.cli.
COMMANDS = (users, roles)
