"""store (a store's name and address, for the messages that tell customers where to go) and
service_item.prep_notes (what a customer must know or do before the appointment, told in the
confirmation and the reminder).

Stores were only a text on their resources: each store a resource names gets a row, without an
address until one is given (`caseflow demo-data` gives the demo stores theirs). Items get empty
notes.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("address", sa.String(300), nullable=False),
    )
    op.execute(
        "INSERT INTO store (name, address) SELECT DISTINCT store, '' FROM resource"
        " WHERE store <> ''"
    )
    # Plain ALTER TABLE with a server default for the rows already there (see 0010).
    op.add_column(
        "service_item",
        sa.Column("prep_notes", sa.Text(), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_column("service_item", "prep_notes")
    op.drop_table("store")
