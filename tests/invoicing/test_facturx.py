"""Factur-X: every document we build validates (XSD, EN 16931 and French CTC schematrons, offline),
a tampered one fails with the rule it breaks, and the XML round-trips through a PDF/A-3b."""

from __future__ import annotations

import dataclasses
import io
import socket
from datetime import date
from decimal import Decimal

import pytest
from lxml import etree
from pypdf import PdfReader

from app.money import compute_totals, line_net
from app.pdf import render_pdf
from invoicing import facturx
from invoicing.facturx import (
    CREDIT_NOTE,
    DEPOSIT,
    EXEMPT,
    INVOICE,
    PDF_VARIANT,
    VATEX_CGI261_7,
    VATEX_FRANCHISE,
    FacturXRefused,
    FxDocument,
    FxLine,
    FxNote,
    FxParty,
    FxVatGroup,
    build_xml,
    embed,
    extract_xml,
    rule_ids,
    validate,
)
from offers.pricing import DEFAULT_VAT_MENTIONS

D = Decimal
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}


class _NoNetwork(OSError):
    pass


def _refuse(*args, **kwargs):
    raise _NoNetwork("network access during a Factur-X check")


@pytest.fixture(scope="session")
def schematrons():
    """Compile both schematrons once per test session, with the network cut off."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _refuse)
        mp.setattr(socket, "create_connection", _refuse)
        facturx.compile_schematrons()
    return facturx


# --- documents -----------------------------------------------------------------------------------

SUBJECT_SELLER = FxParty(
    name="Les Ecossolies",
    siren="453200113",
    siret="45320011300024",
    vat_number="FR56453200113",
    address="8 rue Saint-Domingue",
    postal_code="44200",
    commune="Nantes",
    email="compta@ecossolies.example.org",
    legal_form="Association loi 1901",
)
FRANCHISE_SELLER = FxParty(
    name="TAK-APRES",
    siren="512345678",
    siret="51234567800019",
    address="12 rue de la Fonderie",
    postal_code="44000",
    commune="Nantes",
    legal_form="SCOP SARL",
)
EXEMPT_SELLER = dataclasses.replace(FRANCHISE_SELLER, name="Culture et Liberté", legal_form="Association")
BUYER = FxParty(
    name="Cap Solidaire",
    siren="789456123",
    siret="78945612300027",
    vat_number="FR12789456123",
    address="3 quai Ferdinand Favre",
    postal_code="44000",
    commune="Nantes",
)
PUBLIC_BUYER = FxParty(
    name="Nantes Métropole",
    siren="244400404",
    siret="24440040400129",
    address="2 cours du Champ de Mars",
    postal_code="44000",
    commune="Nantes",
    is_public_body=True,
    chorus_service_code="DGDU-PV",
    engagement_number="EJ2011004217",
)

B2B_NOTES = (
    FxNote("En cas de retard, pénalités au taux de trois fois le taux d'intérêt légal.", "PMD"),
    FxNote("Indemnité forfaitaire pour frais de recouvrement : 40 €.", "PMT"),
    FxNote("Pas d'escompte pour paiement anticipé.", "AAB"),
)
PUBLIC_NOTES = (
    FxNote("En cas de retard, intérêts moratoires au taux de la BCE majoré de 8 points.", "PMD"),
    FxNote("Indemnité forfaitaire pour frais de recouvrement : 40 €.", "PMT"),
    FxNote("Pas d'escompte pour paiement anticipé.", "AAB"),
)

# (description, quantity, unit price, rate)
MIXED = (
    ("Animation de la plénière", D("1"), D("850.00"), D("0.2000")),
    ("Déjeuner des participants", D("120"), D("14.50"), D("0.1000")),
    ("Billetterie du spectacle", D("3"), D("11.11"), D("0.0550")),
)


def _lines(rows, category="S", reason=None, code=None):
    return tuple(
        FxLine(
            id=str(i),
            description=desc,
            quantity=qty,
            unit_price=price,
            net=line_net(qty, price),
            vat_rate=rate,
            vat_category=category,
            unit_code="C62",
            exemption_reason=reason,
            exemption_code=code,
        )
        for i, (desc, qty, price, rate) in enumerate(rows, start=1)
    )


def document(
    rows=MIXED,
    *,
    category="S",
    reason=None,
    code=None,
    prepaid=D("0.00"),
    **kw,
) -> FxDocument:
    """A document whose VAT groups and totals come from the money module, as a caller's would."""
    lines = _lines(rows, category, reason, code)
    totals = compute_totals((line.net, line.vat_rate) for line in lines)
    groups = tuple(
        FxVatGroup(
            rate=g.rate,
            basis=g.net,
            vat=g.vat,
            category=category,
            exemption_reason=reason,
            exemption_code=code,
        )
        for g in totals.groups
    )
    values = {
        "number": "FAC-2011-0001",
        "type_code": INVOICE,
        "issue_date": date(2011, 4, 20),
        "due_date": date(2011, 5, 20),
        "service_date": date(2011, 4, 15),
        "seller": SUBJECT_SELLER,
        "buyer": BUYER,
        "lines": lines,
        "vat_groups": groups,
        "line_total": totals.net,
        "tax_basis_total": totals.net,
        "tax_total": totals.vat,
        "grand_total": totals.gross,
        "prepaid": prepaid,
        "due_payable": totals.gross - prepaid,
        "payment_terms": "Paiement à 30 jours par virement.",
        "payee_iban": "FR76 3000 4000 0312 3456 7890 143",
        "notes": B2B_NOTES,
    }
    values.update(kw)
    return FxDocument(**values)


