"""lines: whether the VAT rate was chosen by hand, and the reason of a subject seller's 0 % line

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 04:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vat_rate_manual', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('vat_reason', sa.String(length=300), nullable=True))
    # Keep the rates chosen before this revision: a line whose rate is not its seller's default was
    # chosen by hand. The default is 0 % for a seller without VAT (an actor in joint-consortium mode,
    # the coordinator in single-contractor mode), else the lot's category rate. Both columns have
    # the same type and scale, so they compare as stored on SQLite and PostgreSQL alike.
    op.execute(
        """
        UPDATE lines SET vat_rate_manual = TRUE
        WHERE vat_rate <> CASE WHEN (
                EXISTS (SELECT 1 FROM lots l JOIN events e ON e.id = l.event_id
                        JOIN organisations o ON o.id = lines.organisation_id
                        WHERE l.id = lines.lot_id AND e.billing_mode = 'joint_consortium'
                          AND o.vat_regime <> 'subject')
             OR EXISTS (SELECT 1 FROM lots l JOIN events e ON e.id = l.event_id
                        JOIN coordinator_identity ci ON ci.id = 1
                        WHERE l.id = lines.lot_id AND e.billing_mode = 'single_contractor'
                          AND ci.vat_regime <> 'subject'))
            THEN 0
            ELSE (SELECT c.default_vat_rate FROM lots l JOIN categories c ON c.id = l.category_id
                  WHERE l.id = lines.lot_id)
        END
        """
    )


def downgrade():
    with op.batch_alter_table('lines', schema=None) as batch_op:
        batch_op.drop_column('vat_reason')
        batch_op.drop_column('vat_rate_manual')
