"""invoices: an issued invoice's PDF may be stored once after the issuing commit (its PDF columns
only, from empty); every other change to an issued invoice is still refused

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 14:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

IMMUTABLE = "issued invoices are immutable: correct them with a credit note"

#: Every column of ``invoices`` but the PDF's two: an UPDATE of an issued invoice is allowed only
#: when none of these changes (a migration adding a column to ``invoices`` adds it here and
#: recreates the SQLite trigger; ``tests/invoicing/test_invoice_pdf_after_issue.py`` checks it).
FROZEN_COLUMNS = (
    'id', 'issuer', 'issuer_organisation_id', 'kind', 'status', 'number', 'credit_of_id',
    'event_id', 'quote_id', 'client_id', 'issue_date', 'due_date', 'service_date',
    'purchase_order_number', 'seller', 'buyer', 'mentions', 'total_net', 'total_vat',
    'total_gross', 'created_by_id', 'created_at', 'issued_at', 'prepaid', 'vat_groups',
    'references', 'operation_category', 'xml', 'origin',
)

#: The one change allowed to an issued invoice: its PDF and hash written where there was none.
PDF_STORED_ONCE = 'OLD.pdf IS NULL AND NEW.pdf IS NOT NULL AND NEW.pdf_sha256 IS NOT NULL'

SQLITE_UPDATE_BEFORE = f"""CREATE TRIGGER invoices_issued_no_update BEFORE UPDATE ON invoices
        WHEN OLD.status = 'issued'
        BEGIN SELECT RAISE(ABORT, '{IMMUTABLE}'); END"""

SQLITE_UPDATE_AFTER = f"""CREATE TRIGGER invoices_issued_no_update BEFORE UPDATE ON invoices
        WHEN OLD.status = 'issued' AND NOT (
            {PDF_STORED_ONCE}
            AND {' AND '.join(f'NEW."{name}" IS OLD."{name}"' for name in FROZEN_COLUMNS)}
        )
        BEGIN SELECT RAISE(ABORT, '{IMMUTABLE}'); END"""

POSTGRES_FUNCTION_BEFORE = f"""CREATE OR REPLACE FUNCTION invoices_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'issued' THEN
                RAISE EXCEPTION '{IMMUTABLE}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$"""

# Every column but the PDF's compared at once: a column added later is covered without a change.
POSTGRES_FUNCTION_AFTER = f"""CREATE OR REPLACE FUNCTION invoices_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'issued' THEN
                IF TG_OP = 'UPDATE' AND {PDF_STORED_ONCE}
                   AND (to_jsonb(NEW) - 'pdf' - 'pdf_sha256') = (to_jsonb(OLD) - 'pdf' - 'pdf_sha256') THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION '{IMMUTABLE}' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END $$"""


def _replace(sqlite_trigger: str, postgres_function: str) -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(postgres_function)
    else:
        op.execute('DROP TRIGGER IF EXISTS invoices_issued_no_update')
        op.execute(sqlite_trigger)


def upgrade():
    _replace(SQLITE_UPDATE_AFTER, POSTGRES_FUNCTION_AFTER)


def downgrade():
    _replace(SQLITE_UPDATE_BEFORE, POSTGRES_FUNCTION_BEFORE)
