"""events: a public buyer's contract (reference, procedure, CPV codes) and the groupement's terms
(mandataire solidaire or not, a signature block per member on the quote)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # Existing events: no contract fields, a mandataire not jointly liable, no member signatures.
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract_reference', sa.String(100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('procurement_procedure', sa.String(150), server_default='', nullable=False))
        batch_op.add_column(sa.Column('cpv_codes', sa.String(250), server_default='', nullable=False))
        batch_op.add_column(
            sa.Column('joint_and_several', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column('member_signatures', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('member_signatures')
        batch_op.drop_column('joint_and_several')
        batch_op.drop_column('cpv_codes')
        batch_op.drop_column('procurement_procedure')
        batch_op.drop_column('contract_reference')