FRANCHISE_MENTION = DEFAULT_VAT_MENTIONS["franchise"]
EXEMPT_MENTION = DEFAULT_VAT_MENTIONS["exempt"]
DEPOSIT_ROWS = (("Acompte de 30 % sur le devis DEV-2011-0001", D("1"), D("1061.81"), D("0.2000")),)

SCENARIOS = {
    "subject seller, 20 %, 10 % and 5,5 %": document(),
    "franchise seller (art. 293 B)": document(
        rows=[(d, q, p, D("0")) for d, q, p, _ in MIXED],
        category=EXEMPT,
        reason=FRANCHISE_MENTION,
        code=VATEX_FRANCHISE,
        seller=FRANCHISE_SELLER,
        notes=(*B2B_NOTES, FxNote(FRANCHISE_MENTION, "TXD")),
    ),
    "exempt seller (art. 261-7-1°)": document(
        rows=[(d, q, p, D("0")) for d, q, p, _ in MIXED],
        category=EXEMPT,
        reason=EXEMPT_MENTION,
        code=VATEX_CGI261_7,
        seller=EXEMPT_SELLER,
        notes=(*B2B_NOTES, FxNote(EXEMPT_MENTION, "TXD")),
    ),
    "deposit invoice (386)": document(
        rows=DEPOSIT_ROWS, number="FAC-2011-0001", type_code=DEPOSIT, due_date=date(2011, 3, 31)
    ),
    "final invoice deducting a deposit": document(
        number="FAC-2011-0002",
        prepaid=D("1274.17"),
        preceding_invoices=(("FAC-2011-0001", date(2011, 3, 20)),),
    ),
    "credit note (381)": document(
        rows=MIXED[:1],
        number="AV-2011-0001",
        type_code=CREDIT_NOTE,
        issue_date=date(2011, 5, 2),
        due_date=date(2011, 5, 2),
        preceding_invoices=(("FAC-2011-0002", date(2011, 4, 20)),),
    ),
    "public buyer (Chorus Pro)": document(buyer=PUBLIC_BUYER, notes=PUBLIC_NOTES),
}

BASE = SCENARIOS["subject seller, 20 %, 10 % and 5,5 %"]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_document_validates_with_zero_errors(schematrons, name):
    xml = build_xml(SCENARIOS[name])
    assert facturx.check_xsd(xml) == []
    assert facturx.check_schematrons(xml) == []
    assert validate(xml) == []


def _xpath(xml: bytes, path: str) -> list[str]:
    tree = etree.fromstring(xml)
    found = tree.xpath(path, namespaces=NS)
    return [f if isinstance(f, str) else f.text for f in found]


SETTLEMENT = "//ram:ApplicableHeaderTradeSettlement"
SUMMATION = SETTLEMENT + "/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
AGREEMENT = "//ram:ApplicableHeaderTradeAgreement"

