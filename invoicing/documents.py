"""Invoice and credit-note documents, rendered once from the frozen row and never again.

The Factur-X (EN 16931 CII) XML is built and checked against the XSD, the EN 16931 schematron and
the French CTC schematron inside the issuing transaction (:func:`invoice_xml`,
``invoicing.facturx``, ``docs/e-invoicing.md``): an invoice that would not validate is refused, with
the rules it breaks, and takes no number. The PDF, a PDF/A-3b with that stored XML embedded as
``factur-x.xml``, is rendered after the issuing commit from the frozen row alone
(:func:`render_invoice_pdf`; stored by :mod:`app.stored_pdf`, read through
``invoicing.services.invoices.invoice_pdf``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from app.errors import DomainError
from app.models import VatRegime
from app.pdf import render_pdf
from invoicing import facturx as fx
from invoicing import mentions as legal

TITLES = {
    "invoice": "Facture",
    "deposit": "Facture d'acompte",
    "credit_note": "Avoir",
}

TYPE_CODES = {"invoice": fx.INVOICE, "deposit": fx.DEPOSIT, "credit_note": fx.CREDIT_NOTE}

#: Our common units as UN/ECE Recommendation 20 codes (BT-130); a unit typed by hand is "C62" (one).
UNIT_CODES = {
    "piece": "C62",
    "personne": "IE",
    "heure": "HUR",
    "jour": "DAY",
    "forfait": "LS",
    "kg": "KGM",
    "m2": "MTK",
    "repas": "C62",
    "lot": "LO",
    "km": "KMT",
}

OPERATION_LETTERS = {"services": "S", "goods": "B", "mixed": "M"}


class InvoiceNotCompliant(DomainError):
    """The e-invoice would not validate: nothing is issued; ``errors`` lists the rules broken."""

    status_code = 409

    def __init__(self, errors: list[str]):
        super().__init__(
            _("La facture électronique ne serait pas conforme (EN 16931) : ") + " ; ".join(errors[:5])
        )
        self.errors = errors


def event_details(event) -> dict:
    """What the invoice prints of its event, frozen in its ``references["event"]`` when issued."""
    return {
        "title": event.title,
        "starts_at": event.starts_at.isoformat(),
        "venue": event.venue,
        "venue_address": event.venue_address,
    }


def _printed_event(invoice) -> SimpleNamespace:
    frozen = (invoice.references or {})["event"]
    return SimpleNamespace(**{**frozen, "starts_at": datetime.fromisoformat(frozen["starts_at"])})


def render_html(invoice, lines, event) -> str:
    with force_locale("fr"):
        return render_template(
            "pdf/invoice.html",
            invoice=invoice,
            lines=lines,
            title="Autofacture" if invoice.origin == "self_billed" else TITLES[invoice.kind.value],
            seller=invoice.seller,
            buyer=invoice.buyer,
            event=event,
            operation=legal.OPERATION_CATEGORIES[invoice.operation_category],
        )


def _party(data: dict, *, buyer: bool = False) -> fx.FxParty:
    return fx.FxParty(
        name=data.get("name") or "",
        siren=data.get("siren") or "",
        address=data.get("address") or "",
        postal_code=data.get("postal_code") or "",
        commune=data.get("commune") or "",
        siret=data.get("siret") or None,
        vat_number=data.get("vat_number") or None,
        email=data.get("email") or None,
        legal_form=data.get("legal_form") or None,
        is_public_body=bool(data.get("is_public_body")) if buyer else False,
        chorus_service_code=data.get("chorus_service_code") if buyer else None,
        engagement_number=data.get("engagement_number") if buyer else None,
    )


def _exemption(regime: str | None, rate: Decimal, mention: str | None) -> tuple[str, str | None, str | None]:
    """VAT category, exemption reason and code of a rate sold by a seller of ``regime``."""
    if rate != 0:
        return fx.STANDARD, None, None
    code = {
        VatRegime.FRANCHISE.value: fx.VATEX_FRANCHISE,
        VatRegime.EXEMPT.value: fx.VATEX_CGI261_7,
    }.get(regime or "")
    return fx.EXEMPT, mention or "Exonération de TVA", code


def fx_document(invoice, lines, event) -> fx.FxDocument:
    """The frozen invoice as the Factur-X layer's plain input."""
    regime = invoice.seller.get("vat_regime")
    fx_lines = []
    for line in lines:
        category, reason, code = _exemption(regime, Decimal(line.vat_rate), line.vat_mention)
        fx_lines.append(
            fx.FxLine(
                id=str(line.position + 1),
                description=line.description,
                quantity=Decimal(line.quantity),
                unit_price=Decimal(line.unit_price),
                net=Decimal(line.net),
                vat_rate=Decimal(line.vat_rate),
                vat_category=category,
                unit_code=UNIT_CODES.get(line.unit, "C62"),
                exemption_reason=reason,
                exemption_code=code,
            )
        )
    groups = []
    for group in invoice.vat_groups:
        rate = Decimal(group["rate"])
        category, reason, code = _exemption(regime, rate, group.get("mention"))
        groups.append(
            fx.FxVatGroup(
                rate=rate,
                basis=Decimal(group["net"]),
                vat=Decimal(group["vat"]),
                category=category,
                exemption_reason=reason,
                exemption_code=code,
            )
        )
    references = invoice.references or {}
    preceding = []
    if references.get("credited"):
        credited = references["credited"]
        preceding.append((credited["number"], _date(credited["date"])))
    for deposit in references.get("deposits") or []:
        preceding.append((deposit["number"], _date(deposit["date"])))
    mention_texts = {m["text"] for m in invoice.mentions}
    return fx.FxDocument(
        number=invoice.number,
        type_code=fx.SELF_BILLED if invoice.origin == "self_billed" else TYPE_CODES[invoice.kind.value],
        issue_date=invoice.issue_date,
        seller=_party(invoice.seller),
        buyer=_party(invoice.buyer, buyer=True),
        lines=tuple(fx_lines),
        vat_groups=tuple(groups),
        line_total=invoice.total_net,
        tax_basis_total=invoice.total_net,
        tax_total=invoice.total_vat,
        grand_total=invoice.total_gross,
        prepaid=invoice.prepaid,
        due_payable=invoice.total_gross - invoice.prepaid,
        due_date=invoice.due_date,
        service_date=invoice.service_date or event.ends_at.date(),
        purchase_order=invoice.purchase_order_number,
        preceding_invoices=tuple(preceding),
        payment_terms=invoice.seller.get("payment_terms") or None,
        payee_iban=invoice.seller.get("iban") or None,
        notes=tuple(fx.FxNote(m["text"], m.get("code")) for m in invoice.mentions),
        vat_on_debits=legal.text("legal.vat_on_debits") in mention_texts,
        operation_category=OPERATION_LETTERS[invoice.operation_category],
    )


