"""In joint mode the coordinator invoices its commission to each member (the member is the buyer):
the member reads those invoices, and the credit notes on them, in its portal (« Factures reçues de la
coordination ») and downloads their PDF; another member sees none of them and gets 404, like an
unknown invoice. The rule is ``invoicing.permissions.portal_invoices_clause``."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal as D

import pytest

from app.extensions import db
from invoicing import permissions
from invoicing.services import invoices as invoice_service
from invoicing.services import joint
from invoicing.services.payments import record_payment
from tests.invoicing.test_joint import DAY, build_joint, login, pdf_text


@pytest.fixture
def issued(make_event, make_client, make_category, make_organisation, make_user, monkeypatch):
    """``build_joint`` issued on ``DAY``: Méli-Mélo's, L'Équipage's and the fee invoice to the client,
    then the commissions to Méli-Mélo (302,19 HT + 60,44 = 362,63), L'Équipage (21,00) and Yves
    Monteil (39,00). The portal's today is the due date of those (30 days later), so none is overdue."""
    world = build_joint(make_event, make_client, make_category, make_organisation, make_user)
    outcome = joint.issue_joint(world["quote"], world["treasurer"], today=DAY)
    world["member_invoice"], _shop_invoice, world["fee"] = outcome.issued[:3]
    world["commission"], world["shop_commission"], _photographer = outcome.issued[3:]
    world["cook_person"] = make_user("actor", organisation=world["cook"])
    db.session.flush()
    monkeypatch.setattr("invoicing.mandate_views.local_today", lambda: date(2026, 5, 20))
    return world


def portal(client) -> str:
    response = client.get("/portail/facturation")
    assert response.status_code == 200
    return response.get_data(as_text=True).replace("\u202f", " ").replace("\xa0", " ")


def received(html: str) -> str:
    """The « Factures reçues de la coordination » section of the portal page."""
    found = re.search(r'<section[^>]*id="factures-recues".*?</section>', html, re.S)
    assert found is not None
    return found.group(0)


def own(html: str) -> str:
    found = re.search(r'<section[^>]*aria-labelledby="factures-titre".*?</section>', html, re.S)
    assert found is not None
    return found.group(0)


def test_the_member_sees_its_commission_invoice_and_downloads_its_pdf(client, issued):
    commission, event = issued["commission"], issued["event"]
    assert (commission.number, commission.total_net, commission.total_vat, commission.total_gross) == (
        "FAC-2026-0002",
        D("302.19"),
        D("60.44"),
        D("362.63"),
    )
    login(client, issued["cook_person"])
    html = portal(client)
    section = received(html)
    assert "Factures reçues de la coordination" in section
    row = re.search(rf'<tr id="recue-{commission.id}">.*?</tr>', section, re.S).group(0)
    for text in ("FAC-2026-0002", "20/04/2026", event.title, "302,19", "60,44", "362,63", "20/05/2026"):
        assert text in row
    assert "À payer" in row
    # Only its own commission: not L'Équipage's, not the fee invoiced to the client.
    assert issued["shop_commission"].number not in html and issued["fee"].number not in html
    # Its own invoice (in its name, to the client) stays in « Mes factures », not among those received.
    assert "MELI-2026-0001" in own(html) and "MELI-2026-0001" not in section
    assert f"/portail/factures/{commission.id}/pdf" in row
    response = client.get(f"/portail/factures/{commission.id}/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "FAC-2026-0002" in text and "362,63" in text and "Méli-Mélo" in text


def test_another_member_neither_sees_nor_downloads_it(client, issued, make_user):
    commission = issued["commission"]
    shop_person = issued["shop_person"]
    login(client, shop_person)
    html = portal(client)
    assert commission.number not in html
    assert issued["shop_commission"].number in received(html)
    assert client.get(f"/portail/factures/{commission.id}/pdf").status_code == 404
    assert client.get(f"/portail/factures/{issued['shop_commission'].id}/pdf").status_code == 200
    # An actor of an organisation outside the groupement: nothing received, 404 on both.
    client.post("/deconnexion", data={"csrf_token": _token(client)})
    login(client, make_user("actor"))
    html = portal(client)
    assert "Aucune facture reçue de la coordination pour l'instant." in received(html)
    assert client.get(f"/portail/factures/{commission.id}/pdf").status_code == 404
    assert client.get(f"/portail/factures/{issued['fee'].id}/pdf").status_code == 404


def _token(client) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client.get("/portail/facturation").get_data(as_text=True))


