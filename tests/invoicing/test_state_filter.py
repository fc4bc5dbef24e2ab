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