# (scenario, xpath, exact values)
FIELDS = [
    ("subject seller, 20 %, 10 % and 5,5 %", "//rsm:ExchangedDocument/ram:TypeCode", ["380"]),
    (
        "subject seller, 20 %, 10 % and 5,5 %",
        "//rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
        ["urn:cen.eu:en16931:2017"],
    ),
    (
        "subject seller, 20 %, 10 % and 5,5 %",
        "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID",
        ["S1"],
    ),
    (
        "subject seller, 20 %, 10 % and 5,5 %",
        SETTLEMENT + "/ram:ApplicableTradeTax/ram:RateApplicablePercent",
        ["5.5", "10", "20"],
    ),
    (
        "subject seller, 20 %, 10 % and 5,5 %",
        SETTLEMENT + "/ram:ApplicableTradeTax/ram:BasisAmount",
        ["33.33", "1740.00", "850.00"],
    ),
    (
        "subject seller, 20 %, 10 % and 5,5 %",
        SETTLEMENT + "/ram:ApplicableTradeTax/ram:CalculatedAmount",
        ["1.83", "174.00", "170.00"],
    ),
    ("subject seller, 20 %, 10 % and 5,5 %", SUMMATION + "/ram:GrandTotalAmount", ["2969.16"]),
    ("subject seller, 20 %, 10 % and 5,5 %", SUMMATION + "/ram:TaxTotalAmount", ["345.83"]),
    (
        "subject seller, 20 %, 10 % and 5,5 %",
        "//ram:SpecifiedLineTradeDelivery/ram:BilledQuantity",
        ["1", "120", "3"],
    ),
    (
        "subject seller, 20 %, 10 % and 5,5 %",
        "//ram:IncludedNote[ram:SubjectCode='BAR']/ram:Content",
        ["B2B"],
    ),
    (
        "subject seller, 20 %, 10 % and 5,5 %",
        AGREEMENT + "/ram:SellerTradeParty/ram:GlobalID/@schemeID",
        ["0009"],
    ),
    (
        "subject seller, 20 %, 10 % and 5,5 %",
        AGREEMENT + "/ram:BuyerTradeParty/ram:URIUniversalCommunication/ram:URIID",
        ["789456123"],
    ),
    ("franchise seller (art. 293 B)", SETTLEMENT + "/ram:ApplicableTradeTax/ram:CategoryCode", ["E"]),
    (
        "franchise seller (art. 293 B)",
        SETTLEMENT + "/ram:ApplicableTradeTax/ram:ExemptionReasonCode",
        ["VATEX-FR-FRANCHISE"],
    ),
    (
        "franchise seller (art. 293 B)",
        SETTLEMENT + "/ram:ApplicableTradeTax/ram:ExemptionReason",
        [FRANCHISE_MENTION],
    ),
    ("franchise seller (art. 293 B)", SUMMATION + "/ram:TaxTotalAmount", ["0.00"]),
    (
        "franchise seller (art. 293 B)",
        AGREEMENT + "/ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID/@schemeID",
        ["FC"],
    ),
    (
        "exempt seller (art. 261-7-1°)",
        SETTLEMENT + "/ram:ApplicableTradeTax/ram:ExemptionReasonCode",
        ["VATEX-FR-CGI261-7"],
    ),
    ("deposit invoice (386)", "//rsm:ExchangedDocument/ram:TypeCode", ["386"]),
    ("deposit invoice (386)", SUMMATION + "/ram:DuePayableAmount", ["1274.17"]),
    (
        "final invoice deducting a deposit",
        "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID",
        ["S4"],
    ),
    ("final invoice deducting a deposit", SUMMATION + "/ram:TotalPrepaidAmount", ["1274.17"]),
    ("final invoice deducting a deposit", SUMMATION + "/ram:DuePayableAmount", ["1694.99"]),
    (
        "final invoice deducting a deposit",
        SETTLEMENT + "/ram:InvoiceReferencedDocument/ram:IssuerAssignedID",
        ["FAC-2011-0001"],
    ),
    ("credit note (381)", "//rsm:ExchangedDocument/ram:TypeCode", ["381"]),
    (
        "credit note (381)",
        SETTLEMENT + "/ram:InvoiceReferencedDocument/ram:IssuerAssignedID",
        ["FAC-2011-0002"],
    ),
    (
        "credit note (381)",
        SETTLEMENT + "/ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString",
        ["20110420"],
    ),
    ("public buyer (Chorus Pro)", AGREEMENT + "/ram:BuyerReference", ["DGDU-PV"]),
    (
        "public buyer (Chorus Pro)",
        AGREEMENT + "/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID",
        ["EJ2011004217"],
    ),
    (
        "public buyer (Chorus Pro)",
        AGREEMENT + "/ram:BuyerTradeParty/ram:GlobalID[@schemeID='0009']",
        ["24440040400129"],
    ),
    (
        "public buyer (Chorus Pro)",
        AGREEMENT + "/ram:BuyerTradeParty/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0002']",
        ["244400404"],
    ),
]


