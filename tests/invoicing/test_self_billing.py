"""Self-billing in single-contractor mode: the payout statement of an actor with a mandate becomes a
self-billed invoice (type 389) in its series, from the actor to the coordinator; the actor accepts it
(who, when, IP) or contests it, which blocks the payout; nobody answers for another actor."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from app.dates import local_today
from app.errors import Conflict, DomainError, Forbidden, InvalidValue
from app.extensions import db
from invoicing import facturx as fx
from invoicing.models import Invoice, InvoiceOrigin, Payout, PayoutStatus, ReviewAnswer
from invoicing.services import invoices as invoice_service
from invoicing.services import mandates, self_billing
from invoicing.services.payments import record_payment
from invoicing.services.payouts import mark_paid
from invoicing.split import split_for_quote
from tests.conftest import csrf_token
from tests.invoicing.test_joint import DAY, PDF, accept, login, pdf_text
from tests.offers.quote_fixtures import build_ready_event


@pytest.fixture
def single(make_event, make_client, make_category, make_organisation, make_user):
    event, _lots, (cook, shop, photographer) = build_ready_event(
        make_event, make_client, make_category, make_organisation, commission_rate=D("0.0500")
    )
    coordinator = make_user("coordinator")
    quote = accept(event, coordinator)
    mandates.record_signed(shop, coordinator, prefix="EQUI", valid_from=date(2026, 1, 1), document=PDF)
    mandates.record_signed(cook, coordinator, prefix="MELI", valid_from=date(2026, 1, 1), document=PDF)
    treasurer = make_user("treasurer")
    final = invoice_service.issue_final(quote, treasurer, today=DAY)
    record_payment(final, treasurer, received_on=DAY, amount=final.total_gross)
    db.session.flush()
    return {
        "quote": quote,
        "event": event,
        "cook": cook,
        "shop": shop,
        "photographer": photographer,
        "treasurer": treasurer,
        "shop_person": make_user("actor", organisation=shop),
        "cook_person": make_user("actor", organisation=cook),
    }


def payout_of(event, organisation) -> Payout:
    return db.session.scalar(
        sa.select(Payout).where(
            Payout.event_id == event.id,
            Payout.organisation_id == organisation.id,
            Payout.status == PayoutStatus.DUE,
        )
    )


def test_self_billed_invoice_in_the_actors_series_type_389(single):
    quote, shop, treasurer = single["quote"], single["shop"], single["treasurer"]
    invoice = self_billing.issue_self_billed(quote, shop, treasurer, today=DAY)
    actor = split_for_quote(quote).actor(shop.id)
    # L'Équipage: share 350,00 at 5,5 %, commission 5 % = 17,50 → net 332,50, VAT 18,29.
    assert (actor.share, actor.commission, actor.net, actor.vat_amount) == (
        D("350.00"),
        D("17.50"),
        D("332.50"),
        D("18.29"),
    )
    assert (invoice.number, invoice.issuer, invoice.total_net, invoice.total_vat, invoice.total_gross) == (
        "EQUI-2026-0001",
        f"organisation:{shop.id}",
        D("332.50"),
        D("18.29"),
        D("350.79"),
    )
    assert invoice.seller["name"] == "L'Équipage" and invoice.buyer["name"] == "Les Ecossolies"
    assert invoice.purchase_order_number is None
    assert b"<ram:TypeCode>389</ram:TypeCode>" in invoice.xml
    assert fx.validate(invoice.xml) == []
    text = pdf_text(invoice_service.invoice_pdf(invoice))
    assert "Autofacture n° EQUI-2026-0001" in text
    assert (
        "Autofacturation : facture établie par Les Ecossolies, client, au nom et pour le compte de L'Équipage"
        in text
    )
    with pytest.raises(invoice_service.InvoiceRefused) as paid:
        record_payment(invoice, treasurer, received_on=DAY, amount=D("10.00"))
    assert paid.value.message == (
        "Une autofacture se règle par le reversement de l'acteur, pas par un paiement du client."
    )
    with pytest.raises(invoice_service.InvoiceRefused) as twice:
        self_billing.issue_self_billed(quote, shop, treasurer, today=DAY)
    assert twice.value.message == "L'autofacture de L'Équipage est déjà émise (EQUI-2026-0001)."
    # The exempt actor's: 0 % with its mention.
    cook_invoice = self_billing.issue_self_billed(quote, single["cook"], treasurer, today=DAY)
    assert fx.VATEX_CGI261_7.encode() in cook_invoice.xml and cook_invoice.total_vat == D("0.00")
    # Without a mandate: nothing in the actor's name.
    with pytest.raises(mandates.MandateMissing):
        self_billing.issue_self_billed(quote, single["photographer"], treasurer, today=DAY)


def test_contest_blocks_the_payout_and_nobody_answers_for_another(single):
    quote, shop, treasurer, event = single["quote"], single["shop"], single["treasurer"], single["event"]
    invoice = self_billing.issue_self_billed(quote, shop, treasurer, today=DAY)
    payout = payout_of(event, shop)
    assert payout.amount == D("350.79")
    with pytest.raises(DomainError) as waiting:
        mark_paid(payout, treasurer, paid_on=DAY, reference="VIR 1")
    assert waiting.value.message == (
        "L'autofacture EQUI-2026-0001 attend l'acceptation de l'acteur : le reversement sera payable "
        "une fois acceptée."
    )
    with pytest.raises(Forbidden) as other:
        self_billing.answer(invoice, single["cook_person"], accept=True)
    assert other.value.message == "Seules les personnes de L'Équipage répondent à cette autofacture."
    with pytest.raises(InvalidValue):
        self_billing.answer(invoice, single["shop_person"], accept=False, reason=" ")
    review = self_billing.answer(
        invoice,
        single["shop_person"],
        accept=False,
        reason="La commission n'était pas prévue",
        ip="203.0.113.7",
    )
    assert (review.answer, review.user_id, review.ip) == (
        ReviewAnswer.CONTESTED,
        single["shop_person"].id,
        "203.0.113.7",
    )
    with pytest.raises(DomainError) as blocked:
        mark_paid(payout, treasurer, paid_on=DAY, reference="VIR 1")
    assert blocked.value.message == (
        "L'autofacture EQUI-2026-0001 est contestée (La commission n'était pas prévue) : le reversement est bloqué."
    )
    with pytest.raises(Conflict):
        self_billing.answer(invoice, single["shop_person"], accept=True)
    assert payout.status == PayoutStatus.DUE


def test_accepted_in_the_portal_and_the_payout_becomes_payable(client, single):
    quote, cook, treasurer, event = single["quote"], single["cook"], single["treasurer"], single["event"]
    invoice = self_billing.issue_self_billed(quote, cook, treasurer, today=DAY)
    db.session.flush()
    login(client, single["cook_person"])
    page = client.get("/portail/facturation").get_data(as_text=True)
    assert invoice.number in page and "accepte cette autofacture" in page, page[page.find("Mes factures") :][
        :3000
    ]
    response = client.post(
        f"/portail/autofactures/{invoice.id}/reponse", data={"accept": "1", "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302
    review = self_billing.review_of(invoice)
    assert (review.answer, review.user_id, review.ip) == (
        ReviewAnswer.ACCEPTED,
        single["cook_person"].id,
        "127.0.0.1",
    )
    payout = payout_of(event, cook)
    mark_paid(payout, treasurer, paid_on=DAY, reference="VIR 2")
    assert payout.status == PayoutStatus.PAID
    # Another actor cannot answer it through the page either.
    shop_invoice = self_billing.issue_self_billed(quote, single["shop"], treasurer, today=DAY)
    db.session.flush()
    refused = client.post(
        f"/portail/autofactures/{shop_invoice.id}/reponse",
        data={"accept": "1", "csrf_token": csrf_token(page)},
    )
    assert refused.status_code == 403
    assert self_billing.review_of(shop_invoice) is None


def test_the_money_page_and_the_workbook_never_count_a_self_billed_invoice_as_billed(client, single):
    """The client was asked for the final invoice only: an actor's self-billed invoice to the
    coordinator is neither invoiced to the client nor outstanding (``asks_the_client``)."""
    from app.formatting import money
    from invoicing.models import Invoice, InvoiceStatus
    from invoicing.treasury import money_summary

    quote, event, treasurer = single["quote"], single["event"], single["treasurer"]
    self_billing.issue_self_billed(quote, single["shop"], treasurer, today=DAY)
    db.session.flush()
    documents = list(
        db.session.scalars(
            sa.select(Invoice).where(Invoice.event_id == event.id, Invoice.status == InvoiceStatus.ISSUED)
        )
    )
    assert len(documents) == 2
    invoiced, credited, collected = money_summary(documents, invoice_service.figures_of(documents))
    assert (invoiced, credited, collected) == (quote.total_gross, D("0.00"), quote.total_gross)
    login(client, treasurer)
    page = client.get(f"/evenements/{event.id}/facturation").get_data(as_text=True)
    figure = page.split('id="invoiced">', 1)[1].split("<", 1)[0]
    assert figure == money(quote.total_gross)


def test_a_self_billed_invoice_is_not_the_clients_final_invoice(single):
    """The actor's self-billed invoice (to the coordinator) never stands for the client's final one:
    once the client's final is credited in full, a deposit and a new final can be issued again."""
    quote, treasurer = single["quote"], single["treasurer"]
    self_billing.issue_self_billed(quote, single["shop"], treasurer, today=DAY)
    final = db.session.scalar(
        sa.select(Invoice).where(Invoice.quote_id == quote.id, Invoice.origin == InvoiceOrigin.MAILLAGE.value)
    )
    invoice_service.issue_credit_note(final, treasurer, reason="Erreur de TVA", today=DAY)
    deposit = invoice_service.issue_deposit(quote, treasurer, percent=D("10"), today=DAY)
    assert deposit.number.startswith("FAC-2026-")
    again = invoice_service.issue_final(quote, treasurer, today=DAY)
    assert again.prepaid == deposit.total_gross


