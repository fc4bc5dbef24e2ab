"""Payouts (reversements): what the coordinator pays each actor of an event, as the client pays.

The figures come from :mod:`invoicing.split` (share, commission, net owed, VAT on the net) and the
release rule (setting ``payouts.release``); nothing here recomputes them. Payouts are kept in step
with the money received: each payment, credit note or invoice calls :func:`sync_payouts`, which
adds to each actor's unpaid (``due``) payout what was released since, or records an adjusting payout
(negative) when an actor was paid more than is now released. The treasurer marks a due payout paid
with a date and a reference (:func:`mark_paid`); a paid payout never changes: it is corrected by a
new adjusting payout.

What the client was billed, for the release, is the accepted quote's gross until a final invoice
exists, then what the invoices ask of the client less the credit notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _

from app.audit import N_, as_money, record
from app.db import utcnow
from app.errors import DomainError, Forbidden, InvalidValue
from app.extensions import db
from app.money import ZERO
from invoicing import split as splitting
from invoicing.models import PAYOUT_STATES, Invoice, InvoiceKind, InvoiceStatus, Payout, PayoutStatus
from invoicing.permissions import can_pay_out
from invoicing.services.invoices import figures_of
from offers.models import BillingMode, Event, Quote, QuoteStatus

MAX_REFERENCE = 120


@dataclass(frozen=True)
class ActorMoney:
    """One actor's money on one event, for the pages and the statement."""

    organisation_id: int
    name: str
    share: Decimal
    commission: Decimal
    net: Decimal
    vat: Decimal
    amount: Decimal
    released: Decimal
    paid: Decimal
    due: Decimal


@dataclass(frozen=True)
class EventMoney:
    quote: Quote | None
    split: splitting.Split | None
    billed: Decimal
    collected: Decimal
    actors: tuple[ActorMoney, ...]

    @property
    def kept(self) -> Decimal:
        return self.split.kept if self.split else ZERO

    def actor(self, organisation_id: int) -> ActorMoney | None:
        return next((a for a in self.actors if a.organisation_id == organisation_id), None)


def accepted_quote(event: Event) -> Quote | None:
    return db.session.scalar(
        sa.select(Quote).where(Quote.event_id == event.id, Quote.status == QuoteStatus.ACCEPTED).limit(1)
    )


def _billed_and_collected(event: Event, quote: Quote) -> tuple[Decimal, Decimal]:
    documents = list(
        db.session.scalars(
            sa.select(Invoice).where(
                Invoice.event_id == event.id,
                Invoice.status == InvoiceStatus.ISSUED,
                Invoice.kind != InvoiceKind.CREDIT_NOTE,
            )
        )
    )
    by_id = figures_of(documents)
    numbers = [(doc, by_id[doc.id]) for doc in documents]
    collected = sum((f.paid for _d, f in numbers), ZERO)
    finals = [(d, f) for d, f in numbers if d.kind == InvoiceKind.INVOICE and f.credited_net < d.total_net]
    if not finals:
        return quote.total_gross, collected
    return sum((d.total_gross - d.prepaid - f.credited_effect for d, f in numbers), ZERO), collected


def _payouts(event: Event) -> list[Payout]:
    return list(db.session.scalars(sa.select(Payout).where(Payout.event_id == event.id).order_by(Payout.id)))


def event_money(event: Event) -> EventMoney:
    """The split of the event's accepted quote, and per actor what is released, paid and due."""
    quote = accepted_quote(event)
    if quote is None:
        return EventMoney(None, None, ZERO, ZERO, ())
    split = splitting.split_for_quote(quote)
    billed, collected = _billed_and_collected(event, quote)
    released = splitting.released(
        split, collected=min(collected, billed), billed=billed, release=splitting.release_setting()
    )
    paid: dict[int, Decimal] = {}
    for payout in _payouts(event):
        if payout.status == PayoutStatus.PAID:
            paid[payout.organisation_id] = paid.get(payout.organisation_id, ZERO) + payout.amount
    actors = tuple(
        ActorMoney(
            organisation_id=a.organisation_id,
            name=a.name,
            share=a.share,
            commission=a.commission,
            net=a.net,
            vat=a.vat_amount,
            amount=a.amount,
            released=released[a.organisation_id],
            paid=paid.get(a.organisation_id, ZERO),
            due=released[a.organisation_id] - paid.get(a.organisation_id, ZERO),
        )
        for a in split.actors
    )
    return EventMoney(quote, split, billed, collected, actors)


