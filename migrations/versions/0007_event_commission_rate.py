"""events: the commission rate kept from the actors' shares (how the coordination fee is charged)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:00:00

"""
from alembic import op
import sqlalchemy as sa

import app.db


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # Existing events keep charging the fee to the client only: no commission (0).
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('commission_rate', app.db.ExactDecimal(7, 4), server_default='0', nullable=False)
        )
        batch_op.create_check_constraint(
            op.f('ck_events_commission_rate_non_negative'), 'commission_rate >= 0'
        )


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_events_commission_rate_non_negative'), type_='check')
        batch_op.drop_column('commission_rate')
