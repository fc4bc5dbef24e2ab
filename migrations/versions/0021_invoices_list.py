"""invoices list: an index to read the issued invoices latest first, a page at a time

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 18:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    # Plain CREATE INDEX (no batch: SQLite creates indexes without rebuilding the table, and the
    # triggers that freeze issued invoices are not touched).
    op.create_index('ix_invoices_list', 'invoices', ['status', 'issue_date', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_invoices_list', table_name='invoices')