def sync_payouts(event: Event, user=None) -> list[Payout]:
    """Bring the event's payouts in step with what is released: one unpaid payout per actor holding
    what is released and not yet paid (an adjusting, negative one when an actor was paid more).
    Returns the payouts created or changed. Flushes."""
    money = event_money(event)
    if money.split is None or money.split.billing_mode == BillingMode.JOINT_CONSORTIUM:
        # In a joint consortium the client pays each member directly: nothing passes through us.
        return []
    changed = []
    rows = _payouts(event)
    for actor in money.actors:
        split_actor = money.split.actor(actor.organisation_id)
        target = actor.released - actor.paid
        open_rows = [
            p for p in rows if p.organisation_id == actor.organisation_id and p.status == PayoutStatus.DUE
        ]
        current = open_rows[0] if open_rows else None
        if current is None and target == 0:
            continue
        if current is not None and current.amount == target:
            continue
        if current is None:
            last_paid = next(
                (
                    p
                    for p in reversed(rows)
                    if p.organisation_id == actor.organisation_id and p.status == PayoutStatus.PAID
                ),
                None,
            )
            current = Payout(
                event_id=event.id,
                organisation_id=actor.organisation_id,
                adjusts_id=last_paid.id if target < 0 and last_paid is not None else None,
            )
            db.session.add(current)
        current.share = split_actor.share
        current.commission_rate = money.split.commission_rate
        current.commission = split_actor.commission
        current.net_amount = split_actor.net
        current.vat_amount = split_actor.vat_amount
        current.amount = target
        changed.append(current)
    if changed:
        db.session.flush()
        for payout in changed:
            record(
                "payout.due",
                payout,
                user=user,
                event_id=event.id,
                summary=N_(
                    "Reversement dû à %(actor)s : %(amount)s",
                    actor=money.actor(payout.organisation_id).name,
                    amount=as_money(payout.amount),
                ),
                changes={"amount": (None, payout.amount)},
            )
    return changed


def mark_paid(payout: Payout, user, *, paid_on: date, reference: str) -> Payout:
    """The treasurer paid this payout. Raises :class:`Forbidden`, :class:`InvalidValue` (date,
    reference) and :class:`~app.errors.InvalidTransition` (already paid)."""
    if not can_pay_out(user):
        raise Forbidden(_("Seule la trésorerie marque les reversements payés."))
    reference = (reference or "").strip()
    if not reference:
        raise InvalidValue(_("Indiquez la référence du virement (ou du chèque)."), "reference")
    if len(reference) > MAX_REFERENCE:
        raise InvalidValue(_("La référence a au plus 120 caractères."), "reference")
    if paid_on is None:
        raise InvalidValue(_("Indiquez la date du reversement."), "paid_on")
    if paid_on > utcnow().date() + timedelta(days=7):
        raise InvalidValue(_("La date du reversement ne peut pas être dans le futur."), "paid_on")
    if payout.status == PayoutStatus.DUE and payout.amount == 0:
        raise DomainError(_("Ce reversement est nul : rien à payer."))
    PAYOUT_STATES.move(
        payout,
        PayoutStatus.PAID,
        user=user,
        one_shot=True,
        values={"paid_on": paid_on, "reference": reference},
        summary=N_(
            "Reversement de %(amount)s payé à %(actor)s le %(date)s (%(reference)s)",
            amount=as_money(payout.amount),
            actor=payout.organisation.name,
            date=paid_on.strftime("%d/%m/%Y"),
            reference=reference,
        ),
    )
    return payout
