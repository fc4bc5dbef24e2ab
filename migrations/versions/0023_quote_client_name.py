"""quotes: the client's name frozen at issue in a column of its own, for the lists

The quotes list printed the client's name read from each version's snapshot in SQL: the JSON of
every row was parsed for one value (1.4 ms for a page of 25 real quotes on PostgreSQL). The name is
written with the snapshot when the version is issued, and filled here from the snapshots.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 22:30:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

FROZEN_NAME = {
    "sqlite": "json_extract(snapshot, '$.client.name')",
    "postgresql": "snapshot #>> '{client,name}'",
}


def upgrade():
    # A nullable column: SQLite adds it without rebuilding the table.
    op.add_column("quotes", sa.Column("client_name", sa.String(length=200), nullable=True))
    name = op.get_bind().dialect.name
    op.execute(f"UPDATE quotes SET client_name = {FROZEN_NAME[name]}")


def downgrade():
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.drop_column("client_name")
