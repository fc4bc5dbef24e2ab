"""hardening: a quote remembers the form submission that issued it (idempotency token); categories
carry a version for their edit form

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    # Quotes issued before have no token: only new submissions are de-duplicated.
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issue_token', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_quotes_issue_token'), ['issue_token'])


    # Every edit form checks the version it was loaded with; existing categories start at 1.
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version_id', sa.Integer(), server_default='1', nullable=False))
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.alter_column('version_id', server_default=None)


def downgrade():
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_column('version_id')
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_quotes_issue_token'), type_='unique')
        batch_op.drop_column('issue_token')
