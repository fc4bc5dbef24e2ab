"""The actor's invoicing portal (« Ma facturation ») runs the same number of queries whatever the
number of documents it lists: its own invoices, and the commission invoices and credit notes the
coordination addressed to it (joint mode)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.extensions import db
from app.models import Organisation, User
from invoicing.services import invoices as invoice_service
from invoicing.services import joint
from invoicing.services.payments import record_payment
from offers.models import BillingMode
from tests.invoicing.test_joint import DAY, accept, build_joint, login
from tests.offers.quote_fixtures import build_ready_event
from tests.perf.test_query_counts import count


@pytest.fixture
def fast_pdf(monkeypatch):
    """Building and checking the Factur-X XML is WeasyPrint's and the validators' time, not the
    portal's queries: a stub keeps this test quick."""
    monkeypatch.setattr("invoicing.documents.invoice_xml", lambda invoice, lines, event: b"<x/>")


def test_the_portal_takes_the_same_queries_for_two_or_eleven_documents(
    app, client, fast_pdf, make_event, make_client, make_category, make_organisation, make_user
):
    world = build_joint(make_event, make_client, make_category, make_organisation, make_user)
    cook, treasurer = world["cook"], world["treasurer"]
    joint.issue_joint(world["quote"], treasurer, today=DAY)  # its invoice and its commission
    person = make_user("actor", organisation=cook)
    ids = {"cook": cook.id, "treasurer": treasurer.id, "coordinator": world["coordinator"].id}
    db.session.commit()
    login(client, person)
    few = count(client, "/portail/facturation")
    page = client.get("/portail/facturation").get_data(as_text=True)
    assert page.count('id="recue-') == 1

    # The count emptied the session: the world is read again.
    cook = db.session.get(Organisation, ids["cook"])
    treasurer, coordinator = db.session.get(User, ids["treasurer"]), db.session.get(User, ids["coordinator"])
    # Three more joint events where the same member works, a payment and a credit note on each
    # commission: 4 invoices in its name, 4 commissions and 3 credit notes received.
    for n in range(3):
        event, _lots, _members = build_ready_event(
            make_event,
            make_client,
            make_category,
            make_organisation,
            mode=BillingMode.JOINT_CONSORTIUM,
            commission_rate=D("0.0500"),
            cook=cook,
            title=f"Rencontres {n}",
        )
        quote = accept(event, coordinator)
        issued = joint.issue_joint(quote, treasurer, today=DAY).issued
        commission = next(i for i in issued if i.buyer["name"] == cook.name)
        record_payment(commission, treasurer, received_on=DAY, amount=D("10.00"))
        invoice_service.issue_credit_note(commission, treasurer, reason="Geste", amount=D("5.00"), today=DAY)
    db.session.commit()
    many = count(client, "/portail/facturation")
    page = client.get("/portail/facturation").get_data(as_text=True)
    assert page.count('id="recue-') == 7
    assert page.count("/pdf") >= 11
    assert many == few
