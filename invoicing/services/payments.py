"""Payments received on invoices: date, amount, method, reference; partial or full.

An invoice's state (open, partly paid, paid, overdue) is derived from them
(:func:`invoicing.services.invoices.state`). A payment never exceeds what the invoice still awaits:
its gross, less the deposits it deducts, its credit notes and the payments already recorded. A payment
received before the final invoice is recorded on the deposit invoice it settles.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from flask_babel import gettext as _

from app.audit import N_, as_label, as_money, record
from app.db import utcnow
from app.errors import Forbidden, InvalidValue
from app.extensions import db
from app.formatting import money as format_money
from app.models import User
from invoicing.models import Invoice, InvoiceKind, InvoiceOrigin, InvoiceStatus, Payment, PaymentMethod
from invoicing.permissions import can_record_payment
from invoicing.services.invoices import InvoiceRefused, figures
from offers.models import Event

MAX_REFERENCE = 120
#: A payment dated more than this in the future is a typing mistake.
MAX_FUTURE = timedelta(days=7)


def record_payment(
    invoice: Invoice,
    user: User,
    *,
    received_on: date,
    amount: Decimal,
    method: PaymentMethod | str = PaymentMethod.TRANSFER,
    reference: str = "",
) -> Payment:
    """Record money received on ``invoice``.

    Raises :class:`Forbidden` (not treasury), :class:`InvoiceRefused` (a credit note, nothing left to
    pay) and :class:`InvalidValue` (amount, date, method, reference).
    """
    if not can_record_payment(user):
        raise Forbidden(_("Seule la trésorerie enregistre les paiements."))
    if invoice.status != InvoiceStatus.ISSUED or invoice.kind == InvoiceKind.CREDIT_NOTE:
        raise InvoiceRefused(_("Un paiement s'enregistre sur une facture émise, pas sur un avoir."))
    if invoice.origin == InvoiceOrigin.SELF_BILLED.value:
        raise InvoiceRefused(
            _("Une autofacture se règle par le reversement de l'acteur, pas par un paiement du client.")
        )
    if amount is None or not amount.is_finite() or amount <= 0:
        raise InvalidValue(_("Le montant du paiement doit être supérieur à 0."), "amount")
    if amount.as_tuple().exponent < -2:
        raise InvalidValue(_("Un montant a au plus deux décimales (centimes)."), "amount")
    try:
        method = PaymentMethod(method)
    except ValueError as exc:
        raise InvalidValue(_("Choisissez un moyen de paiement de la liste."), "method") from exc
    if received_on is None:
        raise InvalidValue(_("Indiquez la date de réception du paiement."), "received_on")
    if received_on > utcnow().date() + MAX_FUTURE:
        raise InvalidValue(_("La date de réception ne peut pas être dans le futur."), "received_on")
    reference = (reference or "").strip()
    if len(reference) > MAX_REFERENCE:
        raise InvalidValue(_("La référence a au plus 120 caractères."), "reference")
    numbers = figures(invoice)
    if numbers.balance <= 0:
        raise InvoiceRefused(_("Cette facture est déjà entièrement réglée."))
    if amount > numbers.balance:
        record(
            "invoice.refused",
            invoice,
            user=user,
            event_id=invoice.event_id,
            summary=N_(
                "Paiement de %(amount)s refusé sur %(number)s : il reste %(balance)s à payer",
                amount=as_money(amount),
                number=invoice.number,
                balance=as_money(numbers.balance),
            ),
        )
        raise InvalidValue(
            _(
                "Le paiement (%(amount)s) dépasse ce qui reste à payer sur cette facture (%(balance)s).",
                amount=format_money(amount),
                balance=format_money(numbers.balance),
            ),
            "amount",
        )
    payment = Payment(
        invoice=invoice,
        received_on=received_on,
        amount=amount,
        method=method,
        reference=reference,
        created_by_id=user.id,
    )
    db.session.add(payment)
    db.session.flush()
    record(
        "payment.recorded",
        invoice,
        user=user,
        event_id=invoice.event_id,
        summary=N_(
            "Paiement de %(amount)s reçu le %(date)s sur %(number)s (%(method)s)",
            amount=as_money(amount),
            date=received_on.strftime("%d/%m/%Y"),
            number=invoice.number,
            method=as_label(method),
        ),
        changes={"paid": (numbers.paid, numbers.paid + amount)},
    )
    if invoice.event_id is not None:
        from invoicing.services.payouts import sync_payouts

        sync_payouts(db.session.get(Event, invoice.event_id), user)
    return payment
