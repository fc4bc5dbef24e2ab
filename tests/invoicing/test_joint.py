"""Joint-consortium invoicing, tried as the treasurer would: one invoice per member in its own name,
series and VAT regime under its mandate; the fee and the commissions as the coordinator's own
invoices; a member without a valid mandate invoices by itself and its invoice is recorded; the cover
summary adds up to the accepted quote to the cent; each member sees its invoices in its portal."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.errors import InvalidValue
from app.extensions import db
from invoicing import facturx as fx
from invoicing.models import Invoice, InvoiceOrigin
from invoicing.services import invoices as invoice_service
from invoicing.services import joint, mandates
from invoicing.services.payments import record_payment
from offers.models import BillingMode
from offers.services import quotes as quotes_service
from tests.conftest import PASSWORD, csrf_token
from tests.offers.quote_fixtures import build_ready_event

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
DAY = date(2026, 4, 20)


def accept(event, coordinator):
    quote = quotes_service.issue_quote(event, coordinator, today=date(2026, 3, 2))
    quotes_service.mark_sent(quote, coordinator)
    quotes_service.accept_quote(
        quote, name="Claire Morvan", agreed=True, today=date(2026, 3, 5), notify=False
    )
    db.session.flush()
    return quote


def build_joint(
    make_event, make_client, make_category, make_organisation, make_user, *, cook=None, **event_kw
):
    """The ready event in joint mode with a 5 % commission and its quote accepted: Méli-Mélo (exempt),
    L'Équipage (subject), Yves Monteil (franchise); mandates for the first two (signed for Méli-Mélo,
    granted in its portal by L'Équipage's ``shop_person``), none for Yves Monteil. A ``cook`` given
    takes Méli-Mélo's place (see ``build_ready_event``) and keeps its mandate if it has a live one."""
    event, _lots, (cook, shop, photographer) = build_ready_event(
        make_event,
        make_client,
        make_category,
        make_organisation,
        mode=BillingMode.JOINT_CONSORTIUM,
        commission_rate=D("0.0500"),
        cook=cook,
        **event_kw,
    )
    coordinator = make_user("coordinator")
    quote = accept(event, coordinator)
    if mandates.live_mandate(cook.id) is None:
        mandates.record_signed(cook, coordinator, prefix="MELI", valid_from=date(2026, 1, 1), document=PDF)
    shop_person = make_user("actor", organisation=shop)
    mandates.grant_in_portal(shop, shop_person, prefix="EQUI", valid_from=date(2026, 1, 1), agreed=True)
    return {
        "event": event,
        "quote": quote,
        "cook": cook,
        "shop": shop,
        "shop_person": shop_person,
        "photographer": photographer,
        "coordinator": coordinator,
        "treasurer": make_user("treasurer"),
    }


@pytest.fixture
def setup(make_event, make_client, make_category, make_organisation, make_user):
    """:func:`build_joint`, its quote's totals checked."""
    joint_event = build_joint(make_event, make_client, make_category, make_organisation, make_user)
    # Per seller: Méli-Mélo 6 043,75 at 0 %; L'Équipage 350,00 + 19,25; Yves Monteil 650,00 at 0 %;
    # the fee 563,50 + 112,70.
    quote = joint_event["quote"]
    assert (quote.total_net, quote.total_vat, quote.total_gross) == (D("7607.25"), D("131.95"), D("7739.20"))
    return joint_event


def pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", " ", text).replace("\u202f", " ").replace("\xa0", " ")


