"""What the treasurer's exports read: a period (optionally one event or one client) and the money in it.

The workbook (:mod:`invoicing.workbook`) and the accounting journal (:mod:`invoicing.journal`) read the
same :class:`Treasury`, so their totals cannot drift apart. Nothing here computes a figure the rules
already give: invoice figures are :func:`invoicing.services.invoices.figures_of`, an event's split and
payouts :func:`invoicing.services.payouts.iter_events_money` (what ``event_money`` gives one event,
read for a few hundred events at a time), amounts are read through the models' column types (cents
on SQLite, NUMERIC on PostgreSQL, ``Decimal`` euros either way).

**What the period selects**

- documents (invoices, deposits, credit notes) *issued* in the period;
- payments *received* in the period;
- payouts *paid* in the period, and the payouts still to pay of the events in the export;
- the events in the export: those with an accepted quote that take place in the period, and those
  any of the above belongs to. Their figures (quoted, invoiced, collected, owed to the actors…) are
  the event's to date, as its money page shows them.

With an event or a client, everything is restricted to it.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cached_property

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload

from app.dates import LOCAL_TZ
from app.db import stream
from app.errors import InvalidValue
from app.extensions import db
from app.models import Client, Organisation
from app.money import ZERO
from invoicing.models import Invoice, InvoiceKind, InvoiceStatus, Payment, Payout, PayoutStatus
from invoicing.services.invoices import Figures, asks_the_client, settled_figures
from invoicing.services.payouts import CHUNK, EventMoney, iter_events_money
from offers.models import Event, Quote, QuoteStatus


@dataclass(frozen=True)
class Period:
    """A validated export request: dates inclusive, optional event and client ids."""

    date_from: date
    date_to: date
    event_id: int | None = None
    client_id: int | None = None

    @property
    def starts(self) -> datetime:
        """The first instant of ``date_from`` in Paris, as an aware datetime."""
        return datetime.combine(self.date_from, time(), tzinfo=LOCAL_TZ)

    @property
    def ends(self) -> datetime:
        """The first instant after ``date_to`` in Paris."""
        return datetime.combine(self.date_to + timedelta(days=1), time(), tzinfo=LOCAL_TZ)

    def label(self) -> str:
        return f"{self.date_from:%d/%m/%Y} – {self.date_to:%d/%m/%Y}"


def _id_of(value, model, message: str, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, model):
        return value.id
    try:
        identifier = int(value)
    except (TypeError, ValueError):
        raise InvalidValue(message, field) from None
    if identifier <= 0 or db.session.get(model, identifier) is None:
        raise InvalidValue(message, field)
    return identifier


def make_period(date_from: date | None, date_to: date | None, event=None, client=None) -> Period:
    """A :class:`Period`, or :class:`~app.errors.InvalidValue` with a French message naming the field.

    ``event`` and ``client`` are models, ids or ``None``.
    """
    if date_from is None:
        raise InvalidValue(_("Indiquez la date de début de la période."), "date_from")
    if date_to is None:
        raise InvalidValue(_("Indiquez la date de fin de la période."), "date_to")
    if date_to < date_from:
        raise InvalidValue(
            _(
                "La fin de la période (%(end)s) précède son début (%(start)s).",
                end=f"{date_to:%d/%m/%Y}",
                start=f"{date_from:%d/%m/%Y}",
            ),
            "date_to",
        )
    event_id = _id_of(event, Event, _("Cet événement n'existe pas."), "event")
    client_id = _id_of(client, Client, _("Ce client n'existe pas."), "client")
    if event_id is not None and client_id is not None:
        if db.session.get(Event, event_id).client_id != client_id:
            raise InvalidValue(_("Cet événement n'est pas celui de ce client."), "event")
    return Period(date_from, date_to, event_id, client_id)


@dataclass(frozen=True)
class ActorFigures:
    """One actor's money on one event (:class:`invoicing.services.payouts.ActorMoney`'s figures)."""

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
class EventRow:
    """One event of the export with its figures to date, as its money page shows them (plain values:
    the quote and its lines are not kept)."""

    event_id: int
    title: str
    starts_at: datetime
    client_name: str
    quote_number: str
    quote_net: Decimal | None
    quote_gross: Decimal | None
    #: What each document asked of the client: deposits, and finals less the deposits they deduct.
    invoiced: Decimal
    credited: Decimal
    collected: Decimal
    #: Kept by the coordination: the fee line and the commissions (excl. VAT).
    kept: Decimal
    actors: tuple[ActorFigures, ...]

    @property
    def outstanding(self) -> Decimal:
        return self.invoiced - self.credited - self.collected

    @property
    def owed(self) -> Decimal:
        """What the actors are owed in all (VAT on their nets included)."""
        return sum((a.amount for a in self.actors), ZERO)

    @property
    def released(self) -> Decimal:
        return sum((a.released for a in self.actors), ZERO)

    @property
    def paid_out(self) -> Decimal:
        return sum((a.paid for a in self.actors), ZERO)

    @property
    def to_pay_out(self) -> Decimal:
        """Released and not paid yet (the money page's "Reste à payer")."""
        return sum((a.due for a in self.actors), ZERO)


def _event_row(event, summary: tuple[Decimal, Decimal, Decimal], money: EventMoney) -> EventRow:
    """``event``: a row of :attr:`Treasury.events`."""
    quote = money.quote
    invoiced, credited, collected = summary
    return EventRow(
        event_id=event.id,
        title=event.title,
        starts_at=event.starts_at,
        client_name=event.client_name or "",
        quote_number=quote.label if quote else "",
        quote_net=quote.total_net if quote else None,
        quote_gross=quote.total_gross if quote else None,
        invoiced=invoiced,
        credited=credited,
        collected=collected,
        kept=money.kept,
        actors=tuple(
            ActorFigures(
                a.organisation_id,
                a.name,
                a.share,
                a.commission,
                a.net,
                a.vat,
                a.amount,
                a.released,
                a.paid,
                a.due,
            )
            for a in money.actors
        ),
    )


def money_summary(documents: list[Invoice], numbers: dict[int, Figures]) -> tuple[Decimal, Decimal, Decimal]:
    """Invoiced, credited and collected on an event's issued documents, as its money page adds them
    up: deposits and finals less the deposits they deduct; what credit notes take off the client's
    debt; what the client paid."""
    billed = [d for d in documents if asks_the_client(d)]
    invoiced = sum((d.total_gross - d.prepaid for d in billed), ZERO)
    credited = sum((numbers[d.id].credited_effect for d in billed), ZERO)
    collected = sum((numbers[d.id].paid for d in billed), ZERO)
    return invoiced, credited, collected


def credit_note_effects(notes: list[Invoice]) -> dict[int, tuple[Decimal, Decimal]]:
    """For each credit note, what it takes off the client's debt and what it frees of the deposits
    its invoice deducted: ``(effect, freed)``, ``effect + freed`` = its gross.

    The credited invoice's :attr:`Figures.credited_effect` is min(Σ credit notes, gross − deposits):
    its credit notes are taken in the order they were issued, each taking off what is left of
    gross − deposits, the rest freeing deposits. Over all of an invoice's credit notes the effects
    add up to its ``credited_effect``.
    """
    credited_ids = {note.credit_of_id for note in notes}
    if not credited_ids:
        return {}
    invoices = {i.id: i for i in db.session.scalars(sa.select(Invoice).where(Invoice.id.in_(credited_ids)))}
    every_note = db.session.scalars(
        sa.select(Invoice)
        .where(Invoice.credit_of_id.in_(credited_ids), Invoice.status == InvoiceStatus.ISSUED)
        .order_by(Invoice.issue_date, Invoice.id)
    )
    left = {i.id: i.total_gross - i.prepaid for i in invoices.values()}
    result = {}
    for note in every_note:
        effect = min(note.total_gross, left[note.credit_of_id])
        left[note.credit_of_id] -= effect
        result[note.id] = (effect, note.total_gross - effect)
    return result


#: A document of the period as the workbook shows it: the event's title, the buyer's name, the date
#: of its last payment (any date: "paid on" is the day it was settled) and, for a credit note, the
#: number of the invoice it credits.
DocumentRow = namedtuple(
    "DocumentRow",
    "id number kind credit_of_id event_id event_title buyer_name issue_date due_date vat_groups "
    "total_net total_vat total_gross prepaid origin issuer_organisation_id last_paid_on credited_number",
)

#: An event of the period (:attr:`Treasury.events`).
EventOfPeriod = namedtuple("EventOfPeriod", "id title starts_at client_id client_name commission_rate")


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Treasury:
    """The money of one period, read once for every sheet and journal (see the module docstring).

    What the period selects is said once, by the ``_…_query`` methods; the lists read models (the
    journal's), the ``…_rows`` methods stream plain rows (the workbook's)."""

    def __init__(self, period: Period):
        self.period = period

    # --- filters ---------------------------------------------------------------------------------

    def _invoice_filters(self, query):
        if self.period.event_id is not None:
            query = query.where(Invoice.event_id == self.period.event_id)
        if self.period.client_id is not None:
            query = query.where(Invoice.client_id == self.period.client_id)
        return query

    def _event_filters(self, query):
        if self.period.event_id is not None:
            query = query.where(Event.id == self.period.event_id)
        if self.period.client_id is not None:
            query = query.where(Event.client_id == self.period.client_id)
        return query

    def _documents_query(self, *columns):
        """Invoices, deposits and credit notes issued in the period."""
        query = (
            sa.select(*columns)
            .select_from(Invoice)
            .where(
                Invoice.status == InvoiceStatus.ISSUED,
                Invoice.issue_date >= self.period.date_from,
                Invoice.issue_date <= self.period.date_to,
            )
        )
        return self._invoice_filters(query)

    def _payments_query(self, *columns):
        """Payments received in the period (joined to their invoice)."""
        query = (
            sa.select(*columns)
            .select_from(Payment)
            .join(Invoice, Payment.invoice_id == Invoice.id)
            .where(Payment.received_on >= self.period.date_from, Payment.received_on <= self.period.date_to)
        )
        return self._invoice_filters(query)

    def _paid_payouts_query(self, *columns):
        """Payouts paid in the period (joined to their event)."""
        query = (
            sa.select(*columns)
            .select_from(Payout)
            .join(Event, Payout.event_id == Event.id)
            .where(
                Payout.status == PayoutStatus.PAID,
                Payout.paid_on >= self.period.date_from,
                Payout.paid_on <= self.period.date_to,
            )
        )
        return self._event_filters(query)

    # --- documents, payments, payouts --------------------------------------------------------------

    @cached_property
    def documents(self) -> list[Invoice]:
        """Invoices, deposits and credit notes issued in the period, in date and number order."""
        query = self._documents_query(Invoice).order_by(Invoice.issue_date, Invoice.number)
        return list(db.session.scalars(query))

    @cached_property
    def document_rows(self) -> list[DocumentRow]:
        """:attr:`documents` as :class:`DocumentRow`: what the workbook shows of them."""
        last_paid_on = (
            sa.select(sa.func.max(Payment.received_on))
            .where(Payment.invoice_id == Invoice.id)
            .scalar_subquery()
        )
        query = (
            self._documents_query(
                Invoice.id,
                Invoice.number,
                Invoice.kind,
                Invoice.credit_of_id,
                Invoice.event_id,
                Event.title,
                Invoice.buyer["name"].as_string(),
                Invoice.issue_date,
                Invoice.due_date,
                Invoice.vat_groups,
                Invoice.total_net,
                Invoice.total_vat,
                Invoice.total_gross,
                Invoice.prepaid,
                Invoice.origin,
                Invoice.issuer_organisation_id,
                last_paid_on,
            )
            .outerjoin(Event, Invoice.event_id == Event.id)
            .order_by(Invoice.issue_date, Invoice.number)
        )
        rows = [DocumentRow(*row, credited_number=None) for row in db.session.execute(query)]
        credited = {row.credit_of_id for row in rows if row.credit_of_id is not None}
        if credited:
            numbers = dict(
                db.session.execute(
                    sa.select(Invoice.id, Invoice.number).where(Invoice.id.in_(credited))
                ).all()
            )
            rows = [row._replace(credited_number=numbers.get(row.credit_of_id)) for row in rows]
        return rows

    @cached_property
    def figures(self) -> dict[int, Figures]:
        """Each document's figures as the invoice list shows them (a self-billed invoice settled by
        its payout: :func:`~invoicing.services.invoices.settled_figures`)."""
        return settled_figures(self.document_rows)

    @cached_property
    def note_effects(self) -> dict[int, tuple[Decimal, Decimal]]:
        return credit_note_effects([d for d in self.document_rows if d.kind == InvoiceKind.CREDIT_NOTE])

    @cached_property
    def payments(self) -> list[tuple[Payment, Invoice]]:
        """Payments received in the period, with their invoice, in date order."""
        query = self._payments_query(Payment, Invoice).order_by(Payment.received_on, Payment.id)
        return [tuple(row) for row in db.session.execute(query)]

    def payment_rows(self) -> Iterator:
        """:attr:`payments` as rows of what the workbook shows of them, streamed."""
        query = (
            self._payments_query(
                Payment.received_on,
                Payment.method,
                Payment.reference,
                Payment.amount,
                Invoice.number,
                Invoice.kind,
                Event.title.label("event_title"),
                Invoice.buyer["name"].as_string().label("buyer_name"),
            )
            .outerjoin(Event, Invoice.event_id == Event.id)
            .order_by(Payment.received_on, Payment.id)
        )
        yield from stream(db.session, query)

    @cached_property
    def paid_payouts(self) -> list[Payout]:
        """Payouts paid in the period, in date order."""
        query = (
            self._paid_payouts_query(Payout)
            .options(joinedload(Payout.organisation))
            .order_by(Payout.paid_on, Payout.id)
        )
        return list(db.session.scalars(query))

    #: What the workbook shows of a payout (:meth:`payout_rows`).
    _PAYOUT_COLUMNS = (
        Payout.id,
        Payout.event_id,
        Event.title.label("event_title"),
        Organisation.name.label("organisation_name"),
        Payout.status,
        Payout.paid_on,
        Payout.reference,
        Payout.share,
        Payout.commission,
        Payout.net_amount,
        Payout.vat_amount,
        Payout.amount,
    )

    def payout_rows(self) -> Iterator:
        """Payouts paid in the period, then those still to pay of the events of the export, as rows
        (:attr:`_PAYOUT_COLUMNS`), streamed."""
        paid = (
            self._paid_payouts_query(*self._PAYOUT_COLUMNS)
            .join(Organisation, Payout.organisation_id == Organisation.id)
            .order_by(Payout.paid_on, Payout.id)
        )
        yield from stream(db.session, paid)
        for chunk in _chunks(self.event_ids):
            yield from stream(
                db.session,
                sa.select(*self._PAYOUT_COLUMNS)
                .join(Event, Payout.event_id == Event.id)
                .join(Organisation, Payout.organisation_id == Organisation.id)
                .where(Payout.status == PayoutStatus.DUE, Payout.event_id.in_(chunk))
                .order_by(Payout.event_id, Payout.id),
            )

    # --- events ------------------------------------------------------------------------------------

    @cached_property
    def events(self) -> list:
        """The events of the export (see the module docstring), by start date, as rows: ``id``,
        ``title``, ``starts_at``, ``client_id``, ``client_name``, ``commission_rate``."""
        held = (
            sa.select(Event.id)
            .join(Quote, Quote.event_id == Event.id)
            .where(
                Quote.status == QuoteStatus.ACCEPTED,
                Event.starts_at >= self.period.starts,
                Event.starts_at < self.period.ends,
            )
        )
        selected = sa.union(
            self._documents_query(Invoice.event_id),
            self._payments_query(Invoice.event_id),
            self._paid_payouts_query(Payout.event_id),
            self._event_filters(held),
        )
        ids = sorted(i for i in db.session.scalars(selected) if i is not None)
        events = []
        for chunk in _chunks(ids):
            events.extend(
                EventOfPeriod(*row)
                for row in db.session.execute(
                    sa.select(
                        Event.id,
                        Event.title,
                        Event.starts_at,
                        Event.client_id,
                        Client.name,
                        Event.commission_rate,
                    )
                    .outerjoin(Client, Event.client_id == Client.id)
                    .where(Event.id.in_(chunk))
                )
            )
        events.sort(key=lambda e: (e.starts_at, e.id))
        return events

    @cached_property
    def event_ids(self) -> list[int]:
        return [e.id for e in self.events]

    @property
    def event_rows(self) -> list[EventRow]:
        """Each event's figures to date, as plain values."""
        return [row for row, _lines in self.iter_event_rows()]

    def iter_event_rows(self, line_columns=()) -> Iterator[tuple[EventRow, list]]:
        """Each event's figures to date, made as they are read (:func:`iter_events_money`: a fixed
        number of queries per few hundred events, one quote's lines held at a time), with its
        accepted quote's lines as rows, ``line_columns`` of :class:`~offers.models.QuoteLine`
        included (the workbook writes them then, instead of reading them again)."""
        for read in iter_events_money(self.events, line_columns=line_columns):
            summary = money_summary(read.documents, read.figures)
            yield _event_row(read.event, summary, read.money), read.lines
