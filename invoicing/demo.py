"""Demo: the Assises invoiced, so a newcomer sees the money flow end to end.

A 30 % deposit once the quote is accepted, paid by transfer; after the event, a final invoice that
deducts it. That invoice went out with the wrong purchase-order reference: a credit note cancels it
and a new final invoice is issued, which the client pays. The actors' payouts follow the payments;
the treasurer has paid eight of them. No e-mail is sent by the demo.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from app.demo import demo_user, register_demo_step
from app.extensions import db


@register_demo_step(80, "invoices")
def load_invoices() -> None:
    from invoicing.models import Invoice
    from invoicing.services.invoices import issue_credit_note, issue_deposit, issue_final
    from invoicing.services.payments import record_payment
    from offers.demo import demo_event
    from offers.models import Quote, QuoteStatus

    event = demo_event()
    if event is None or db.session.scalar(sa.select(Invoice.id).where(Invoice.event_id == event.id).limit(1)):
        return
    quote = db.session.scalar(
        sa.select(Quote).where(Quote.event_id == event.id, Quote.status == QuoteStatus.ACCEPTED)
    )
    if quote is None:
        return
    treasurer = demo_user("tresorerie@example.org")
    deposit = issue_deposit(quote, treasurer, percent=Decimal("30"), today=date(2011, 3, 31))
    record_payment(
        deposit,
        treasurer,
        received_on=date(2011, 4, 8),
        amount=deposit.total_gross,
        reference="VIR NANTES METROPOLE 2011-0331",
    )
    first = issue_final(quote, treasurer, today=date(2011, 4, 18))
    issue_credit_note(
        first,
        treasurer,
        reason="Référence d'engagement erronée : annule et remplace",
        today=date(2011, 4, 19),
    )
    final = issue_final(quote, treasurer, today=date(2011, 4, 19))
    record_payment(
        final,
        treasurer,
        received_on=date(2011, 5, 27),
        amount=final.total_gross - final.prepaid,
        reference="VIR NANTES METROPOLE 2011-0419",
    )
    # The treasurer paid the first eight actors (alphabetical) by transfer; the others are still due.
    from invoicing.models import Payout, PayoutStatus
    from invoicing.services.payouts import mark_paid

    due = db.session.scalars(
        sa.select(Payout).where(Payout.event_id == event.id, Payout.status == PayoutStatus.DUE)
    ).all()
    for payout in sorted(due, key=lambda p: p.organisation.name.lower())[:8]:
        mark_paid(payout, treasurer, paid_on=date(2011, 6, 10), reference=f"VIR REVERS 2011-{payout.id:03d}")
    db.session.flush()
