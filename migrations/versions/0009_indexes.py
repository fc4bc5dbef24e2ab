"""indexes for years of data: composite (organisation_id, status) on assignments, dates, names, links

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# (table, index name, columns)
INDEXES = [
    ('assignments', 'ix_assignments_organisation_status', ['organisation_id', 'status']),
    ('events', 'ix_events_starts_at', ['starts_at']),
    ('events', 'ix_events_created_by_id', ['created_by_id']),
    ('events', 'ix_events_duplicated_from_id', ['duplicated_from_id']),
    ('quotes', 'ix_quotes_issue_date', ['issue_date']),
    ('quotes', 'ix_quotes_valid_until', ['valid_until']),
    ('quotes', 'ix_quotes_created_by_id', ['created_by_id']),
    ('quote_lines', 'ix_quote_lines_organisation_id', ['organisation_id']),
    ('organisation_categories', 'ix_organisation_categories_category', ['category_id', 'organisation_id']),
    ('audit_entries', 'ix_audit_entries_event_at', ['event_id', 'at']),
    ('invoices', 'ix_invoices_created_by_id', ['created_by_id']),
    ('payments', 'ix_payments_created_by_id', ['created_by_id']),
]


def upgrade():
    # Plain CREATE INDEX (no batch: SQLite creates indexes without rebuilding the table).
    for table, name, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    op.create_index('ix_organisations_name_lower', 'organisations', [sa.text('lower(name)')], unique=False)


def downgrade():
    op.drop_index('ix_organisations_name_lower', table_name='organisations')
    for table, name, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
