"""Accepted work and issued invoices written straight into the tables (the aggregates read them)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from app.extensions import db
from invoicing.models import Invoice, InvoiceKind, InvoiceOrigin, InvoiceStatus, Payment
from offers.models import EventStatus, Quote, QuoteLine, QuoteStatus
from offers.services import work

_numbers = iter(range(1, 10**6))


def accepted_work(
    make_event,
    lines,
    *,
    when=None,
    status=EventStatus.WON,
    fee=None,
    quote_status=QuoteStatus.ACCEPTED,
    **event_kw,
):
    """An event whose accepted quote (or quote in ``quote_status``) holds ``lines``: (organisation,
    category name, net) each."""
    when = when or datetime(2011, 4, 15, 6, 0, tzinfo=UTC)
    event = make_event(starts_at=when, ends_at=when + timedelta(hours=8), status=status, **event_kw)
    n = next(_numbers)
    total = sum((D(net) for _org, _cat, net in lines), D(fee or "0"))
    quote = Quote(
        event_id=event.id,
        number=f"DEV-T-{n:04d}",
        version=1,
        status=quote_status,
        issue_date=when.date(),
        valid_until=when.date(),
        total_net=total,
        total_vat=D("0"),
        total_gross=total,
        snapshot={},
    )
    db.session.add(quote)
    db.session.flush()
    for position, (organisation, category, net) in enumerate(lines):
        db.session.add(
            QuoteLine(
                quote_id=quote.id,
                position=position,
                kind="line",
                lot_title=category,
                lot_position=[c for _o, c, _n in lines].index(category),
                category_name=category,
                organisation_id=organisation.id,
                organisation_name=organisation.name,
                description="Prestation",
                quantity=D("1"),
                unit="forfait",
                unit_price=D(net),
                vat_rate=D("0"),
                net=D(net),
            )
        )
    if fee is not None:
        db.session.add(
            QuoteLine(
                quote_id=quote.id,
                position=99,
                kind="fee",
                description="Frais",
                quantity=D("1"),
                unit="forfait",
                unit_price=D(fee),
                vat_rate=D("0.2"),
                net=D(fee),
            )
        )
    db.session.flush()
    if quote_status == QuoteStatus.ACCEPTED:
        # Written straight into the tables: the work done that the dashboards read too, as accepting does.
        work.record_accepted(quote)
    return event


def issued(
    client,
    gross,
    *,
    issue_date,
    due_date=None,
    prepaid="0",
    kind=InvoiceKind.INVOICE,
    credit_of=None,
    net=None,
    origin=InvoiceOrigin.MAILLAGE,
):
    """An issued document of ``gross`` (its net too, unless ``net`` says otherwise: VAT is the rest)."""
    n = next(_numbers)
    invoice = Invoice(
        issuer="coordinator",
        kind=kind,
        status=InvoiceStatus.ISSUED,
        number=f"T-{n:05d}",
        client_id=client.id,
        issue_date=issue_date,
        due_date=due_date,
        total_net=D(net or gross),
        total_vat=D(gross) - D(net or gross),
        total_gross=D(gross),
        prepaid=D(prepaid),
        origin=origin.value,
        credit_of_id=credit_of.id if credit_of is not None else None,
    )
    db.session.add(invoice)
    db.session.flush()
    return invoice


def paid(invoice, amount, on: date):
    db.session.add(Payment(invoice_id=invoice.id, received_on=on, amount=D(amount)))
    db.session.flush()
