"""Who may see and do what in invoicing, built on the role predicates of ``app.auth``.

Money leaves or enters here, so the rules are the treasury's (admin and treasurer); coordination
reads the invoices of its events but issues nothing. Views call these; the services that issue an
invoice, record a payment or pay an actor out call them again.
Every rule takes ``None`` or an anonymous user and then answers ``False``.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.auth import is_actor, is_actor_of, is_coordination, is_staff, is_treasury
from app.extensions import db
from invoicing.models import Invoice, InvoiceStatus


def can_view_invoices(user) -> bool:
    """Read invoices and credit notes: treasury, and coordination (read-only)."""
    return is_staff(user)


def can_issue_invoice(user) -> bool:
    """Issue an invoice or a credit note: treasury."""
    return is_treasury(user)


def can_record_payment(user) -> bool:
    """Record a client's payment: treasury."""
    return is_treasury(user)


def can_pay_out(user) -> bool:
    """Pay an actor its share (payouts): treasury."""
    return is_treasury(user)


def can_view_payouts(user) -> bool:
    """What an actor was paid, on its card: staff (coordination needs it to staff the next lots)."""
    return is_staff(user)


def can_export_accounts(user) -> bool:
    """Export the accounting entries: treasury."""
    return is_treasury(user)


def can_manage_mandates(user) -> bool:
    """Record an actor's signed billing mandate, revoke one: coordination (admin, coordinator)."""
    return is_coordination(user)


def can_view_mandates(user) -> bool:
    """See the actors' billing mandates and download the signed ones: staff."""
    return is_staff(user)


def can_manage_own_mandate(user, organisation_id: int | None) -> bool:
    """Grant or revoke its own organisation's billing mandate: a person of that organisation."""
    return is_actor_of(user, organisation_id)


def can_answer_self_billing(user, organisation_id: int | None) -> bool:
    """Accept or contest a self-billed invoice issued in its organisation's name: its people only."""
    return is_actor_of(user, organisation_id)


def portal_invoices_clause(user) -> sa.ColumnElement[bool]:
    """The documents an actor reads in its portal, as a condition on ``invoices`` (the one rule: its
    portal's lists and its PDF route both ask it). Issued ones only, and either

    - in its organisation's name: issued under its billing mandate, self-billed, or its own invoice
      recorded by the coordination;
    - or addressed to its organisation by the coordinator: a joint event's commission invoice to the
      member (``references["joint"]``: role ``commission``, the member's ``organisation_id``) and the
      credit notes on it, which carry the same references.

    Anybody but an actor of an organisation reads none (false).
    """
    from invoicing.services.invoices import JOINT_COMMISSION

    if not is_actor(user) or user.organisation_id is None:
        return sa.false()
    organisation_id = user.organisation_id
    return sa.and_(
        Invoice.status == InvoiceStatus.ISSUED,
        sa.or_(
            Invoice.issuer_organisation_id == organisation_id,
            sa.and_(
                Invoice.issuer_organisation_id.is_(None),
                Invoice.references[("joint", "role")].as_string() == JOINT_COMMISSION,
                Invoice.references[("joint", "organisation_id")].as_integer() == organisation_id,
            ),
        ),
    )


def can_read_in_portal(user, invoice: Invoice | None) -> bool:
    """Whether ``user`` reads ``invoice`` (and downloads its PDF) in its portal: :func:`portal_invoices_clause`
    asked about this one invoice."""
    if invoice is None or invoice.id is None or not is_actor(user):
        return False
    found = db.session.scalar(
        sa.select(Invoice.id).where(Invoice.id == invoice.id, portal_invoices_clause(user))
    )
    return found is not None


def may_revoke_mandates(user) -> bool:
    """Reach the revoke route at all: coordination, or an actor (its own mandate, checked on the object
    with :func:`can_manage_own_mandate`)."""
    return is_coordination(user) or is_actor(user)


def may_read_mandates(user) -> bool:
    """Reach a signed mandate's PDF at all: staff, or an actor (its own, checked on the object)."""
    return is_staff(user) or is_actor(user)


def can_set_invoicing_choices(user) -> bool:
    """Choose an event's Chorus Pro circuit and a client's e-invoice format: staff."""
    return is_staff(user)
