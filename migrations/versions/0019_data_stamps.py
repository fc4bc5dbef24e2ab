"""data stamps: a token written by each transaction that changes the dashboards' data, so that
their figures are computed once per change instead of once per page view (app.figures)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'data_stamps',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_data_stamps')),
    )


def downgrade():
    op.drop_table('data_stamps')
