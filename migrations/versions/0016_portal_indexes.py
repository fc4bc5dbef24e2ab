"""portal indexes: an organisation's assignments by status with their lot, events by id with their date

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 14:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

# The actor portal sorts an organisation's whole history of answered assignments by their event's
# date to pick one page. (organisation_id, status, lot_id) covers the assignments' side of that
# sort (and everything (organisation_id, status) served, which it replaces); (id, starts_at) lets
# SQLite read an event's date from a small index instead of the event's wide row.


def upgrade():
    # Plain CREATE/DROP INDEX (no batch: SQLite creates indexes without rebuilding the table).
    op.create_index(
        'ix_assignments_organisation_status_lot',
        'assignments',
        ['organisation_id', 'status', 'lot_id'],
        unique=False,
    )
    op.drop_index('ix_assignments_organisation_status', table_name='assignments')
    op.create_index('ix_events_id_starts_at', 'events', ['id', 'starts_at'], unique=False)


def downgrade():
    op.drop_index('ix_events_id_starts_at', table_name='events')
    op.create_index(
        'ix_assignments_organisation_status', 'assignments', ['organisation_id', 'status'], unique=False
    )
    op.drop_index('ix_assignments_organisation_status_lot', table_name='assignments')
