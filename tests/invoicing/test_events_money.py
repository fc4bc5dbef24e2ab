"""The money of many events read at once (``payouts.events_money``, what the treasurer's workbook
reads) is, event by event, what the money page shows (``payouts.event_money``) and what the split
of the accepted quote model gives, figure by figure: deposits, finals and credit notes, payouts paid
and due, joint mode with a commission, events without an accepted quote.

The reference below is the per-event reading the batched one replaced: the quote model, its lines
through ``split_for_quote``, the event's documents and payouts one event at a time."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import sqlalchemy as sa

from app.extensions import db
from app.money import ZERO
from invoicing import split as splitting
from invoicing.models import Invoice, InvoiceKind, InvoiceStatus, Payout, PayoutStatus
from invoicing.services import joint, payouts
from invoicing.services.invoices import figures_of
from invoicing.services.payments import record_payment
from offers.models import Event
from tests.invoicing.test_joint import setup  # noqa: F401  (fixture)
from tests.invoicing.test_workbook import story, treasurer  # noqa: F401  (fixtures)


def reference(event: Event):
    """The event's money read one event at a time from the models, as before batching."""
    quote = payouts.accepted_quote(event)
    if quote is None:
        return None
    split = splitting.split_for_quote(quote)
    documents = list(
        db.session.scalars(
            sa.select(Invoice).where(
                Invoice.event_id == event.id,
                Invoice.status == InvoiceStatus.ISSUED,
                Invoice.kind != InvoiceKind.CREDIT_NOTE,
            )
        )
    )
    numbers = figures_of(documents)
    collected = sum((numbers[d.id].paid for d in documents), ZERO)
    finals = [
        d for d in documents if d.kind == InvoiceKind.INVOICE and numbers[d.id].credited_net < d.total_net
    ]
    billed = (
        sum((d.total_gross - d.prepaid - numbers[d.id].credited_effect for d in documents), ZERO)
        if finals
        else quote.total_gross
    )
    released = splitting.released(
        split, collected=min(collected, billed), billed=billed, release=splitting.release_setting()
    )
    paid: dict[int, D] = {}
    for payout in db.session.scalars(
        sa.select(Payout).where(Payout.event_id == event.id, Payout.status == PayoutStatus.PAID)
    ):
        paid[payout.organisation_id] = paid.get(payout.organisation_id, ZERO) + payout.amount
    actors = [
        (
            a.organisation_id,
            a.name,
            a.share,
            a.commission,
            a.net,
            a.vat_amount,
            a.amount,
            released[a.organisation_id],
            paid.get(a.organisation_id, ZERO),
            released[a.organisation_id] - paid.get(a.organisation_id, ZERO),
        )
        for a in split.actors
    ]
    return (quote.id, f"{quote.number} v{quote.version}", quote.total_gross, split, billed, collected, actors)


def figures(money: payouts.EventMoney):
    if money.quote is None:
        assert (money.split, money.billed, money.collected, money.actors) == (None, ZERO, ZERO, ())
        return None
    actors = [
        (a.organisation_id, a.name, a.share, a.commission, a.net, a.vat, a.amount, a.released, a.paid, a.due)
        for a in money.actors
    ]
    quote = money.quote
    return (quote.id, quote.label, quote.total_gross, money.split, money.billed, money.collected, actors)


def check_every_event() -> dict[int, payouts.EventMoney]:
    events = list(db.session.scalars(sa.select(Event).order_by(Event.id)))
    batched = payouts.events_money(reversed(events))  # any order in, by id out
    assert sorted(batched) == [e.id for e in events]
    for event in events:
        expected = reference(event)
        assert figures(batched[event.id]) == expected, event.title
        assert figures(payouts.event_money(event)) == expected, event.title
    return batched


def test_many_events_at_once_equal_each_event_alone(story, treasurer, make_event):  # noqa: F811
    # The story: a deposit paid, the final invoice, a credit note, 3 000 received, one payout paid
    # and the others due; beside it events without an accepted quote.
    make_event(title="Sans devis")
    make_event(title="Sans devis non plus")
    batched = check_every_event()
    money = batched[story.id]
    kinds = {d.kind for d in db.session.scalars(sa.select(Invoice).where(Invoice.event_id == story.id))}
    assert kinds == {InvoiceKind.DEPOSIT, InvoiceKind.INVOICE, InvoiceKind.CREDIT_NOTE}
    assert {a.paid > 0 for a in money.actors} == {True, False}  # paid and due payouts
    assert money.billed != money.quote.total_gross  # billed from the final, less the credit note
    statuses = set(db.session.scalars(sa.select(Payout.status)))
    assert statuses == {PayoutStatus.PAID, PayoutStatus.DUE}
    assert sum(1 for m in batched.values() if m.quote is None) >= 2


def test_joint_mode_with_a_commission_invoiced_and_partly_paid(setup):  # noqa: F811
    quote, cashier = setup["quote"], setup["treasurer"]
    batched = check_every_event()
    money = batched[setup["event"].id]
    assert money.split.billing_mode.value == "joint_consortium"
    assert money.split.total_commission > 0
    assert money.billed == quote.total_gross  # nothing invoiced yet
    joint.issue_joint(quote, cashier, today=date(2026, 3, 10))
    invoices = db.session.scalars(sa.select(Invoice).where(Invoice.event_id == quote.event_id)).all()
    assert len(invoices) > 1
    record_payment(invoices[0], cashier, received_on=date(2026, 3, 20), amount=invoices[0].total_gross)
    batched = check_every_event()
    assert batched[setup["event"].id].collected == invoices[0].total_gross