def _date(value: str):
    from datetime import date

    return date.fromisoformat(value)


def invoice_xml(invoice, lines, event) -> bytes:
    """The Factur-X XML of the invoice being issued; :class:`InvoiceNotCompliant` when it would not
    validate."""
    xml = fx.build_xml(fx_document(invoice, lines, event))
    errors = fx.validate(xml)
    if errors:
        raise InvoiceNotCompliant(errors)
    return xml


def render_invoice_pdf(invoice) -> bytes:
    """The issued invoice's PDF from its frozen row: a PDF/A-3b with its stored XML embedded, or a
    plain PDF/A when the client asked for one (the XML is then exported beside it)."""
    pdf = render_pdf(render_html(invoice, invoice.lines, _printed_event(invoice)), pdf_variant=fx.PDF_VARIANT)
    if (invoice.buyer or {}).get("einvoice_format") == "pdfa":
        return pdf
    return fx.embed(pdf, invoice.xml, metadata={"title": f"{TITLES[invoice.kind.value]} {invoice.number}"})


def render_statement(event, quote, money, actor, lines, payouts) -> bytes:
    """An actor's payout statement for one event (rendered on demand: it is not a legal document):
    ``quote`` is the accepted quote (the model: its snapshot is printed), ``money`` its
    :func:`~invoicing.services.payouts.event_money`."""
    from app.db import utcnow

    with force_locale("fr"):
        html = render_template(
            "pdf/statement.html",
            event=event,
            quote=quote,
            split=money.split,
            actor=actor,
            lines=lines,
            payouts=payouts,
            today=utcnow().date(),
        )
    return render_pdf(html)


def render_cover(event, summary) -> bytes:
    """The cover summary of a joint event for the client: every invoice of the groupement, who is
    paid what, adding up to the accepted quote (rendered on demand from the frozen invoices)."""
    from app.db import utcnow

    with force_locale("fr"):
        html = render_template("pdf/joint_cover.html", event=event, summary=summary, today=utcnow().date())
    return render_pdf(html)


def render_identity_sheet(sheet) -> bytes:
    """The "fiche d'identité du marché" of a groupement (rendered on demand)."""
    from app.db import utcnow
    from invoicing.services.chorus import CIRCUITS

    with force_locale("fr"):
        html = render_template(
            "pdf/identity_sheet.html", sheet=sheet, circuit=CIRCUITS[sheet.circuit], today=utcnow().date()
        )
    return render_pdf(html)
