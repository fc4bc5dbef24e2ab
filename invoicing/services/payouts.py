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

from collections import namedtuple
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _

from app.audit import N_, as_money, record
from app.db import stream, utcnow
from app.errors import DomainError, Forbidden, InvalidValue
from app.extensions import db
from app.models import Organisation
from app.money import ZERO
from invoicing import split as splitting
from invoicing.models import PAYOUT_STATES, Invoice, InvoiceKind, InvoiceStatus, Payout, PayoutStatus
from invoicing.permissions import can_pay_out
from invoicing.services.invoices import figures_of
from offers.models import BillingMode, Event, Quote, QuoteLine, QuoteStatus
from offers.services.quotes import quote_billing_mode

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
class AcceptedQuote:
    """What the money reads of an event's accepted quote: its number and totals (never its snapshot,
    lines or PDF: :func:`accepted_quote` gives the model)."""

    id: int
    event_id: int
    number: str
    version: int
    total_net: Decimal
    total_gross: Decimal

    @property
    def label(self) -> str:
        return f"{self.number} v{self.version}"


@dataclass(frozen=True)
class EventMoney:
    quote: AcceptedQuote | None
    split: splitting.Split | None
    billed: Decimal
    collected: Decimal
    actors: tuple[ActorMoney, ...]

    @property
    def kept(self) -> Decimal:
        return self.split.kept if self.split else ZERO

    def actor(self, organisation_id: int) -> ActorMoney | None:
        return next((a for a in self.actors if a.organisation_id == organisation_id), None)


NO_MONEY = EventMoney(None, None, ZERO, ZERO, ())

#: Events are read this many at a time (a bound on the SQL ``IN`` lists and on what is held).
CHUNK = 500

#: The columns of a quote line the split reads (:func:`invoicing.split.split_of_frozen_lines`), and
#: the actor's regime today, for a quote frozen before the regime was.
_SPLIT_LINE_COLUMNS = (
    QuoteLine.quote_id,
    QuoteLine.id,
    QuoteLine.kind,
    QuoteLine.organisation_id,
    QuoteLine.organisation_name,
    QuoteLine.net,
    QuoteLine.vat_rate,
    Organisation.vat_regime.label("current_vat_regime"),
)


def accepted_quote(event: Event) -> Quote | None:
    return db.session.scalar(
        sa.select(Quote).where(Quote.event_id == event.id, Quote.status == QuoteStatus.ACCEPTED).limit(1)
    )


def _billed_and_collected(quote_gross: Decimal, documents, numbers) -> tuple[Decimal, Decimal]:
    """What the client was billed (the quote's gross until a final invoice exists, then what the
    invoices ask less the credit notes) and paid, from the event's issued documents other than
    credit notes and their :func:`~invoicing.services.invoices.figures_of`."""
    pairs = [(doc, numbers[doc.id]) for doc in documents]
    collected = sum((f.paid for _d, f in pairs), ZERO)
    finals = [(d, f) for d, f in pairs if d.kind == InvoiceKind.INVOICE and f.credited_net < d.total_net]
    if not finals:
        return quote_gross, collected
    return sum((d.total_gross - d.prepaid - f.credited_effect for d, f in pairs), ZERO), collected


def _payouts(event: Event) -> list[Payout]:
    return list(db.session.scalars(sa.select(Payout).where(Payout.event_id == event.id).order_by(Payout.id)))


def _money(
    split: splitting.Split,
    quote: AcceptedQuote,
    documents,
    numbers,
    paid: dict[int, Decimal],
    release: splitting.PayoutRelease,
) -> EventMoney:
    billed, collected = _billed_and_collected(quote.total_gross, documents, numbers)
    released = splitting.released(split, collected=min(collected, billed), billed=billed, release=release)
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


@dataclass(frozen=True)
class MoneyRead:
    """One event's money as :func:`iter_events_money` reads it, with what was read to make it:
    the event's issued documents other than credit notes (rows), their figures, and the accepted
    quote's lines (rows, in the quote's order; empty without an accepted quote)."""

    event: object
    money: EventMoney
    documents: list
    figures: dict
    lines: list


def iter_events_money(events, *, line_columns=(), chunk: int = CHUNK) -> Iterator[MoneyRead]:
    """:func:`event_money` for many events, by start date (then id), in a fixed number of queries per
    ``chunk`` events: the accepted quotes (their figures, the frozen actors and billing mode, never
    the rest of the snapshot), their lines as plain rows (streamed, one quote's held at a time), the
    issued documents and their figures, the sums paid out per actor.

    ``events`` are models or rows with ``id``, ``starts_at`` and ``commission_rate``;
    ``line_columns``, more columns of :class:`~offers.models.QuoteLine` to read with the lines (the
    treasurer's workbook writes them as they come)."""
    events = sorted(events, key=lambda e: (e.starts_at, e.id))
    if not events:
        return
    release = splitting.release_setting()
    for start in range(0, len(events), chunk):
        yield from _read_chunk(events[start : start + chunk], tuple(line_columns), release)


