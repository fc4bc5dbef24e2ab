"""The invoice list filtered on a derived state reads only the documents that may be in it
(``may_be_in_state``), and still finds exactly those :func:`state` puts there: checked on every
combination of kind, deposits deducted, payments, credit notes and due date."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from app.extensions import db
from invoicing.forms import STATES
from invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from invoicing.services import invoices as service
from tests.reports.helpers import issued, paid

TODAY = date(2026, 6, 15)
GROSS = D("1000.00")


@pytest.fixture
def table(make_client):
    """One invoice (or deposit) per case, each with its own client; credit notes on some."""
    buyer = make_client(name="Métropole")
    cases = itertools.product(
        (InvoiceKind.INVOICE, InvoiceKind.DEPOSIT),
        ("0", "400.00", "1000.00"),  # deposits deducted
        ((), ("250.00",), ("250.00", "350.00"), ("600.00",)),  # payments
        ((), ("100.00",), ("1000.00",)),  # credit notes (gross)
        (TODAY - timedelta(days=40), TODAY, TODAY + timedelta(days=10), None),  # due date
    )
    for kind, prepaid, payments, credits, due in cases:
        asked = GROSS - D(prepaid)
        if sum((D(p) for p in payments), D(0)) > asked:
            continue  # the app refuses a payment over the balance
        document = issued(
            buyer, str(GROSS), issue_date=TODAY - timedelta(days=60), due_date=due, prepaid=prepaid, kind=kind
        )
        for amount in payments:
            paid(document, amount, TODAY - timedelta(days=5))
        for amount in credits:
            issued(
                buyer,
                amount,
                issue_date=TODAY - timedelta(days=3),
                kind=InvoiceKind.CREDIT_NOTE,
                credit_of=document,
            )
    db.session.flush()
    return buyer


def listed():
    return sa.select(Invoice).where(Invoice.status == InvoiceStatus.ISSUED).order_by(Invoice.id)


def test_every_state_finds_exactly_the_documents_in_it(table):
    everything = list(db.session.scalars(listed()))
    figures = service.settled_figures(everything)
    expected = {s: [i.id for i in everything if service.state(i, TODAY, figures[i.id]) == s] for s in STATES}
    assert all(expected.values()), {s: len(ids) for s, ids in expected.items()}  # every state occurs
    for wanted in STATES:
        found = service.in_state(listed(), wanted, TODAY)
        assert [i for i, _f in found] == expected[wanted], wanted
        assert all(f == figures[i] for i, f in found)


@pytest.mark.parametrize("wanted", ["overdue", "open", "cancelled"])
def test_a_rare_state_reads_only_its_candidates(table, wanted):
    everything = db.session.scalar(sa.select(sa.func.count()).select_from(listed().subquery()))
    candidates = db.session.scalar(
        sa.select(sa.func.count()).select_from(
            listed().where(service.may_be_in_state(wanted, TODAY)).subquery()
        )
    )
    assert candidates < everything / 2, (candidates, everything)


@pytest.fixture
def odd_documents(table):
    """Beside the table: self-billed invoices, credit notes whose net is below their gross (VAT), a
    credit note of the net alone, and an invoice of 0, each past due with nothing paid."""
    from invoicing.models import InvoiceOrigin

    past = {"issue_date": TODAY - timedelta(days=60), "due_date": TODAY - timedelta(days=40)}
    note = {"issue_date": TODAY - timedelta(days=3), "kind": InvoiceKind.CREDIT_NOTE}
    for prepaid in ("0", "400.00"):
        issued(table, "1000.00", prepaid=prepaid, origin=InvoiceOrigin.SELF_BILLED, **past)
    cancelled = issued(table, "1200.00", net="1000.00", **past)
    for gross, net in (("1200.00", "1000.00"), ("600.00", "500.00")):
        issued(table, gross, net=net, credit_of=cancelled, **note)
    partly = issued(table, "1200.00", net="1000.00", **past)
    issued(table, "600.00", net="500.00", credit_of=partly, **note)
    # The net credited whole, not the VAT: cancelled, although the gross is not all credited.
    net_only = issued(table, "1200.00", net="1000.00", **past)
    issued(table, "1000.00", credit_of=net_only, **note)
    issued(table, "0", **past)
    return table


@pytest.mark.parametrize("wanted", sorted(service.EXACT_IN_SQL))
def test_a_state_said_in_sql_holds_exactly_for_its_documents(odd_documents, wanted):
    everything = list(db.session.scalars(listed()))
    figures = service.settled_figures(everything)
    expected = [i.id for i in everything if service.state(i, TODAY, figures[i.id]) == wanted]
    condition, credited = service.exactly_in_state(wanted, TODAY)
    in_sql = list(
        db.session.scalars(
            listed()
            .outerjoin(credited, credited.c.invoice_id == Invoice.id)
            .where(condition)
            .with_only_columns(Invoice.id)
        )
    )
    assert in_sql == expected
    assert len(expected) >= 5


@pytest.mark.parametrize("wanted", list(STATES))
def test_the_pages_of_a_state_are_its_documents_in_order(odd_documents, wanted):
    everything = list(db.session.scalars(listed()))
    figures = service.settled_figures(everything)
    expected = [i.id for i in everything if service.state(i, TODAY, figures[i.id]) == wanted]
    per_page, seen, page = 7, [], 1
    while True:
        total, found = service.state_page(listed(), wanted, TODAY, page, per_page)
        assert total == len(expected)
        assert all(f == figures[i.id] for i, f in found)
        if not found:
            break
        seen += [i.id for i, _f in found]
        page += 1
    assert seen == expected
    assert page == -(-len(expected) // per_page) + 1