def test_one_invoice_per_member_in_its_own_series_and_regime(setup):
    quote, treasurer = setup["quote"], setup["treasurer"]
    outcome = joint.issue_joint(quote, treasurer, today=DAY)
    assert outcome.awaiting == ["Yves Monteil"]
    issued = [
        (i.number, i.issuer_organisation_id, i.total_net, i.total_vat, i.total_gross) for i in outcome.issued
    ]
    cook, shop = setup["cook"].id, setup["shop"].id
    assert issued == [
        ("MELI-2026-0001", cook, D("6043.75"), D("0.00"), D("6043.75")),
        ("EQUI-2026-0001", shop, D("350.00"), D("19.25"), D("369.25")),
        ("FAC-2026-0001", None, D("563.50"), D("112.70"), D("676.20")),
        # Commissions (5 % of each share, largest remainder) invoiced by the coordinator to the members.
        ("FAC-2026-0002", None, D("302.19"), D("60.44"), D("362.63")),
        ("FAC-2026-0003", None, D("17.50"), D("3.50"), D("21.00")),
        ("FAC-2026-0004", None, D("32.50"), D("6.50"), D("39.00")),
    ]
    meli, equi, fee = outcome.issued[:3]
    for invoice in outcome.issued:
        assert fx.validate(invoice.xml) == []
        assert fx.extract_xml(invoice_service.invoice_pdf(invoice)) == invoice.xml
    # In the member's name: its SIRET as seller, the client as buyer, the mandate's mention.
    assert meli.seller["siret"] == setup["cook"].siret and meli.buyer["name"] == "Nantes Métropole"
    assert meli.issuer == f"organisation:{cook}"
    text = pdf_text(invoice_service.invoice_pdf(meli))
    assert (
        "Facture émise par Les Ecossolies, mandataire du groupement, au nom et pour le compte de Méli-Mélo"
        in text
    )
    # VAT mentions per regime: exempt (261-7-1°), subject (5,5 %), and the fee at 20 %.
    assert "Exonération de TVA, article 261-7-1° du CGI" in text
    assert fx.VATEX_CGI261_7.encode() in meli.xml and b"<ram:CategoryCode>E</ram:CategoryCode>" in meli.xml
    assert b"<ram:RateApplicablePercent>5.5</ram:RateApplicablePercent>" in equi.xml
    assert b"VATEX" not in equi.xml
    assert fee.seller["name"] == "Les Ecossolies" and fee.issuer == "coordinator"
    # The commission invoices go to the members, not to the client.
    assert [i.buyer["name"] for i in outcome.issued[3:]] == ["Méli-Mélo", "L'Équipage", "Yves Monteil"]
    # The client's order number is on its invoices only.
    assert [i.purchase_order_number for i in outcome.issued] == ["BC-42"] * 3 + [None] * 3


def test_franchise_member_and_recorded_invoice_complete_the_cover_summary(setup):
    quote, treasurer, photographer = setup["quote"], setup["treasurer"], setup["photographer"]
    joint.issue_joint(quote, treasurer, today=DAY)
    summary = joint.cover_summary(quote, DAY)
    assert (summary.total_gross, summary.complete) == (D("7089.20"), False)
    with pytest.raises(InvalidValue) as wrong:
        joint.record_actor_invoice(
            quote, photographer, treasurer, number="YM-12", issue_date=DAY,
            total_net=D("650.00"), total_vat=D("130.00"), total_gross=D("780.00"), pdf=PDF,
        )  # fmt: skip
    assert wrong.value.message.replace("\xa0", " ") == (
        "La facture de Yves Monteil doit reprendre sa part du devis accepté : 650,00 € HT, 0,00 € de TVA, "
        "650,00 € TTC."
    )
    with pytest.raises(InvalidValue) as not_pdf:
        joint.record_actor_invoice(
            quote, photographer, treasurer, number="YM-12", issue_date=DAY,
            total_net=D("650.00"), total_vat=D("0.00"), total_gross=D("650.00"), pdf=b"PK\x03\x04",
        )  # fmt: skip
    assert (not_pdf.value.message, not_pdf.value.field) == ("La facture doit être un fichier PDF.", "pdf")
    recorded = joint.record_actor_invoice(
        quote, photographer, treasurer, number="YM-12", issue_date=DAY,
        total_net=D("650.00"), total_vat=D("0.00"), total_gross=D("650.00"), pdf=PDF,
    )  # fmt: skip
    assert (recorded.origin, recorded.number, recorded.issuer) == (
        InvoiceOrigin.RECORDED.value,
        "YM-12",
        f"organisation:{photographer.id}",
    )
    summary = joint.cover_summary(quote, DAY)
    assert summary.complete
    assert (summary.total_net, summary.total_vat, summary.total_gross) == (
        D("7607.25"),
        D("131.95"),
        D("7739.20"),
    )
    with pytest.raises(invoice_service.InvoiceRefused) as twice:
        joint.issue_joint(quote, treasurer, today=DAY)
    assert twice.value.message == "Toutes les parts de ce devis sont déjà facturées."


def test_franchise_member_with_a_mandate_gets_the_franchise_mention(setup):
    quote, photographer = setup["quote"], setup["photographer"]
    mandates.record_signed(
        photographer, setup["coordinator"], prefix="YM", valid_from=date(2026, 1, 1), document=PDF
    )
    outcome = joint.issue_joint(quote, setup["treasurer"], today=DAY)
    ym = next(i for i in outcome.issued if i.number == "YM-2026-0001")
    assert fx.VATEX_FRANCHISE.encode() in ym.xml
    assert "TVA non applicable, art. 293 B du CGI" in pdf_text(invoice_service.invoice_pdf(ym))
    assert joint.cover_summary(quote, DAY).complete


