"""collaborations: each pair of actors who ever worked on the same event, with the first such event

The dashboards counted first-time collaborations by reading every pair of every year's work
again; the table keeps each pair's first event (kept up to date when a quote is accepted, an
event cancelled or moved). Filled here from the accepted quotes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 19:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

# An actor worked on an event when a line (not the fee) of the event's accepted quote is theirs
# and the event is not cancelled; a pair's first event is the earliest by start, then by id.
FILL = """
INSERT INTO collaborations (first_id, second_id, event_id)
SELECT first_id, second_id, event_id FROM (
    SELECT a.organisation_id AS first_id, b.organisation_id AS second_id, a.event_id,
           row_number() OVER (PARTITION BY a.organisation_id, b.organisation_id
                              ORDER BY a.starts_at, a.event_id) AS rank
    FROM worked a JOIN worked b ON b.event_id = a.event_id AND a.organisation_id < b.organisation_id
) AS ranked
WHERE rank = 1
"""
WORKED = """
WITH worked AS (
    SELECT DISTINCT quotes.event_id, quote_lines.organisation_id, events.starts_at
    FROM quote_lines
    JOIN quotes ON quotes.id = quote_lines.quote_id
    JOIN events ON events.id = quotes.event_id
    WHERE quotes.status = 'accepted' AND events.status != 'cancelled'
      AND quote_lines.kind = 'line' AND quote_lines.organisation_id IS NOT NULL
)
"""


def upgrade():
    op.create_table(
        'collaborations',
        sa.Column('first_id', sa.Integer(), nullable=False),
        sa.Column('second_id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.CheckConstraint('first_id < second_id', name=op.f('ck_collaborations_pair_ordered')),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_collaborations_event_id_events'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['first_id'], ['organisations.id'], name=op.f('fk_collaborations_first_id_organisations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['second_id'], ['organisations.id'], name=op.f('fk_collaborations_second_id_organisations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('first_id', 'second_id', name=op.f('pk_collaborations')),
    )
    op.create_index(op.f('ix_collaborations_event_id'), 'collaborations', ['event_id'], unique=False)
    op.create_index(op.f('ix_collaborations_second_id'), 'collaborations', ['second_id'], unique=False)
    # INSERT … WITH … SELECT is not portable; the CTE goes inside the SELECT.
    op.execute(FILL.replace("SELECT first_id, second_id, event_id FROM (", WORKED + "SELECT first_id, second_id, event_id FROM (", 1))


def downgrade():
    op.drop_index(op.f('ix_collaborations_second_id'), table_name='collaborations')
    op.drop_index(op.f('ix_collaborations_event_id'), table_name='collaborations')
    op.drop_table('collaborations')
