"""briefing: what briefing sheets (feuilles de route) were e-mailed, per event, actor and reason

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 07:30:00

"""
from alembic import op
import sqlalchemy as sa

import app.db


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'briefing_sends',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=20), nullable=False),
        sa.Column('recipients', sa.Text(), nullable=False),
        sa.Column('sent_at', app.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_briefing_sends_event_id_events'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_briefing_sends_organisation_id_organisations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_briefing_sends')),
        sa.UniqueConstraint('event_id', 'organisation_id', 'reason', name='uq_briefing_sends_event_organisation_reason'),
    )
    with op.batch_alter_table('briefing_sends', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_briefing_sends_organisation_id'), ['organisation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('briefing_sends', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefing_sends_organisation_id'))
    op.drop_table('briefing_sends')
