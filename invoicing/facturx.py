"""Factur-X (EN 16931 profile): build the CII XML, embed it in a PDF/A-3b, extract it, validate it.

This module is self-contained: it takes plain dataclasses (:class:`FxDocument` and its parts), never
ORM objects, and never computes money. Line nets, VAT groups and totals come from the caller, who
takes them from :mod:`offers.pricing` (the only place that decides VAT and adds up money); the XML
states them as given, and :func:`validate` says whether they hold together.

- :func:`build_xml` writes a UN/CEFACT CII invoice at the EN 16931 profile
  (guideline ``urn:cen.eu:en16931:2017``).
- :func:`embed` attaches it to a PDF/A-3b (rendered by :func:`app.pdf.render_pdf` with
  ``pdf_variant=PDF_VARIANT``) as ``factur-x.xml`` with the relationship "Alternative" and the
  Factur-X XMP metadata; :func:`extract_xml` reads it back.
- :func:`validate` runs, offline, the XSD, the EN 16931 schematron and the French CTC schematron
  shipped compiled inside the ``factur-x`` package, with ``saxonche``; each stylesheet is compiled
  once per process.

The rules the XML follows, and why, are in ``docs/e-invoicing.md``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import facturx
from flask_babel import gettext as _
from lxml import etree

from app.errors import InvalidValue

#: The WeasyPrint variant to render the PDF that :func:`embed` receives.
PDF_VARIANT = "pdf/a-3b"
#: The name of the embedded XML (Factur-X specification).
FACTURX_FILENAME = "factur-x.xml"
GUIDELINE = "urn:cen.eu:en16931:2017"
LEVEL = "en16931"

# Document type codes (UNTDID 1001, BT-3).
INVOICE = "380"
CREDIT_NOTE = "381"
DEPOSIT = "386"
SELF_BILLED = "389"
DOCUMENT_TYPES = (INVOICE, CREDIT_NOTE, DEPOSIT, SELF_BILLED)

# VAT category codes (UNCL 5305, BT-151 / BT-118).
STANDARD = "S"
EXEMPT = "E"

#: Exemption reason codes (BT-121) the EN 16931 code list and the French CTC rules accept.
VATEX_FRANCHISE = "VATEX-FR-FRANCHISE"  # art. 293 B CGI
VATEX_CGI261_7 = "VATEX-FR-CGI261-7"  # art. 261-7 CGI (non-profit bodies)

# Party identifier schemes (ISO 6523 ICD).
SCHEME_SIRET = "0009"
SCHEME_SIREN = "0002"
#: Electronic address scheme of the French e-invoicing directory (an address starting with the SIREN).
SCHEME_FR_ADDRESS = "0225"

_NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
_SVRL = "http://purl.oclc.org/dsdl/svrl"


class FacturXRefused(InvalidValue):
    """The document cannot be written as a Factur-X invoice (the message says why, in French)."""


# --- input ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FxParty:
    """A seller or a buyer. ``siret`` (14 digits) must start with ``siren`` (9 digits)."""

    name: str
    siren: str
    address: str
    postal_code: str
    commune: str
    siret: str | None = None
    vat_number: str | None = None
    country: str = "FR"
    email: str | None = None
    legal_form: str | None = None
    #: Electronic invoicing address (BT-34 / BT-49); the SIREN when not given.
    electronic_address: str | None = None
    # Public buyers (Chorus Pro): the service code (BT-10) and the engagement number (BT-13).
    is_public_body: bool = False
    chorus_service_code: str | None = None
    engagement_number: str | None = None


@dataclass(frozen=True)
class FxLine:
    """One invoice line. ``net`` is the caller's rounded ``quantity × unit_price``; ``vat_rate`` is a
    fraction (``Decimal("0.2000")`` for 20 %), as in :mod:`offers.pricing`."""

    id: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    net: Decimal
    vat_rate: Decimal
    vat_category: str = STANDARD
    unit_code: str = "C62"
    exemption_reason: str | None = None
    exemption_code: str | None = None


@dataclass(frozen=True)
class FxVatGroup:
    """One row of the VAT breakdown (BG-23), as computed by :mod:`offers.pricing` (never here)."""

    rate: Decimal
    basis: Decimal
    vat: Decimal
    category: str = STANDARD
    exemption_reason: str | None = None
    exemption_code: str | None = None


@dataclass(frozen=True)
class FxNote:
    """A note (BG-1). ``subject`` is an UNTDID 4451 code: PMD (late-payment penalties), PMT (the
    fixed recovery indemnity), AAB (discount), TXD (tax mention), BAR (treatment), or ``None``."""

    text: str
    subject: str | None = None


@dataclass(frozen=True)
class FxDocument:
    number: str
    type_code: str
    issue_date: date
    seller: FxParty
    buyer: FxParty
    lines: tuple[FxLine, ...]
    vat_groups: tuple[FxVatGroup, ...]
    line_total: Decimal
    tax_basis_total: Decimal
    tax_total: Decimal
    grand_total: Decimal
    due_payable: Decimal
    prepaid: Decimal = Decimal("0.00")
    due_date: date | None = None
    #: The service was delivered on ``service_date``, or over ``service_start`` … ``service_end``
    #: (BT-72 is then the end of the period). One of them is required.
    service_date: date | None = None
    service_start: date | None = None
    service_end: date | None = None
    currency: str = "EUR"
    purchase_order: str | None = None
    contract_reference: str | None = None
    #: A credit note's invoice (BT-25, BT-26); a final invoice may also cite its deposit here.
    preceding_invoices: tuple[tuple[str, date], ...] = ()
    payment_terms: str | None = None
    payee_iban: str | None = None
    notes: tuple[FxNote, ...] = field(default_factory=tuple)
    #: "Option pour le paiement de la taxe d'après les débits" (BT-8 = 5, the invoice date).
    vat_on_debits: bool = False
    #: Goods, services or both (the letter of BT-23): "B", "S" or "M".
    operation_category: str = "S"


# --- build ---------------------------------------------------------------------------------------


def _q(tag: str) -> str:
    prefix, local = tag.split(":")
    return f"{{{_NS[prefix]}}}{local}"


def _sub(parent, tag: str, text=None, **attrs):
    element = etree.SubElement(parent, _q(tag), {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        element.text = str(text)
    return element


def _amount(value: Decimal) -> str:
    """An amount with two decimals; never rounded here: an amount with more decimals is written as
    is, and :func:`validate` refuses it (BR-FR-DEC-01)."""
    value = Decimal(value)
    cents = value.quantize(Decimal("0.01"))
    return f"{cents if cents == value else value:f}"


def _number(value: Decimal) -> str:
    """A quantity or a unit price, without trailing zeros (``2``, ``1.5``, ``12.3456``)."""
    return f"{Decimal(value).normalize():f}"


def _percent(rate: Decimal) -> str:
    """A rate given as a fraction (0.0550) written as a percentage (5.5)."""
    return _number(Decimal(rate) * 100)


def _date(parent, tag: str, value: date, qualified: bool = False):
    holder = _sub(parent, tag)
    _sub(
        holder,
        "qdt:DateTimeString" if qualified else "udt:DateTimeString",
        value.strftime("%Y%m%d"),
        format="102",
    )
    return holder


def _business_process(doc: FxDocument) -> str:
    """BT-23: the operation category letter, then 4 for a final invoice after deposits, else 1."""
    case = "4" if doc.prepaid and doc.type_code != DEPOSIT else "1"
    return f"{doc.operation_category}{case}"


def _party(parent, tag: str, party: FxParty, *, tax_fallback: bool):
    node = _sub(parent, tag)
    if party.siret:
        _sub(node, "ram:GlobalID", party.siret, schemeID=SCHEME_SIRET)
    _sub(node, "ram:Name", party.name)
    legal = _sub(node, "ram:SpecifiedLegalOrganization")
    _sub(legal, "ram:ID", party.siren, schemeID=SCHEME_SIREN)
    if party.email:
        contact = _sub(node, "ram:DefinedTradeContact")
        mail = _sub(contact, "ram:EmailURIUniversalCommunication")
        _sub(mail, "ram:URIID", party.email)
    address = _sub(node, "ram:PostalTradeAddress")
    _sub(address, "ram:PostcodeCode", party.postal_code)
    _sub(address, "ram:LineOne", party.address)
    _sub(address, "ram:CityName", party.commune)
    _sub(address, "ram:CountryID", party.country)
    uri = _sub(node, "ram:URIUniversalCommunication")
    _sub(uri, "ram:URIID", party.electronic_address or party.siren, schemeID=SCHEME_FR_ADDRESS)
    if party.vat_number:
        registration = _sub(node, "ram:SpecifiedTaxRegistration")
        _sub(registration, "ram:ID", party.vat_number, schemeID="VA")
    elif tax_fallback:
        # A seller without a VAT number (franchise, exempt body) still needs a tax registration
        # identifier (BR-E-02): in France a legal person's tax identifier is its SIREN.
        registration = _sub(node, "ram:SpecifiedTaxRegistration")
        _sub(registration, "ram:ID", party.siren, schemeID="FC")
    return node


def build_xml(doc: FxDocument) -> bytes:
    """The CII XML of ``doc`` at the EN 16931 profile (UTF-8 bytes, with an XML declaration).

    Raises :class:`FacturXRefused` for what no schematron would let through anyway: an unknown type
    code, no service date nor period, a public buyer without its SIRET (Chorus Pro needs it).
    """
    if doc.type_code not in DOCUMENT_TYPES:
        raise FacturXRefused(_("Type de document inconnu : %(code)s.", code=doc.type_code))
    if not (doc.service_date or (doc.service_start and doc.service_end)):
        # The delivery block is mandatory and must not be empty (PEPPOL-EN16931-R008).
        raise FacturXRefused(_("La facture doit indiquer la date ou la période de la prestation."))
    if doc.buyer.is_public_body and not doc.buyer.siret:
        raise FacturXRefused(
            _("Le SIRET de l'acheteur public est obligatoire (Chorus Pro) : %(name)s.", name=doc.buyer.name)
        )
    root = etree.Element(_q("rsm:CrossIndustryInvoice"), nsmap=_NS)

    context = _sub(root, "rsm:ExchangedDocumentContext")
    process = _sub(context, "ram:BusinessProcessSpecifiedDocumentContextParameter")
    _sub(process, "ram:ID", _business_process(doc))
    guideline = _sub(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _sub(guideline, "ram:ID", GUIDELINE)

    header = _sub(root, "rsm:ExchangedDocument")
    _sub(header, "ram:ID", doc.number)
    _sub(header, "ram:TypeCode", doc.type_code)
    _date(header, "ram:IssueDateTime", doc.issue_date)
    notes = list(doc.notes)
    if not any(n.subject == "BAR" for n in notes):
        notes.append(FxNote("B2B" if doc.buyer.siren else "B2C", "BAR"))
    for note in notes:
        included = _sub(header, "ram:IncludedNote")
        _sub(included, "ram:Content", note.text)
        if note.subject:
            _sub(included, "ram:SubjectCode", note.subject)

    transaction = _sub(root, "rsm:SupplyChainTradeTransaction")
    for line in doc.lines:
        item = _sub(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _sub(_sub(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", line.id)
        _sub(_sub(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.description)
        agreement = _sub(item, "ram:SpecifiedLineTradeAgreement")
        _sub(_sub(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount", _number(line.unit_price))
        delivery = _sub(item, "ram:SpecifiedLineTradeDelivery")
        _sub(delivery, "ram:BilledQuantity", _number(line.quantity), unitCode=line.unit_code)
        settlement = _sub(item, "ram:SpecifiedLineTradeSettlement")
        tax = _sub(settlement, "ram:ApplicableTradeTax")
        _sub(tax, "ram:TypeCode", "VAT")
        _sub(tax, "ram:CategoryCode", line.vat_category)
        _sub(tax, "ram:RateApplicablePercent", _percent(line.vat_rate))
        summation = _sub(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _sub(summation, "ram:LineTotalAmount", _amount(line.net))

    agreement = _sub(transaction, "ram:ApplicableHeaderTradeAgreement")
    buyer = doc.buyer
    if buyer.is_public_body and buyer.chorus_service_code:
        _sub(agreement, "ram:BuyerReference", buyer.chorus_service_code)
    has_exempt = any(g.category == EXEMPT for g in doc.vat_groups)
    _party(agreement, "ram:SellerTradeParty", doc.seller, tax_fallback=has_exempt)
    _party(agreement, "ram:BuyerTradeParty", buyer, tax_fallback=False)
    # Chorus Pro reads the engagement number in BT-13, where a private buyer's order number goes.
    order = (buyer.is_public_body and buyer.engagement_number) or doc.purchase_order
    if order:
        _sub(_sub(agreement, "ram:BuyerOrderReferencedDocument"), "ram:IssuerAssignedID", order)
    if doc.contract_reference:
        _sub(
            _sub(agreement, "ram:ContractReferencedDocument"), "ram:IssuerAssignedID", doc.contract_reference
        )

    delivery = _sub(transaction, "ram:ApplicableHeaderTradeDelivery")
    event = _sub(delivery, "ram:ActualDeliverySupplyChainEvent")
    _date(event, "ram:OccurrenceDateTime", doc.service_date or doc.service_end)

    settlement = _sub(transaction, "ram:ApplicableHeaderTradeSettlement")
    _sub(settlement, "ram:InvoiceCurrencyCode", doc.currency)
    if doc.payee_iban:
        means = _sub(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _sub(means, "ram:TypeCode", "58")  # SEPA credit transfer
        account = _sub(means, "ram:PayeePartyCreditorFinancialAccount")
        _sub(account, "ram:IBANID", doc.payee_iban.replace(" ", ""))
    for group in doc.vat_groups:
        tax = _sub(settlement, "ram:ApplicableTradeTax")
        _sub(tax, "ram:CalculatedAmount", _amount(group.vat))
        _sub(tax, "ram:TypeCode", "VAT")
        if group.exemption_reason:
            _sub(tax, "ram:ExemptionReason", group.exemption_reason)
        _sub(tax, "ram:BasisAmount", _amount(group.basis))
        _sub(tax, "ram:CategoryCode", group.category)
        if group.exemption_code:
            _sub(tax, "ram:ExemptionReasonCode", group.exemption_code)
        if doc.vat_on_debits:
            _sub(tax, "ram:DueDateTypeCode", "5")
        _sub(tax, "ram:RateApplicablePercent", _percent(group.rate))
    if doc.service_start and doc.service_end:
        period = _sub(settlement, "ram:BillingSpecifiedPeriod")
        _date(period, "ram:StartDateTime", doc.service_start)
        _date(period, "ram:EndDateTime", doc.service_end)
    if doc.payment_terms or doc.due_date:
        terms = _sub(settlement, "ram:SpecifiedTradePaymentTerms")
        if doc.payment_terms:
            _sub(terms, "ram:Description", doc.payment_terms)
        if doc.due_date:
            _date(terms, "ram:DueDateDateTime", doc.due_date)
    summation = _sub(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(summation, "ram:LineTotalAmount", _amount(doc.line_total))
    _sub(summation, "ram:TaxBasisTotalAmount", _amount(doc.tax_basis_total))
    _sub(summation, "ram:TaxTotalAmount", _amount(doc.tax_total), currencyID=doc.currency)
    _sub(summation, "ram:GrandTotalAmount", _amount(doc.grand_total))
    if doc.prepaid:
        _sub(summation, "ram:TotalPrepaidAmount", _amount(doc.prepaid))
    _sub(summation, "ram:DuePayableAmount", _amount(doc.due_payable))
    for number, issued in doc.preceding_invoices:
        referenced = _sub(settlement, "ram:InvoiceReferencedDocument")
        _sub(referenced, "ram:IssuerAssignedID", number)
        _date(referenced, "ram:FormattedIssueDateTime", issued, qualified=True)

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- PDF -----------------------------------------------------------------------------------------


def embed(pdf: bytes, xml: bytes, *, lang: str = "fr-FR", metadata: dict | None = None) -> bytes:
    """``pdf`` (a PDF/A-3b) with ``xml`` attached as ``factur-x.xml`` (relationship "Alternative")
    and the Factur-X XMP metadata. The XML is checked against the XSD on the way (offline)."""
    return facturx.generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level=LEVEL,
        check_xsd=True,
        check_schematron=False,
        pdf_metadata=metadata,
        lang=lang,
        afrelationship="alternative",
    )


def extract_xml(pdf: bytes) -> bytes:
    """The Factur-X XML embedded in ``pdf``; ``ValueError`` when there is none."""
    _filename, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    if not xml:
        raise ValueError("no Factur-X XML in this PDF")
    return xml


# --- validate ------------------------------------------------------------------------------------

SCHEMATRON_DIR = Path(facturx.__file__).resolve().parent / "xsd_and_schematron"
#: The compiled schematrons run by :func:`validate`: (name, stylesheet).
SCHEMATRONS = (
    ("EN16931", SCHEMATRON_DIR / "facturx-en16931" / "FACTUR-X_EN16931.xslt"),
    ("FR-CTC", SCHEMATRON_DIR / "cii-schematron-fr-ctc" / "BR-FR-Flux2-Schematron-CII.xslt"),
)

_lock = threading.Lock()
_processor = None
_compiled: dict[str, object] = {}


def _executables():
    """Each schematron compiled once per process (about a third of a second each)."""
    global _processor
    with _lock:
        if _processor is None:
            from saxonche import PySaxonProcessor

            _processor = PySaxonProcessor(license=False)
        for name, path in SCHEMATRONS:
            if name not in _compiled:
                compiler = _processor.new_xslt30_processor()
                _compiled[name] = compiler.compile_stylesheet(stylesheet_file=str(path))
        return _processor, [(name, _compiled[name]) for name, _ in SCHEMATRONS]


def compile_schematrons() -> None:
    """Compile the schematrons now (e.g. once per test session) rather than on the first check."""
    _executables()


def check_xsd(xml: bytes) -> list[str]:
    try:
        facturx.xml_check_xsd(xml, flavor="factur-x", level=LEVEL)
    except Exception as exc:  # the library raises a bare Exception with lxml's message
        return [f"XSD: {' '.join(str(exc).split())}"]
    return []


def check_schematrons(xml: bytes) -> list[str]:
    """``"rule id: text"`` for each failed assertion of each schematron (SVRL ``failed-assert``)."""
    processor, executables = _executables()
    errors: list[str] = []
    with _lock:
        node = processor.parse_xml(xml_text=xml.decode("utf-8"))
        reports = [executable.transform_to_string(xdm_node=node) for _, executable in executables]
    for report in reports:
        svrl = etree.fromstring(report.encode("utf-8"))
        for failed in svrl.iter(f"{{{_SVRL}}}failed-assert"):
            text = " ".join("".join(failed.itertext()).split())
            errors.append(f"{failed.get('id')}: {text}")
    return errors


def validate(xml: bytes) -> list[str]:
    """Errors of ``xml`` against the Factur-X EN 16931 XSD, the EN 16931 schematron and the French
    CTC schematron, all offline; an empty list when it is valid."""
    try:
        etree.fromstring(xml)
    except etree.XMLSyntaxError as exc:
        return [f"XML: {exc}"]
    return check_xsd(xml) + check_schematrons(xml)


def rule_ids(errors: list[str]) -> set[str]:
    """The rule ids of :func:`validate`'s errors (``"BR-CO-10"``, ``"BR-FR-04_BT-3"``, ``"XSD"``)."""
    return {error.split(":", 1)[0] for error in errors}
