"""payouts list: an index to read each status latest first, a page at a time

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 14:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    # Plain CREATE INDEX (no batch: SQLite creates indexes without rebuilding the table).
    op.create_index('ix_payouts_list', 'payouts', ['status', 'paid_on', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_payouts_list', table_name='payouts')