def test_credit_notes_on_a_commission_are_listed_for_the_same_member(client, issued):
    commission, treasurer = issued["commission"], issued["treasurer"]
    note = invoice_service.issue_credit_note(
        commission, treasurer, reason="Taux de commission erroné", amount=D("100.00"), today=DAY
    )
    record_payment(commission, treasurer, received_on=DAY, amount=D("100.00"))
    db.session.flush()
    # The credit note keeps the commission's buyer and references: the same member reads it.
    assert note.buyer["name"] == "Méli-Mélo" and note.references["joint"] == commission.references["joint"]
    login(client, issued["cook_person"])
    section = received(portal(client))
    note_row = re.search(rf'<tr id="recue-{note.id}">.*?</tr>', section, re.S).group(0)
    assert note.number in note_row and "Avoir sur FAC-2026-0002" in note_row and "Avoir" in note_row
    assert "100,00" in note_row and "120,00" in note_row  # 100,00 HT + 20 % VAT
    commission_row = re.search(rf'<tr id="recue-{commission.id}">.*?</tr>', section, re.S).group(0)
    assert "Partiellement payée" in commission_row
    response = client.get(f"/portail/factures/{note.id}/pdf")
    assert response.status_code == 200 and note.number in pdf_text(response.data)
    client.post("/deconnexion", data={"csrf_token": _token(client)})
    login(client, issued["shop_person"])
    assert note.number not in portal(client)
    assert client.get(f"/portail/factures/{note.id}/pdf").status_code == 404


def test_states_come_from_the_invoice_states(client, issued, monkeypatch):
    commission, treasurer = issued["commission"], issued["treasurer"]
    login(client, issued["cook_person"])
    monkeypatch.setattr("invoicing.mandate_views.local_today", lambda: date(2026, 5, 21))
    row = re.search(rf'<tr id="recue-{commission.id}">.*?</tr>', portal(client), re.S).group(0)
    assert "En retard" in row
    record_payment(commission, treasurer, received_on=DAY, amount=commission.total_gross)
    db.session.flush()
    row = re.search(rf'<tr id="recue-{commission.id}">.*?</tr>', portal(client), re.S).group(0)
    assert "Payée" in row


def test_the_rule_reads_the_buyer_member_only(issued, person, make_user):
    commission, fee = issued["commission"], issued["fee"]
    cook_person, shop_person = issued["cook_person"], issued["shop_person"]
    assert permissions.can_read_in_portal(cook_person, commission) is True
    assert permissions.can_read_in_portal(cook_person, issued["member_invoice"]) is True
    assert permissions.can_read_in_portal(shop_person, commission) is False
    assert permissions.can_read_in_portal(cook_person, fee) is False
    # Staff and clients read invoices elsewhere (their own rules), never through the actor's portal.
    for role in ("admin", "coordinator", "treasurer", "client"):
        assert permissions.can_read_in_portal(person(role), commission) is False
    assert permissions.can_read_in_portal(None, commission) is False


def test_the_section_reads_in_english(client, issued):
    from tests.app.test_english import in_english

    commission, treasurer = issued["commission"], issued["treasurer"]
    note = invoice_service.issue_credit_note(
        commission, treasurer, reason="Erreur", amount=D("1.00"), today=DAY
    )
    login(client, issued["cook_person"])
    in_english(client)
    section = received(portal(client))
    assert "Invoices received from the coordination" in section
    assert f"Credit note on {commission.number}" in section and note.number in section
    for french in ("Factures reçues", "Avoir sur", "Échéance", "Événement", "À payer"):
        assert french not in section