def test_revoked_mandate_issues_nothing_in_the_members_name(setup):
    quote, cook, shop = setup["quote"], setup["cook"], setup["shop"]
    mandates.revoke(mandates.live_mandate(cook.id), setup["coordinator"], reason="Fin de la collaboration")
    outcome = joint.issue_joint(quote, setup["treasurer"], today=DAY)
    assert outcome.awaiting == ["Méli-Mélo", "Yves Monteil"]
    assert not any(i.issuer_organisation_id == cook.id for i in outcome.issued)
    assert any(i.issuer_organisation_id == shop.id for i in outcome.issued)


def test_credit_note_on_a_member_invoice_stays_in_its_series(setup):
    quote, treasurer = setup["quote"], setup["treasurer"]
    meli = joint.issue_joint(quote, treasurer, today=DAY).issued[0]
    note = invoice_service.issue_credit_note(meli, treasurer, reason="Erreur de quantité", amount=D("100.00"))
    assert (note.number, note.issuer, note.buyer["name"]) == (
        "MELI-2026-0002",
        meli.issuer,
        "Nantes Métropole",
    )
    assert fx.validate(note.xml) == []
    # Once the mandate is revoked, not even a credit note is issued in the member's name.
    mandates.revoke(mandates.live_mandate(setup["cook"].id), setup["coordinator"], reason="Fin")
    with pytest.raises(mandates.MandateMissing):
        invoice_service.issue_credit_note(meli, treasurer, reason="Encore", amount=D("10.00"))


def test_public_client_without_its_chorus_references_is_refused(setup):
    client = setup["event"].client
    client.chorus_service_code = None
    client.engagement_number = None
    event = setup["event"]
    event.purchase_order_number = None
    db.session.flush()
    quote = setup["quote"]
    quote.client_purchase_order = None
    # The refusal reads the client as it is now (its frozen copy is made when issuing).
    with pytest.raises(invoice_service.InvoiceRefused) as refused:
        joint.issue_joint(quote, setup["treasurer"], today=DAY)
    assert refused.value.message == (
        "Nantes Métropole est un acheteur public (Chorus Pro) : il manque le code service Chorus Pro, "
        "le numéro d'engagement. Complétez la fiche du client (ou le bon de commande de l'événement) "
        "avant de facturer."
    )


def login(client, user):
    page = client.get("/connexion")
    client.post(
        "/connexion",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )


def test_through_the_pages_and_each_member_sees_its_own_invoices(client, setup, make_user):
    event, treasurer = setup["event"], setup["treasurer"]
    login(client, treasurer)
    page = client.get(f"/evenements/{event.id}/facturation")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Groupement conjoint : une facture par membre" in html
    response = client.post(
        f"/evenements/{event.id}/facturation/groupement",
        data={"operation_category": "services", "csrf_token": csrf_token(html)},
    )
    assert response.status_code == 302
    html = client.get(f"/evenements/{event.id}/facturation").get_data(as_text=True)
    assert "MELI-2026-0001" in html and "EQUI-2026-0001" in html
    assert "Sans mandat valable, rien n&#39;est émis au nom de : Yves Monteil." in html
    cover = client.get(f"/evenements/{event.id}/facturation/recapitulatif.pdf")
    assert cover.status_code == 200
    assert "Reste à facturer : 650,00 € TTC." in pdf_text(cover.data)
    meli = db.session.scalar(sa.select(Invoice).where(Invoice.number == "MELI-2026-0001"))
    record_payment(meli, treasurer, received_on=DAY, amount=D("1000.00"))
    db.session.flush()
    client.post("/deconnexion", data={"csrf_token": csrf_token(html)})

    cook_person = make_user("actor", organisation=setup["cook"])
    login(client, cook_person)
    portal = (
        client.get("/portail/facturation").get_data(as_text=True).replace("\u202f", " ").replace("\xa0", " ")
    )
    assert "MELI-2026-0001" in portal and "EQUI-2026-0001" not in portal
    assert "Partiellement payée" in portal and "1 000,00" in portal
    assert client.get(f"/portail/factures/{meli.id}/pdf").status_code == 200
    equi = db.session.scalar(sa.select(Invoice).where(Invoice.number == "EQUI-2026-0001"))
    assert client.get(f"/portail/factures/{equi.id}/pdf").status_code == 404