def _row(page: str, invoice) -> str:
    return page.split(f'id="facture-{invoice.id}"', 1)[1].split("</tr>", 1)[0]


def test_the_treasurers_list_settles_a_self_billed_invoice_by_its_payout(client, single):
    """The coordinator owes a self-billed invoice to the actor and settles it by paying out: the
    treasurer's list never shows it "En retard" like a client's unpaid invoice, shows it paid once
    the payout is, and the state filter agrees with the badges."""
    quote, cook, treasurer, event = single["quote"], single["cook"], single["treasurer"], single["event"]
    invoice = self_billing.issue_self_billed(quote, cook, treasurer, today=date(2026, 1, 5))
    self_billing.answer(invoice, single["cook_person"], accept=True)
    db.session.flush()
    assert invoice.due_date < local_today()
    login(client, treasurer)
    row = _row(client.get("/factures").get_data(as_text=True), invoice)
    assert "À payer" in row and "En retard" not in row
    assert f'id="facture-{invoice.id}"' not in client.get("/factures?state=overdue").get_data(as_text=True)
    assert f'id="facture-{invoice.id}"' in client.get("/factures?state=open").get_data(as_text=True)
    mark_paid(payout_of(event, cook), treasurer, paid_on=DAY, reference="VIR 7")
    db.session.flush()
    row = _row(client.get("/factures").get_data(as_text=True), invoice)
    assert "Payée" in row
    assert f'id="facture-{invoice.id}"' in client.get("/factures?state=paid").get_data(as_text=True)
    detail = client.get(f"/factures/{invoice.id}").get_data(as_text=True)
    assert "Payée" in detail
    money_page = client.get(f"/evenements/{event.id}/facturation").get_data(as_text=True)
    assert "Payée" in _row(money_page, invoice)


def test_the_workbook_shows_a_self_billed_invoice_as_the_list_does(single):
    import io

    import openpyxl

    from invoicing.workbook import build_workbook

    quote, cook, treasurer, event = single["quote"], single["cook"], single["treasurer"], single["event"]
    invoice = self_billing.issue_self_billed(quote, cook, treasurer, today=date(2026, 1, 5))
    self_billing.answer(invoice, single["cook_person"], accept=True)
    payout = payout_of(event, cook)
    mark_paid(payout, treasurer, paid_on=DAY, reference="VIR 8")
    db.session.flush()

    def row() -> dict:
        sheet = openpyxl.load_workbook(io.BytesIO(build_workbook(date(2026, 1, 1), date(2026, 12, 31))))[
            "Factures"
        ]
        rows = list(sheet.iter_rows(values_only=True))
        return next(dict(zip(rows[0], r, strict=True)) for r in rows[1:] if r[0] == invoice.number)

    figures = invoice_service.settled_figures([invoice])[invoice.id]
    assert (figures.paid, figures.balance) == (payout.amount, D("0.00"))
    shown = row()
    assert (shown["État"], D(str(shown["Payé"])), D(str(shown["Reste à payer"]))) == (
        "Payée",
        payout.amount,
        D("0"),
    )
