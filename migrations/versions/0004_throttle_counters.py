"""throttle: atomic counters instead of one row per failure; login-link requests answered outside the request

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 05:00:00

"""
from alembic import op
import sqlalchemy as sa

import app.db


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('throttle_counters',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_throttle_counters'))
    )
    with op.batch_alter_table('throttle_counters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_throttle_counters_expires_at'), ['expires_at'], unique=False)

    op.create_table('login_link_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('requested_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('processed_at', app.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_link_requests'))
    )
    with op.batch_alter_table('login_link_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_link_requests_processed_at'), ['processed_at'], unique=False)

    # Failures counted the old way only matter for 15 minutes: they are not carried over.
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_login_failures_key_at')
    op.drop_table('login_failures')


def downgrade():
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('at', app.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures'))
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_login_failures_key_at', ['key', 'at'], unique=False)

    with op.batch_alter_table('login_link_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_link_requests_processed_at'))
    op.drop_table('login_link_requests')
    with op.batch_alter_table('throttle_counters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_throttle_counters_expires_at'))
    op.drop_table('throttle_counters')