#: An issued document as the money reads it (what :func:`figures_of` and
#: :func:`~invoicing.services.invoices.asks_the_client` read).
DocumentFigures = namedtuple(
    "DocumentFigures", "id event_id kind origin references total_net total_gross prepaid"
)


def _read_chunk(events: list, line_columns: tuple, release: splitting.PayoutRelease) -> Iterator[MoneyRead]:
    ids = [e.id for e in events]
    quotes: dict[int, AcceptedQuote] = {}
    frozen: dict[int, tuple[dict, str | None]] = {}
    for row in db.session.execute(
        sa.select(
            Quote.id,
            Quote.event_id,
            Quote.number,
            Quote.version,
            Quote.total_net,
            Quote.total_gross,
            Quote.snapshot["actors"].label("actors"),
            Quote.snapshot[("event", "billing_mode")].as_string().label("billing_mode"),
        )
        .where(Quote.event_id.in_(ids), Quote.status == QuoteStatus.ACCEPTED)
        .order_by(Quote.id)
    ):
        if row.event_id in quotes:
            continue
        quotes[row.event_id] = AcceptedQuote(
            row.id, row.event_id, row.number, row.version, row.total_net, row.total_gross
        )
        frozen[row.event_id] = (row.actors or {}, row.billing_mode)
    documents: dict[int, list[DocumentFigures]] = {i: [] for i in ids}
    for row in db.session.execute(
        sa.select(*(getattr(Invoice, name) for name in DocumentFigures._fields))
        .where(
            Invoice.event_id.in_(ids),
            Invoice.status == InvoiceStatus.ISSUED,
            Invoice.kind != InvoiceKind.CREDIT_NOTE,
        )
        .order_by(Invoice.id)
    ):
        documents[row.event_id].append(DocumentFigures(*row))
    numbers = figures_of(document for group in documents.values() for document in group)
    paid: dict[int, dict[int, Decimal]] = {}
    if quotes:
        for event_id, organisation_id, amount in db.session.execute(
            sa.select(Payout.event_id, Payout.organisation_id, sa.func.sum(Payout.amount))
            .where(Payout.event_id.in_(list(quotes)), Payout.status == PayoutStatus.PAID)
            .group_by(Payout.event_id, Payout.organisation_id)
        ):
            paid.setdefault(event_id, {})[organisation_id] = amount
    lines = _quote_lines([quote.id for quote in quotes.values()], line_columns)
    pending = next(lines, None)
    for event in events:
        quote = quotes.get(event.id)
        event_documents = documents[event.id]
        if quote is None:
            yield MoneyRead(event, NO_MONEY, event_documents, numbers, [])
            continue
        quote_lines = []
        while pending is not None and pending.quote_id == quote.id:
            quote_lines.append(pending)
            pending = next(lines, None)
        actors, billing_mode = frozen[event.id]
        split = splitting.split_of_frozen_lines(
            quote_lines,
            frozen_actors=actors,
            commission_rate=event.commission_rate,
            billing_mode=quote_billing_mode(_FrozenEvent(billing_mode)),
            total_net=quote.total_net,
            current_regime=lambda line: line.current_vat_regime,
        )
        money = _money(split, quote, event_documents, numbers, paid.get(event.id, {}), release)
        yield MoneyRead(event, money, event_documents, numbers, quote_lines)
    if pending is not None:  # the lines came in another order than the events: a bug, never data
        raise RuntimeError(f"quote line {pending.id} read out of its event's order")


@dataclass(frozen=True)
class _FrozenEvent:
    """A quote reduced to the one value of its snapshot :func:`quote_billing_mode` reads."""

    billing_mode: str | None

    @property
    def snapshot(self) -> dict:
        return {} if self.billing_mode is None else {"event": {"billing_mode": self.billing_mode}}


def _quote_lines(quote_ids: list[int], line_columns: tuple) -> Iterator:
    """The lines of ``quote_ids`` (one per event) as rows, by the event's start date then id
    (:func:`iter_events_money`'s order), each quote's in its order."""
    if not quote_ids:
        return iter(())
    query = (
        sa.select(*_SPLIT_LINE_COLUMNS, *line_columns)
        .join(Quote, QuoteLine.quote_id == Quote.id)
        .join(Event, Quote.event_id == Event.id)
        .outerjoin(Organisation, QuoteLine.organisation_id == Organisation.id)
        .where(QuoteLine.quote_id.in_(quote_ids))
        .order_by(Event.starts_at, Event.id, QuoteLine.position, QuoteLine.id)
    )
    return iter(stream(db.session, query))


def events_money(events) -> dict[int, EventMoney]:
    """:func:`event_money` of each event, by event id, in a fixed number of queries."""
    return {read.event.id: read.money for read in iter_events_money(events)}


def event_money(event: Event) -> EventMoney:
    """The split of the event's accepted quote, and per actor what is released, paid and due."""
    return events_money([event])[event.id]


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
    if payout.status == PayoutStatus.DUE and payout.amount > 0:
        from invoicing.services.self_billing import payout_block

        blocked = payout_block(payout.event_id, payout.organisation_id)
        if blocked:
            raise DomainError(blocked)
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
