"""case.outcome (the outcome its end event declares) with the KPI values taken when a case
ends (promised_at, served_at, satisfaction); process_version.kpi_fields; the kpi_day rollup

Cases cancelled before this revision were cancelled from the case page or the command line,
so their outcome is cancelled_by_company. The rollup starts empty: `caseflow kpi rebuild`
fills it from the case and task rows (it needs the company's time zone from the settings).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


# Plain ALTER TABLE for added nullable columns (a batch copy of "case" would trip the
# foreign keys of task, timer, event and outbox).


def upgrade() -> None:
    op.add_column("case", sa.Column("outcome", sa.String(40), nullable=True))
    op.add_column("case", sa.Column("promised_at", sa.DateTime(), nullable=True))
    op.add_column("case", sa.Column("served_at", sa.DateTime(), nullable=True))
    op.add_column("case", sa.Column("satisfaction", sa.Float(), nullable=True))
    op.add_column("process_version", sa.Column("kpi_fields", sa.JSON(), nullable=True))
    op.execute(
        "UPDATE \"case\" SET outcome = 'cancelled_by_company'"
        " WHERE status = 'cancelled' AND outcome IS NULL"
    )
    op.create_table(
        "kpi_day",
        sa.Column("staff", sa.String(100), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("process_key", sa.String(200), primary_key=True),
        sa.Column("metric", sa.String(60), primary_key=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_kpi_day_day_staff", "kpi_day", ["day", "staff", "metric", "count", "total"]
    )


def downgrade() -> None:
    op.drop_index("ix_kpi_day_day_staff", table_name="kpi_day")
    op.drop_table("kpi_day")
    op.drop_column("process_version", "kpi_fields")
    for name in ("satisfaction", "served_at", "promised_at", "outcome"):
        op.drop_column("case", name)
