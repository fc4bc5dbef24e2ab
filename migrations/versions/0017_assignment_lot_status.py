"""assignments: composite index (lot_id, status) in place of the one on lot_id alone

The events list counts each open lot's accepted and invited assignments, lot by lot: with the
status in the index, each count reads the index alone.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 14:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    # Plain CREATE/DROP INDEX (no batch: SQLite changes indexes without rebuilding the table).
    op.create_index('ix_assignments_lot_status', 'assignments', ['lot_id', 'status'], unique=False)
    op.drop_index('ix_assignments_lot_id', table_name='assignments')


def downgrade():
    op.create_index('ix_assignments_lot_id', 'assignments', ['lot_id'], unique=False)
    op.drop_index('ix_assignments_lot_status', table_name='assignments')
