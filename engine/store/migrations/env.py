"""Alembic environment: migrations run on the connection handed over by engine.store.migrate."""

from alembic import context

from engine.casework import directory, resources  # noqa: F401 - their tables join Base.metadata
from engine.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from engine.store.database import Database

        db = Database(config.get_main_option("sqlalchemy.url"))
        with db.engine.begin() as connection:
            _run(connection)
        return
    _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