@pytest.mark.parametrize(("name", "path", "expected"), FIELDS)
def test_xml_states_the_callers_figures(name, path, expected):
    assert _xpath(build_xml(SCENARIOS[name]), path) == expected


def test_vat_groups_are_written_as_given_never_recomputed():
    doc = SCENARIOS["subject seller, 20 %, 10 % and 5,5 %"]
    odd = (FxVatGroup(rate=D("0.2000"), basis=D("850.00"), vat=D("170.01")), *doc.vat_groups[:2])
    xml = build_xml(dataclasses.replace(doc, vat_groups=odd))
    assert _xpath(xml, SETTLEMENT + "/ram:ApplicableTradeTax/ram:CalculatedAmount") == [
        "170.01",
        "1.83",
        "174.00",
    ]


REFUSED = [
    ({"type_code": "999"}, "Type de document inconnu : 999."),
    ({"service_date": None}, "La facture doit indiquer la date ou la période de la prestation."),
    (
        {"buyer": dataclasses.replace(PUBLIC_BUYER, siret=None)},
        "Le SIRET de l'acheteur public est obligatoire (Chorus Pro) : Nantes Métropole.",
    ),
]


@pytest.mark.parametrize(("change", "message"), REFUSED)
def test_builder_refuses_what_cannot_be_a_factur_x_with_a_french_message(change, message):
    with pytest.raises(FacturXRefused) as refused:
        build_xml(dataclasses.replace(BASE, **change))
    assert refused.value.message == message


def test_a_period_without_a_date_is_delivered_at_its_end(schematrons):
    doc = dataclasses.replace(
        BASE, service_date=None, service_start=date(2011, 4, 14), service_end=date(2011, 4, 15)
    )
    xml = build_xml(doc)
    assert validate(xml) == []
    assert _xpath(xml, "//ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime/udt:DateTimeString") == [
        "20110415"
    ]
    assert _xpath(xml, SETTLEMENT + "/ram:BillingSpecifiedPeriod/ram:StartDateTime/udt:DateTimeString") == [
        "20110414"
    ]


