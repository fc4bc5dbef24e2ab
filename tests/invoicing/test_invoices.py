"""Invoices from an accepted quote, tried as the treasurer would: deposit, final invoice, credit note,
payments; exact numbers and amounts; every refusal with its French message; issued invoices frozen by
the database itself (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.errors import DomainError, Forbidden, InvalidValue
from app.extensions import db
from app.models import AuditEntry
from invoicing.models import Invoice, InvoiceKind, Payment
from invoicing.services import invoices as service
from invoicing.services.payments import record_payment
from offers.services import quotes as quotes_service
from tests.conftest import csrf_token
from tests.offers.quote_fixtures import build_ready_event

# The ready event (single contractor, subject coordinator, 8 % fee): 6 043,75 at 10 %, 350,00 at
# 5,5 %, 650,00 + fee 563,50 at 20 %.
NET, VAT, GROSS = D("7607.25"), D("866.33"), D("8473.58")


@pytest.fixture
def accepted(make_event, make_client, make_category, make_organisation, make_user):
    event, _lots, _orgs = build_ready_event(make_event, make_client, make_category, make_organisation)
    coordinator = make_user("coordinator")
    quote = quotes_service.issue_quote(event, coordinator, today=date(2026, 3, 2))
    quotes_service.mark_sent(quote, coordinator)
    quotes_service.accept_quote(
        quote, name="Claire Morvan", agreed=True, today=date(2026, 3, 5), notify=False
    )
    db.session.flush()
    assert (quote.total_net, quote.total_vat, quote.total_gross) == (NET, VAT, GROSS)
    return quote


@pytest.fixture
def treasurer(make_user):
    return make_user("treasurer")


def pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"\s+", " ", text).replace("\u202f", " ").replace("\xa0", " ")


# --- numbers and amounts -------------------------------------------------------------------------


def test_deposit_final_and_credit_note_numbers_and_amounts(accepted, treasurer):
    deposit = service.issue_deposit(accepted, treasurer, percent=D("30"), today=date(2026, 3, 10))
    assert (deposit.number, deposit.kind) == ("FAC-2026-0001", InvoiceKind.DEPOSIT)
    # 30 % of 7 607,25 = 2 282,175 → 2 282,18, spread over the rates by largest remainder.
    assert [(line.vat_rate, line.net) for line in deposit.lines] == [
        (D("0.0550"), D("105.00")),
        (D("0.1000"), D("1813.13")),
        (D("0.2000"), D("364.05")),
    ]
    assert (deposit.total_net, deposit.total_vat, deposit.total_gross) == (
        D("2282.18"),
        D("5.78") + D("181.31") + D("72.81"),
        D("2282.18") + D("259.90"),
    )
    final = service.issue_final(accepted, treasurer, today=date(2026, 4, 20))
    assert final.number == "FAC-2026-0002"
    assert (final.total_net, final.total_vat, final.total_gross) == (NET, VAT, GROSS)
    assert final.prepaid == deposit.total_gross
    assert final.references["deposits"] == [
        {"number": "FAC-2026-0001", "date": "2026-03-10", "gross": str(deposit.total_gross)}
    ]
    assert final.due_date == date(2026, 5, 20)  # 30 days (the identity's payment days)
    note = service.issue_credit_note(final, treasurer, reason="Erreur de quantité", amount=D("100.00"))
    assert note.number == "AV-2026-0001"
    assert note.credit_of_id == final.id
    numbers = service.figures(final)
    assert (numbers.credited_net, numbers.due) == (
        note.total_net,
        GROSS - deposit.total_gross - note.total_gross,
    )


def test_one_invoice_for_everything_without_deposit(accepted, treasurer):
    invoice = service.issue_final(accepted, treasurer, today=date(2026, 4, 20))
    assert (invoice.number, invoice.kind, invoice.prepaid) == ("FAC-2026-0001", InvoiceKind.INVOICE, D("0"))
    assert [g["vat"] for g in invoice.vat_groups] == ["19.25", "604.38", "242.70"]
    assert [line.description for line in invoice.lines][-1].startswith("Coordination du groupement")


# --- refusals ------------------------------------------------------------------------------------


def test_only_an_accepted_quote_is_invoiced(
    make_event, make_client, make_category, make_organisation, make_user
):
    event, _lots, _orgs = build_ready_event(make_event, make_client, make_category, make_organisation)
    quote = quotes_service.issue_quote(event, make_user("coordinator"))
    with pytest.raises(service.InvoiceRefused) as caught:
        service.issue_final(quote, make_user("treasurer"))
    assert caught.value.message == (
        f"Le devis {quote.number} v1 n'est pas accepté : on ne facture qu'un devis accepté."
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0


@pytest.mark.parametrize(
    "kwargs,field,message",
    [
        ({"percent": D("101")}, "percent", "Un acompte ne peut pas dépasser 100 % du devis."),
        ({"percent": D("0")}, "percent", "Le pourcentage d'acompte doit être supérieur à 0."),
        ({"percent": D("-5")}, "percent", "Le pourcentage d'acompte doit être supérieur à 0."),
        ({"amount": D("0")}, "amount", "Le montant de l'acompte doit être supérieur à 0."),
        ({"amount": D("7607.26")}, "amount", "L'acompte dépasse le montant HT du devis (7 607,25 €)."),
        ({}, "percent", "Indiquez soit un pourcentage, soit un montant HT d'acompte."),
    ],
)
def test_bad_deposits_are_refused_and_nothing_is_issued(accepted, treasurer, kwargs, field, message):
    with pytest.raises(InvalidValue) as caught:
        service.issue_deposit(accepted, treasurer, **kwargs)
    assert (caught.value.field, caught.value.message.replace("\u202f", " ").replace("\xa0", " ")) == (
        field,
        message,
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0


def test_deposits_never_exceed_the_quote(accepted, treasurer):
    service.issue_deposit(accepted, treasurer, percent=D("60"))
    with pytest.raises(InvalidValue) as caught:
        service.issue_deposit(accepted, treasurer, percent=D("50"))
    assert caught.value.message.startswith("Les acomptes dépasseraient le devis")


def test_a_quote_is_invoiced_once_until_credited(accepted, treasurer):
    first = service.issue_final(accepted, treasurer)
    with pytest.raises(service.InvoiceRefused) as caught:
        service.issue_final(accepted, treasurer)
    assert first.number in caught.value.message
    service.issue_credit_note(first, treasurer, reason="Facture adressée au mauvais service")
    assert service.state(first, date(2026, 4, 1)) == "cancelled"
    again = service.issue_final(accepted, treasurer)
    assert again.number == "FAC-2026-0002"


def test_a_credit_note_never_exceeds_what_remains(accepted, treasurer):
    invoice = service.issue_final(accepted, treasurer)
    service.issue_credit_note(invoice, treasurer, reason="Remise", amount=D("7000.00"))
    with pytest.raises(InvalidValue) as caught:
        service.issue_credit_note(invoice, treasurer, reason="Remise", amount=D("607.26"))
    assert caught.value.message.replace("\u202f", " ").replace("\xa0", " ") == (
        "L'avoir (607,26 € HT) dépasse ce qui reste de la facture (607,25 € HT)."
    )
    refused = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "invoice.refused"))
    assert refused is not None and refused.object_id == invoice.id
    note = service.issue_credit_note(invoice, treasurer, reason="Solde")
    assert note.total_net == D("607.25")
    assert service.state(invoice, date(2026, 4, 1)) == "cancelled"
    with pytest.raises(DomainError):
        service.issue_credit_note(invoice, treasurer, reason="Encore")


def test_only_the_treasury_issues(accepted, make_user):
    for role in ("coordinator", "actor", "client"):
        with pytest.raises(Forbidden):
            service.issue_final(accepted, make_user(role))
    assert service.issue_final(accepted, make_user("admin")).number == "FAC-2026-0001"


# --- payments and derived states -------------------------------------------------------------------


def test_payments_derive_the_state_and_never_exceed_the_balance(accepted, treasurer):
    deposit = service.issue_deposit(accepted, treasurer, percent=D("30"), today=date(2026, 3, 10))
    # Paid before the final invoice: recorded on the deposit it settles.
    record_payment(deposit, treasurer, received_on=date(2026, 3, 20), amount=deposit.total_gross)
    assert service.state(deposit, date(2026, 3, 21)) == "paid"
    final = service.issue_final(accepted, treasurer, today=date(2026, 4, 20))
    due = GROSS - deposit.total_gross
    assert service.state(final, date(2026, 4, 21)) == "open"
    assert service.state(final, date(2026, 5, 21)) == "overdue"
    record_payment(final, treasurer, received_on=date(2026, 5, 2), amount=D("5000.00"), reference="VIR 1")
    assert service.state(final, date(2026, 5, 21)) == "partly_paid"
    with pytest.raises(InvalidValue) as caught:
        record_payment(final, treasurer, received_on=date(2026, 5, 3), amount=due - D("5000.00") + D("0.01"))
    assert "dépasse ce qui reste à payer" in caught.value.message
    for amount in (D("0"), D("-1")):
        with pytest.raises(InvalidValue):
            record_payment(final, treasurer, received_on=date(2026, 5, 3), amount=amount)
    record_payment(
        final, treasurer, received_on=date(2026, 5, 10), amount=due - D("5000.00"), reference="VIR 2"
    )
    assert service.state(final, date(2026, 6, 1)) == "paid"
    assert service.figures(final).balance == D("0.00")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 3


# --- frozen by the database ----------------------------------------------------------------------


def test_the_database_refuses_to_change_or_delete_an_issued_invoice(accepted, treasurer):
    invoice = service.issue_final(accepted, treasurer)
    db.session.flush()
    statements = [
        ("UPDATE invoices SET total_net = 0 WHERE id = :id", {"id": invoice.id}),
        ("UPDATE invoices SET number = 'FAC-2026-9999' WHERE id = :id", {"id": invoice.id}),
        ("DELETE FROM invoices WHERE id = :id", {"id": invoice.id}),
        ("UPDATE invoice_lines SET net = 0 WHERE invoice_id = :id", {"id": invoice.id}),
        ("DELETE FROM invoice_lines WHERE invoice_id = :id", {"id": invoice.id}),
    ]
    for statement, params in statements:
        savepoint = db.session.begin_nested()
        with pytest.raises(sa.exc.DBAPIError) as caught:
            db.session.execute(sa.text(statement), params)
        assert "issued invoices are immutable" in str(caught.value), statement
        savepoint.rollback()
    db.session.expire_all()
    again = db.session.get(Invoice, invoice.id)
    assert (again.number, again.total_net, len(again.lines)) == ("FAC-2026-0001", NET, 5)


# --- the PDF carries every mandatory mention -----------------------------------------------------


def test_the_invoice_pdf_carries_every_mandatory_mention(accepted, treasurer):
    accepted.event.client.is_public_body = False  # a private buyer: the commercial code's terms
    deposit = service.issue_deposit(accepted, treasurer, percent=D("30"), today=date(2026, 3, 10))
    final = service.issue_final(accepted, treasurer, today=date(2026, 4, 20))
    text = pdf_text(service.invoice_pdf(final))
    for expected in [
        "Facture n° FAC-2026-0002",
        "Les Ecossolies",
        "SIRET 40483304800022",
        "N° TVA FR83404833048",
        "Association",
        "8 rue Saint-Domingue",
        "Nantes Métropole",
        "SIRET 21440109300015",
        "SIREN 214401093",
        "Bon de commande : BC-42",
        "Date d'émission : 20 avril 2026",
        "Date de la prestation : 15 avril 2026",
        "Échéance : 20 mai 2026",
        "Catégorie de l'opération : Prestations de services",
        "Déjeuner",
        "400 repas 14,50 € 10% 5 800,00 €",
        "10% 6 043,75 € 604,38 €",
        "5,5% 350,00 € 19,25 €",
        "20% 1 213,50 € 242,70 €",
        "Total HT 7 607,25 €",
        "Total TTC 8 473,58 €",
        "Acompte FAC-2026-0001 du 10/03/2026 − 2 542,08 €",
        "Net à payer",
        "pénalités exigibles sans rappel",
        "40 €",
        "Pas d'escompte pour paiement anticipé.",
    ]:
        assert expected in text, expected
    pdf = service.invoice_pdf(final)
    assert final.pdf_sha256 == __import__("hashlib").sha256(pdf).hexdigest()
    root = PdfReader(io.BytesIO(service.invoice_pdf(final))).trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data()
    assert b'pdfaid:part="3"' in xmp or b"<pdfaid:part>3</pdfaid:part>" in xmp  # PDF/A-3
    assert "/OutputIntents" in root
    assert deposit.total_gross == D("2542.08")


def test_a_public_buyer_gets_the_public_terms_and_its_chorus_fields(accepted, treasurer):
    client = accepted.event.client
    client.is_public_body = True
    client.engagement_number = "EJ-2026-0415"
    db.session.flush()
    text = pdf_text(service.invoice_pdf(service.issue_final(accepted, treasurer)))
    assert "Code service Chorus Pro : EVT-44" in text and "Engagement : EJ-2026-0415" in text
    assert "Code de la commande publique" in text


def test_a_credit_note_references_the_invoice(accepted, treasurer):
    invoice = service.issue_final(accepted, treasurer, today=date(2026, 4, 20))
    note = service.issue_credit_note(invoice, treasurer, reason="Déjeuners non servis", amount=D("290.00"))
    text = pdf_text(service.invoice_pdf(note))
    assert "Avoir n° AV-2026-0001" in text
    assert "Avoir sur la facture n° FAC-2026-0001 du 20 avril 2026. Motif : Déjeuners non servis" in text


# --- through the pages ---------------------------------------------------------------------------


def test_the_treasurer_invoices_from_the_event_money_page(client, auth, accepted, treasurer):
    db.session.commit()
    auth.login(treasurer.email)
    url = f"/evenements/{accepted.event_id}/facturation"
    page = client.get(url)
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    response = client.post(url + "/acompte", data={"percent": "30", "amount": "", "csrf_token": token})
    assert response.status_code == 302
    deposit = db.session.scalar(sa.select(Invoice).where(Invoice.kind == InvoiceKind.DEPOSIT))
    assert response.headers["Location"] == f"/factures/{deposit.id}"
    response = client.post(url + "/acompte", data={"percent": "150", "csrf_token": token})
    assert response.status_code == 400
    assert "Un acompte ne peut pas dépasser 100 % du devis." in response.get_data(as_text=True)
    response = client.post(
        f"/factures/{deposit.id}/paiements",
        data={
            "received_on": "2026-03-20",
            "amount": "1 000,00",
            "method": "transfer",
            "reference": "VIR",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    detail = client.get(f"/factures/{deposit.id}").get_data(as_text=True)
    assert "Partiellement payée" in detail
    pdf = client.get(f"/factures/{deposit.id}/pdf")
    assert (pdf.status_code, pdf.mimetype, pdf.data) == (200, "application/pdf", service.invoice_pdf(deposit))


@pytest.mark.parametrize("role,status", [("coordinator", 403), ("actor", 403), ("client", 403)])
def test_only_the_treasury_posts_invoices(client, auth, accepted, make_user, role, status):
    user = make_user(role)
    db.session.commit()
    auth.login(user.email)
    token = csrf_token(client.get("/tableau-de-bord").get_data(as_text=True))
    response = client.post(
        f"/evenements/{accepted.event_id}/facturation/finale",
        data={"operation_category": "services", "csrf_token": token},
    )
    assert response.status_code == status
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0


def test_the_list_filters_by_derived_state(client, auth, accepted, treasurer):
    deposit = service.issue_deposit(accepted, treasurer, percent=D("10"), today=date(2026, 3, 10))
    record_payment(deposit, treasurer, received_on=date(2026, 3, 11), amount=deposit.total_gross)
    service.issue_final(accepted, treasurer, today=date(2026, 3, 12))
    db.session.commit()
    auth.login(treasurer.email)
    paid = client.get("/factures?state=paid").get_data(as_text=True)
    assert "FAC-2026-0001" in paid and "FAC-2026-0002" not in paid
    assert client.get("/factures?state=nimportequoi").status_code == 400
    assert client.get("/factures?client=abc").status_code == 400
    assert client.get("/factures?page=99999999999999999999").status_code == 400


@pytest.mark.parametrize("query", ["state=%0D", "state=%20%20", "client=%20", "client=%09&state=%0D%0A"])
def test_a_blank_filter_lists_everything(client, auth, accepted, treasurer, query):
    """Fuzz finding: a state or client made of blanks passed the form (WTForms' Optional reads it
    as empty) and was then used as a state (KeyError) or an id (ValueError): a 500. Blank is
    "all", as the events and quotes lists read it."""
    service.issue_deposit(accepted, treasurer, percent=D("10"), today=date(2026, 3, 10))
    service.issue_final(accepted, treasurer, today=date(2026, 3, 12))
    db.session.commit()
    auth.login(treasurer.email)
    response = client.get(f"/factures?{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "FAC-2026-0001" in page and "FAC-2026-0002" in page


# --- Factur-X ------------------------------------------------------------------------------------


def test_every_issued_document_is_a_valid_factur_x_whose_totals_match_the_pdf(accepted, treasurer):
    from lxml import etree

    from invoicing import facturx

    deposit = service.issue_deposit(accepted, treasurer, percent=D("30"), today=date(2026, 3, 10))
    final = service.issue_final(accepted, treasurer, today=date(2026, 4, 20))
    note = service.issue_credit_note(final, treasurer, reason="Erreur de quantité", amount=D("100.00"))
    ns = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}
    for document, type_code in ((deposit, "386"), (final, "380"), (note, "381")):
        xml = facturx.extract_xml(service.invoice_pdf(document))
        assert xml == document.xml
        assert facturx.validate(xml) == [], document.number
        tree = etree.fromstring(xml)
        assert (
            tree.xpath("string(//*[local-name()='ExchangedDocument']/*[local-name()='TypeCode'])")
            == type_code
        )
        summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/"
        grand = D(tree.xpath(f"string({summation}ram:GrandTotalAmount)", namespaces=ns))
        due = D(tree.xpath(f"string({summation}ram:DuePayableAmount)", namespaces=ns))
        assert (grand, due) == (document.total_gross, document.total_gross - document.prepaid)
        text = pdf_text(service.invoice_pdf(document))
        assert f"Total TTC {grand:,.2f} €".replace(",", " ").replace(".", ",") in text
    credited = tree.xpath("string(//ram:InvoiceReferencedDocument/ram:IssuerAssignedID)", namespaces=ns)
    assert credited == final.number


# --- the event's money ---------------------------------------------------------------------------


def test_the_money_page_adds_up_after_a_credit_note_and_a_reissue(client, auth, accepted, treasurer):
    deposit = service.issue_deposit(accepted, treasurer, percent=D("30"), today=date(2026, 3, 10))
    record_payment(deposit, treasurer, received_on=date(2026, 3, 20), amount=deposit.total_gross)
    wrong = service.issue_final(accepted, treasurer, today=date(2026, 4, 18))
    service.issue_credit_note(wrong, treasurer, reason="Annule et remplace")
    final = service.issue_final(accepted, treasurer, today=date(2026, 4, 19))
    assert final.prepaid == deposit.total_gross  # the deposit is deducted again
    assert service.figures(wrong).due == D("0.00")
    record_payment(final, treasurer, received_on=date(2026, 5, 2), amount=GROSS - deposit.total_gross)
    db.session.commit()
    auth.login(treasurer.email)
    page = client.get(f"/evenements/{accepted.event_id}/facturation").get_data(as_text=True)
    page = page.replace("\u202f", " ").replace("\xa0", " ")
    for element_id, amount in (
        ("quoted", "8 473,58 €"),
        ("collected", "8 473,58 €"),
        ("outstanding", "0,00 €"),
    ):
        assert re.search(rf'id="{element_id}">\s*{amount}', page), element_id


def test_the_money_page_offers_invoicing_only_until_the_quote_is_invoiced(client, auth, accepted, treasurer):
    db.session.commit()
    auth.login(treasurer.email)
    url = f"/evenements/{accepted.event_id}/facturation"
    assert "Émettre la facture d'acompte" in client.get(url).get_data(as_text=True)
    invoice = service.issue_final(accepted, treasurer)
    db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "Émettre la facture d'acompte" not in page and "Le devis accepté est facturé." in page
    service.issue_credit_note(invoice, treasurer, reason="Annule et remplace")
    db.session.commit()
    assert "Émettre la facture" in client.get(url).get_data(as_text=True)


def test_a_credit_note_of_an_absurd_amount_is_refused_with_a_message(client, auth, accepted, treasurer):
    """Fuzz finding: 10²⁶ € typed as a credit note's amount was a 500 (the refusal's message could
    not write the amount). Refused by the form, in French, and nothing is issued."""
    invoice = service.issue_final(accepted, treasurer, today=date(2026, 4, 18))
    db.session.commit()
    auth.login(treasurer.email)
    page = client.get(f"/factures/{invoice.id}").get_data(as_text=True)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Invoice))
    response = client.post(
        f"/factures/{invoice.id}/avoir",
        data={"amount": "100000000000000000000000000", "reason": "Erreur", "csrf_token": csrf_token(page)},
    )
    assert response.status_code == 400
    assert "Nombre trop grand : au plus 12 chiffres avant la virgule." in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == before
