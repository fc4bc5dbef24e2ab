"""work done: each accepted quote's lines summed per actor and category (work_totals), and each pair
of actors who ever worked on the same event with the first such event (collaborations)

The dashboards summed every line of the year and read every pair of actors of every year again to
find first-time collaborations; both tables keep what they need (written when a quote is accepted,
the pairs refreshed when an event is cancelled or moved). Filled here from the accepted quotes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 19:30:00

"""
from alembic import op
import sqlalchemy as sa

from app.db import Money


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

# A line (not the fee) of an actor on an accepted quote, summed per quote, actor and category.
FILL_TOTALS = """
INSERT INTO work_totals (quote_id, organisation_id, category_name, event_id, net)
SELECT quote_lines.quote_id, quote_lines.organisation_id, quote_lines.category_name, quotes.event_id,
       sum(quote_lines.net)
FROM quote_lines JOIN quotes ON quotes.id = quote_lines.quote_id
WHERE quotes.status = 'accepted' AND quote_lines.kind = 'line' AND quote_lines.organisation_id IS NOT NULL
GROUP BY quote_lines.quote_id, quote_lines.organisation_id, quote_lines.category_name, quotes.event_id
"""
# An actor worked on an event when it has work on its accepted quote and the event is not
# cancelled; a pair's first event is the earliest by start, then by id.
FILL_PAIRS = """
INSERT INTO collaborations (first_id, second_id, event_id)
WITH worked AS (
    SELECT DISTINCT work_totals.event_id, work_totals.organisation_id, events.starts_at
    FROM work_totals JOIN events ON events.id = work_totals.event_id
    WHERE events.status != 'cancelled'
)
SELECT first_id, second_id, event_id FROM (
    SELECT a.organisation_id AS first_id, b.organisation_id AS second_id, a.event_id,
           row_number() OVER (PARTITION BY a.organisation_id, b.organisation_id
                              ORDER BY a.starts_at, a.event_id) AS rank
    FROM worked a JOIN worked b ON b.event_id = a.event_id AND a.organisation_id < b.organisation_id
) AS ranked
WHERE rank = 1
"""


def upgrade():
    op.create_table(
        'work_totals',
        sa.Column('quote_id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('category_name', sa.String(length=120), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('net', Money(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_work_totals_event_id_events'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_work_totals_organisation_id_organisations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['quote_id'], ['quotes.id'], name=op.f('fk_work_totals_quote_id_quotes'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('quote_id', 'organisation_id', 'category_name', name=op.f('pk_work_totals')),
    )
    op.create_index(op.f('ix_work_totals_event_id'), 'work_totals', ['event_id'], unique=False)
    op.create_index(op.f('ix_work_totals_organisation_id'), 'work_totals', ['organisation_id'], unique=False)
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
    op.execute(FILL_TOTALS)
    op.execute(FILL_PAIRS)


def downgrade():
    op.drop_index(op.f('ix_collaborations_second_id'), table_name='collaborations')
    op.drop_index(op.f('ix_collaborations_event_id'), table_name='collaborations')
    op.drop_table('collaborations')
    op.drop_index(op.f('ix_work_totals_organisation_id'), table_name='work_totals')
    op.drop_index(op.f('ix_work_totals_event_id'), table_name='work_totals')
    op.drop_table('work_totals')