def test_public_buyer_engagement_number_wins_over_a_purchase_order():
    doc = dataclasses.replace(SCENARIOS["public buyer (Chorus Pro)"], purchase_order="BC-77")
    xml = build_xml(doc)
    assert _xpath(xml, AGREEMENT + "/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == [
        "EJ2011004217"
    ]
    private = build_xml(dataclasses.replace(BASE, purchase_order="BC-77"))
    assert _xpath(private, AGREEMENT + "/ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == ["BC-77"]
    assert _xpath(private, AGREEMENT + "/ram:BuyerReference") == []


def _retype(xml: bytes, code: str) -> bytes:
    return xml.replace(
        b"<ram:TypeCode>380</ram:TypeCode>", f"<ram:TypeCode>{code}</ram:TypeCode>".encode(), 1
    )


# (what is wrong, the XML, the exact rule ids that fail)
TAMPERED = [
    (
        "a wrong line total",
        build_xml(dataclasses.replace(BASE, line_total=D("2600.00"))),
        {"BR-CO-10", "BR-CO-13"},
    ),
    ("a type code outside the French list", _retype(build_xml(BASE), "325"), {"BR-FR-04_BT-3"}),
    (
        "a type code outside UNTDID 1001",
        _retype(build_xml(BASE), "999"),
        {"FX-SCH-A-000555", "BR-FR-04_BT-3"},
    ),
    (
        "a credit note without its invoice",
        build_xml(dataclasses.replace(SCENARIOS["credit note (381)"], preceding_invoices=())),
        {"BR-FR-CO-05_BT-3"},
    ),
    (
        "no recovery indemnity note",
        build_xml(dataclasses.replace(BASE, notes=B2B_NOTES[::2])),
        {"BR-FR-05_BT-22_PMT"},
    ),
    (
        "an amount with three decimals (never rounded by the builder)",
        build_xml(dataclasses.replace(BASE, tax_total=D("345.825"))),
        {"BR-DEC-13", "BR-CO-14", "BR-FR-DEC-01_BT-110"},
    ),
    (
        "a number with a space",
        build_xml(dataclasses.replace(BASE, number="FAC 2011-0001")),
        {"BR-FR-02_BT-1"},
    ),
    (
        "a SIRET that does not start with the SIREN",
        build_xml(
            dataclasses.replace(BASE, seller=dataclasses.replace(SUBJECT_SELLER, siret="12345678900011"))
        ),
        {"BR-FR-09_BT-29"},
    ),
    (
        "an exempt group without a reason",
        build_xml(
            dataclasses.replace(
                SCENARIOS["exempt seller (art. 261-7-1°)"],
                vat_groups=tuple(
                    dataclasses.replace(g, exemption_reason=None, exemption_code=None)
                    for g in SCENARIOS["exempt seller (art. 261-7-1°)"].vat_groups
                ),
            )
        ),
        {"BR-E-10"},
    ),
    (
        "a due amount that ignores the deposit",
        build_xml(
            dataclasses.replace(SCENARIOS["final invoice deducting a deposit"], due_payable=D("2969.16"))
        ),
        {"BR-CO-16"},
    ),
    (
        "an unknown element",
        build_xml(BASE).replace(b"<ram:Name>Les", b"<ram:Nom>x</ram:Nom><ram:Name>Les"),
        {"XSD"},
    ),
]


@pytest.mark.parametrize(("wrong", "xml", "expected"), TAMPERED, ids=[t[0] for t in TAMPERED])
def test_tampered_documents_fail_with_the_rule_they_break(schematrons, wrong, xml, expected):
    errors = validate(xml)
    assert rule_ids(errors) == expected
    assert all(": " in error for error in errors)


def test_validation_never_reaches_the_network(schematrons, monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    xml = build_xml(BASE)
    assert validate(xml) == []
    assert extract_xml(embed(_pdf_a3b(), xml)) == xml


# --- PDF -----------------------------------------------------------------------------------------

_PDF_CACHE: dict[str, bytes] = {}


def _pdf_a3b() -> bytes:
    if "pdf" not in _PDF_CACHE:
        _PDF_CACHE["pdf"] = render_pdf(
            "<html lang='fr'><body><h1>Facture FAC-2011-0001</h1><p>Total TTC : 2 969,16 €</p></body></html>",
            pdf_variant=PDF_VARIANT,
        )
    return _PDF_CACHE["pdf"]


@pytest.fixture(scope="module")
def facturx_pdf():
    xml = build_xml(BASE)
    return xml, embed(
        _pdf_a3b(), xml, metadata={"title": "Facture FAC-2011-0001", "author": "Les Ecossolies"}
    )


def test_xml_round_trips_out_of_the_pdf(facturx_pdf):
    xml, pdf = facturx_pdf
    assert extract_xml(pdf) == xml


def test_pdf_declares_pdfa3b_and_factur_x_en16931(facturx_pdf):
    _, pdf = facturx_pdf
    reader = PdfReader(io.BytesIO(pdf))
    xmp = etree.fromstring(reader.trailer["/Root"]["/Metadata"].get_object().get_data())
    ns = {
        "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
        "fx": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#",
    }
    assert xmp.xpath("//pdfaid:part/text()", namespaces=ns) == ["3"]
    assert xmp.xpath("//pdfaid:conformance/text()", namespaces=ns) == ["B"]
    assert xmp.xpath("//fx:DocumentType/text()", namespaces=ns) == ["INVOICE"]
    assert xmp.xpath("//fx:DocumentFileName/text()", namespaces=ns) == ["factur-x.xml"]
    assert xmp.xpath("//fx:ConformanceLevel/text()", namespaces=ns) == ["EN 16931"]
    root = reader.trailer["/Root"]
    assert "/OutputIntents" in root  # WeasyPrint's PDF/A output: the ICC profile is there
    attached = [spec.get_object() for spec in root["/AF"]]
    assert [(a["/F"], a["/AFRelationship"]) for a in attached] == [("factur-x.xml", "/Alternative")]


def test_extract_xml_from_a_pdf_without_xml_fails():
    with pytest.raises(ValueError, match="no Factur-X XML"):
        extract_xml(_pdf_a3b())


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_validates_a_pdf_and_an_xml(runner, tmp_path, schematrons, facturx_pdf):
    xml, pdf = facturx_pdf
    (tmp_path / "ok.pdf").write_bytes(pdf)
    (tmp_path / "bad.xml").write_bytes(_retype(xml, "325"))

    ok = runner.invoke(args=["invoicing", "validate", str(tmp_path / "ok.pdf")])
    assert ok.exit_code == 0
    assert ok.output == "ok.pdf : conforme (XSD, EN 16931, CTC FR).\n"

    bad = runner.invoke(args=["invoicing", "validate", str(tmp_path / "bad.xml")])
    assert bad.exit_code == 1
    assert bad.output.startswith("BR-FR-04_BT-3: BR-FR-04/BT-3 : Le code type de document")
    assert bad.output.endswith("bad.xml : 1 erreur(s).\n")
