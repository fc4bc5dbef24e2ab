"""invoices: deposits deducted, frozen VAT groups and references, the Factur-X XML; issued invoices
and their lines refuse UPDATE and DELETE at the database level

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-02 04:00:00

"""
from alembic import op
import sqlalchemy as sa

import app.db


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None

IMMUTABLE = "issued invoices are immutable: correct them with a credit note"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER invoices_issued_no_update BEFORE UPDATE ON invoices
        WHEN OLD.status = 'issued'
        BEGIN SELECT RAISE(ABORT, '{IMMUTABLE}'); END""",
    f"""CREATE TRIGGER invoices_issued_no_delete BEFORE DELETE ON invoices
        WHEN OLD.status = 'issued'
        BEGIN SELECT RAISE(ABORT, '{IMMUTABLE}'); END""",
    f"""CREATE TRIGGER invoice_lines_issued_no_update BEFORE UPDATE ON invoice_lines
        WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) = 'issued'
        BEGIN SELECT RAISE(ABORT, '{IMMUTABLE}'); END""",
    f"""CREATE TRIGGER invoice_lines_issued_no_delete BEFORE DELETE ON invoice_lines
        WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) = 'issued'
        BEGIN SELECT RAISE(ABORT, '{IMMUTABLE}'); END""",
]

POSTGRES_FUNCTIONS = [
    f"""CREATE FUNCTION invoices_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'issued' THEN
                RAISE EXCEPTION '{IMMUTABLE}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$""",
    f"""CREATE FUNCTION invoice_lines_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF (SELECT status FROM invoices WHERE id = OLD.invoice_id) = 'issued' THEN
                RAISE EXCEPTION '{IMMUTABLE}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$""",
]
POSTGRES_TRIGGERS = [
    "CREATE TRIGGER invoices_issued_immutable BEFORE UPDATE OR DELETE ON invoices "
    "FOR EACH ROW EXECUTE FUNCTION invoices_refuse_change()",
    "CREATE TRIGGER invoice_lines_issued_immutable BEFORE UPDATE OR DELETE ON invoice_lines "
    "FOR EACH ROW EXECUTE FUNCTION invoice_lines_refuse_change()",
]


def upgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prepaid', app.db.ExactDecimal(14, 2), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('vat_groups', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('references', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('operation_category', sa.String(length=10), server_default='services', nullable=False))
        batch_op.add_column(sa.Column('xml', sa.LargeBinary(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_invoices_prepaid_within_gross'), 'prepaid >= 0 AND prepaid <= total_gross')
        batch_op.create_check_constraint(
            op.f('ck_invoices_operation_category_known'), "operation_category IN ('services', 'goods', 'mixed')"
        )
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vat_mention', sa.String(length=300), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        for statement in POSTGRES_FUNCTIONS + POSTGRES_TRIGGERS:
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS invoice_lines_issued_immutable ON invoice_lines")
        op.execute("DROP TRIGGER IF EXISTS invoices_issued_immutable ON invoices")
        op.execute("DROP FUNCTION IF EXISTS invoice_lines_refuse_change()")
        op.execute("DROP FUNCTION IF EXISTS invoices_refuse_change()")
    else:
        for name in (
                'invoice_lines_issued_no_delete',
            'invoice_lines_issued_no_update',
            'invoices_issued_no_delete',
            'invoices_issued_no_update',
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_column('vat_mention')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoices_operation_category_known'), type_='check')
        batch_op.drop_constraint(op.f('ck_invoices_prepaid_within_gross'), type_='check')
        batch_op.drop_column('xml')
        batch_op.drop_column('operation_category')
        batch_op.drop_column('references')
        batch_op.drop_column('vat_groups')
        batch_op.drop_column('prepaid')
