"""joint consortium: billing mandates, event and client invoicing choices, answers to self-billed
invoices, and who wrote each invoice (origin)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 05:48:20.922914

"""
from alembic import op
import sqlalchemy as sa

import app.db


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('client_invoicing',
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('einvoice_format', sa.Enum('facturx', 'pdfa', name='einvoice_format', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_invoicing_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_client_invoicing'))
    )
    op.create_table('billing_mandates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Enum('portal', 'upload', name='mandate_source', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('prefix', sa.String(length=10), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('document', sa.LargeBinary(), nullable=True),
    sa.Column('document_name', sa.String(length=200), nullable=True),
    sa.Column('document_sha256', sa.String(length=64), nullable=True),
    sa.Column('granted_by_id', sa.Integer(), nullable=True),
    sa.Column('granted_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('granted_ip', sa.String(length=45), nullable=True),
    sa.Column('revoked_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('revocation_reason', sa.String(length=300), nullable=False),
    sa.CheckConstraint("(source = 'upload') = (document IS NOT NULL)", name=op.f('ck_billing_mandates_upload_has_document')),
    sa.CheckConstraint('(revoked_at IS NULL) = (revoked_by_id IS NULL)', name=op.f('ck_billing_mandates_revocation_complete')),
    sa.CheckConstraint('valid_until IS NULL OR valid_until >= valid_from', name=op.f('ck_billing_mandates_valid_period')),
    sa.ForeignKeyConstraint(['granted_by_id'], ['users.id'], name=op.f('fk_billing_mandates_granted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_billing_mandates_organisation_id_organisations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_billing_mandates_revoked_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_mandates'))
    )
    with op.batch_alter_table('billing_mandates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_mandates_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index('uq_billing_mandates_one_live', ['organisation_id'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))

    op.create_table('event_invoicing',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('chorus_circuit', sa.Enum('each_member', 'global', name='chorus_circuit', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_invoicing_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_event_invoicing'))
    )
    op.create_table('self_billing_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.Enum('accepted', 'contested', name='review_answer', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('answered_at', app.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint("answer <> 'contested' OR reason <> ''", name=op.f('ck_self_billing_reviews_contest_has_reason')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_self_billing_reviews_invoice_id_invoices'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_self_billing_reviews_organisation_id_organisations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_self_billing_reviews_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_self_billing_reviews')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_self_billing_reviews_invoice_id'))
    )
    with op.batch_alter_table('self_billing_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_self_billing_reviews_organisation_id'), ['organisation_id'], unique=False)

    # A plain ADD COLUMN (no CHECK): rebuilding the table on SQLite would drop its immutability triggers.
    op.add_column('invoices', sa.Column('origin', sa.String(length=12), server_default='maillage', nullable=False))



def downgrade():
    # SQLite drops a column in place (3.35+), keeping the triggers that a table rebuild would lose.
    op.execute('ALTER TABLE invoices DROP COLUMN origin')

    with op.batch_alter_table('self_billing_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_self_billing_reviews_organisation_id'))

    op.drop_table('self_billing_reviews')
    op.drop_table('event_invoicing')
    with op.batch_alter_table('billing_mandates', schema=None) as batch_op:
        batch_op.drop_index('uq_billing_mandates_one_live', sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_billing_mandates_organisation_id'))

    op.drop_table('billing_mandates')
    op.drop_table('client_invoicing')
