"""Joint-consortium invoicing (groupement conjoint), docs/joint-consortium.md.

Each member of the groupement is a contractor of the client: it invoices its own share and is paid
directly. From the **accepted quote's frozen lines**:

- **one invoice per member** to the client, in the member's name, series and VAT regime (its
  exemption or franchise mention), issued by Maillage under the member's **billing mandate**
  (:func:`invoicing.services.mandates.require_mandate`); a member without a valid mandate gets
  nothing issued in its name: it invoices by itself and the coordination records its invoice
  (:func:`record_actor_invoice`, checked against its share of the quote to the cent);
- the quote's **coordination fee line** is the coordinator's own invoice to the client;
- a **commission** kept from the members' shares (the event's commission rate) is invoiced by the
  coordinator **to the members**, one invoice each (they are paid by the client directly);
- the **cover summary** (:func:`cover_summary`) lists every invoice of the event and adds them up to
  the accepted quote, to the cent: :func:`offers.pricing.totals_by_seller` rounds VAT per seller, so
  each member's invoice carries exactly its part of the quote's VAT.

Numbers come from each issuer's own series (``app.numbering``, issuer ``organisation:<id>`` and the
mandate's prefix), allocated in the transaction that inserts the invoice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _

from app import snapshots
from app.audit import N_, as_money, record
from app.db import utcnow
from app.errors import InvalidValue
from app.extensions import db
from app.formatting import money as format_money
from app.models import Organisation, User
from app.money import ZERO, Totals, merge_totals
from app.numbering import organisation_issuer
from app.pdf import sha256
from invoicing import mentions as legal
from invoicing.models import BillingMandate, Invoice, InvoiceKind, InvoiceLine, InvoiceOrigin, InvoiceStatus
from invoicing.services import mandates
from invoicing.services.invoices import (
    JOINT_COMMISSION,
    Figures,
    InvoiceRefused,
    Issuer,
    _context,
    _fr_money,
    _issue,
    _require_issuer,
    coordinator_issuer,
    figures_of,
    settled_figures,
    state,
)
from invoicing.split import SplitMismatch, split_for_quote
from offers import pricing
from offers.models import BillingMode, Event, Quote, QuoteStatus

#: What an invoice of the event is, in ``references["joint"]["role"]``.
MEMBER, FEE, COMMISSION = "member", "fee", JOINT_COMMISSION


# --- reading -------------------------------------------------------------------------------------


def is_joint(quote: Quote) -> bool:
    return quote.snapshot.get("event", {}).get("billing_mode") == BillingMode.JOINT_CONSORTIUM.value


def _role(invoice: Invoice) -> tuple[str | None, int | None]:
    joint = (invoice.references or {}).get("joint") or {}
    return joint.get("role"), joint.get("organisation_id")


def event_invoices(event_id: int) -> list[Invoice]:
    """The event's issued and recorded invoices and credit notes, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Invoice)
            .where(Invoice.event_id == event_id, Invoice.status == InvoiceStatus.ISSUED)
            .order_by(Invoice.issue_date, Invoice.id)
        )
    )


@dataclass(frozen=True)
class SellerShare:
    """One seller's part of the accepted quote: a member (``organisation_id``) or the coordinator's
    fee line (``None``), its frozen lines, its totals, its mandate and its invoice so far."""

    organisation_id: int | None
    name: str
    lines: tuple
    totals: Totals
    mandate: BillingMandate | None = None
    invoice: Invoice | None = None

    @property
    def awaiting_own_invoice(self) -> bool:
        """A member without a valid mandate and without a recorded invoice: it must invoice itself."""
        return self.organisation_id is not None and self.invoice is None and self.mandate is None


@dataclass(frozen=True)
class CoverSummary:
    """Every invoice of a joint event, against the accepted quote."""

    quote: Quote
    shares: tuple[SellerShare, ...]
    #: The coordinator's commission invoices to the members (not part of the client's quote).
    commissions: tuple[Invoice, ...]
    figures: dict[int, Figures] = field(default_factory=dict)

    @property
    def invoiced(self) -> list[Invoice]:
        return [s.invoice for s in self.shares if s.invoice is not None]

    @property
    def total_net(self) -> Decimal:
        return sum((i.total_net for i in self.invoiced), ZERO)

    @property
    def total_vat(self) -> Decimal:
        return sum((i.total_vat for i in self.invoiced), ZERO)

    @property
    def total_gross(self) -> Decimal:
        return sum((i.total_gross for i in self.invoiced), ZERO)

    @property
    def paid(self) -> Decimal:
        return sum((self.figures[i.id].paid for i in self.invoiced), ZERO)

    @property
    def complete(self) -> bool:
        """Every share invoiced, and the invoices add up to the quote to the cent."""
        return all(s.invoice is not None for s in self.shares) and (
            self.total_net,
            self.total_vat,
            self.total_gross,
        ) == (self.quote.total_net, self.quote.total_vat, self.quote.total_gross)


def _require_joint(quote: Quote) -> None:
    if quote.status != QuoteStatus.ACCEPTED:
        raise InvoiceRefused(
            _(
                "Le devis %(number)s v%(version)s n'est pas accepté : on ne facture qu'un devis accepté.",
                number=quote.number,
                version=quote.version,
            )
        )
    if not is_joint(quote):
        raise InvoiceRefused(
            _("Cet événement n'est pas en groupement conjoint : la coordination facture tout en son nom.")
        )


def shares(quote: Quote, today: date) -> list[SellerShare]:
    """The accepted quote cut by seller (members in the quote's order, then the fee), each with its
    totals as :func:`offers.pricing.totals_by_seller` rounds them, its mandate valid on ``today`` and
    its current invoice (issued or recorded, not cancelled by a credit note)."""
    by_seller: dict[int | None, list] = {}
    for ql in sorted(quote.lines, key=lambda q: q.position):
        by_seller.setdefault(ql.organisation_id if ql.kind == "line" else None, []).append(ql)
    priced = [
        pricing.Priced(ql.net, ql.vat_rate, org_id) for org_id, lines in by_seller.items() for ql in lines
    ]
    totals = pricing.totals_by_seller(priced, BillingMode.JOINT_CONSORTIUM)
    if merge_totals(totals.values()).gross != quote.total_gross:
        raise SplitMismatch(f"per-seller totals do not add up to quote {quote.id}")
    valid = mandates.valid_mandates([k for k in by_seller if k is not None], today)
    invoices = [i for i in event_invoices(quote.event_id) if i.kind == InvoiceKind.INVOICE]
    numbers = figures_of(invoices)
    current: dict[int | None, Invoice] = {}
    for invoice in invoices:
        role, org_id = _role(invoice)
        if role in (MEMBER, FEE) and numbers[invoice.id].credited_net < invoice.total_net:
            current.setdefault(org_id, invoice)
    actors = quote.snapshot.get("actors", {})
    result = []
    for org_id, lines in by_seller.items():
        key = pricing.seller_key(BillingMode.JOINT_CONSORTIUM, org_id)
        if org_id is None:
            name = quote.snapshot.get("coordinator", {}).get("name") or ""
        else:
            name = actors.get(str(org_id), {}).get("name") or lines[0].organisation_name
        result.append(
            SellerShare(org_id, name, tuple(lines), totals[key], valid.get(org_id), current.get(org_id))
        )
    return result


def cover_summary(quote: Quote, today: date) -> CoverSummary:
    _require_joint(quote)
    parts = shares(quote, today)
    commissions = tuple(
        i
        for i in event_invoices(quote.event_id)
        if i.kind == InvoiceKind.INVOICE and _role(i)[0] == COMMISSION
    )
    invoiced = [s.invoice for s in parts if s.invoice is not None] + list(commissions)
    return CoverSummary(quote, tuple(parts), commissions, figures_of(invoiced))


@dataclass(frozen=True)
class PortalRow:
    """One document of an actor's portal: its figures and derived state, its event's title, whether
    it has a PDF (read without loading it)."""

    invoice: Invoice
    figures: Figures
    state: str
    event_title: str | None
    has_pdf: bool


@dataclass(frozen=True)
class ActorInvoices:
    """What an actor's portal lists, newest first: the documents in its organisation's name, and those
    the coordination addressed to it (commission invoices in joint mode and their credit notes)."""

    own: list[PortalRow]
    received: list[PortalRow]


def actor_invoices(user, today: date) -> ActorInvoices:
    """The documents ``user``'s portal reads (the rule is :func:`invoicing.permissions.portal_invoices_clause`),
    each with its figures and state (``invoicing.services.invoices.settled_figures`` and ``state``: a
    self-billed invoice is settled by its payout) — the same number of queries whatever their number."""
    from invoicing.permissions import portal_invoices_clause

    rows = db.session.execute(
        sa.select(Invoice, Event.title, Invoice.has_pdf)
        .outerjoin(Event, Event.id == Invoice.event_id)
        .where(portal_invoices_clause(user))
        .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
    ).all()
    numbers = settled_figures([row[0] for row in rows])
    own, received = [], []
    for invoice, title, has_pdf in rows:
        figures = numbers[invoice.id]
        current = state(invoice, today, figures)
        row = PortalRow(invoice, figures, current, title, bool(has_pdf))
        (own if invoice.issuer_organisation_id == user.organisation_id else received).append(row)
    return ActorInvoices(own, received)


# --- issuing -------------------------------------------------------------------------------------


def actor_issuer(
    organisation: Organisation,
    mandate: BillingMandate,
    context: pricing.PricingContext,
    *,
    self_billing: bool = False,
) -> Issuer:
    """A member as the issuer of its invoice: its card frozen, its regime's mention, its series (the
    mandate's prefix, credit notes in the same series), and the mandate's mention."""
    identity = context.identity
    regime_mention = pricing.regime_mention(organisation.vat_regime, context.mentions)
    days = identity.payment_days or 30
    terms = f"Paiement à {days} jours par virement à {organisation.name}"
    if organisation.iban:
        terms += f" (IBAN {organisation.iban}{', BIC ' + organisation.bic if organisation.bic else ''})"
    seller = {
        **snapshots.party(organisation),
        "vat_mention": regime_mention,
        "payment_terms": terms + ".",
        "iban": organisation.iban,
        "legal_mentions": "",
    }
    if self_billing:
        mention = (
            f"Autofacturation : facture établie par {identity.name}, client, au nom et pour le compte de "
            f"{organisation.name} (mandat de facturation du {mandate.valid_from:%d/%m/%Y})."
        )
    else:
        mention = (
            f"Facture émise par {identity.name}, mandataire du groupement, au nom et pour le compte de "
            f"{organisation.name} (mandat de facturation du {mandate.valid_from:%d/%m/%Y})."
        )
    return Issuer(
        key=organisation_issuer(organisation.id),
        organisation_id=organisation.id,
        seller=seller,
        regime_mention=regime_mention,
        invoice_prefix=mandate.prefix,
        credit_note_prefix=mandate.prefix,
        payment_days=days,
        extra_mentions=({"code": "REG", "text": mention},),
    )


def _invoice_lines(lines) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            lot_title=ql.lot_title,
            organisation_id=ql.organisation_id,
            description=ql.description,
            quantity=ql.quantity,
            unit=ql.unit,
            unit_price=ql.unit_price,
            vat_rate=ql.vat_rate,
            net=ql.net,
            vat_mention=ql.vat_mention,
        )
        for ql in lines
    ]


@dataclass
class JointOutcome:
    issued: list[Invoice] = field(default_factory=list)
    #: Members without a valid mandate: they invoice by themselves (names).
    awaiting: list[str] = field(default_factory=list)


def _references(quote: Quote, role: str, organisation_id: int | None, **extra) -> dict:
    return {
        "quote": {"number": quote.number, "version": quote.version},
        "joint": {"role": role, "organisation_id": organisation_id, **extra},
    }


def issue_joint(
    quote: Quote, user: User, *, today: date | None = None, operation_category: str = "services"
) -> JointOutcome:
    """Issue what can be issued of a joint event: each member's invoice under its valid mandate, the
    coordinator's fee invoice, the coordinator's commission invoices to the members. Members without a
    valid mandate are listed in ``awaiting``: nothing is issued in their name.

    Raises :class:`Forbidden`, :class:`InvoiceRefused` (quote not accepted, not joint, everything
    already invoiced, a public client lacking its Chorus Pro references) and :class:`InvalidValue`.
    """
    _require_issuer(user)
    _require_joint(quote)
    if operation_category not in legal.OPERATION_CATEGORIES:
        raise InvalidValue(_("Choisissez la catégorie de l'opération."), "operation_category")
    today = today or utcnow().date()
    context = _context()
    outcome = JointOutcome()
    for share in shares(quote, today):
        if share.invoice is not None:
            continue
        if share.organisation_id is None:
            issuer = coordinator_issuer(context)
            role = FEE
        elif share.mandate is None:
            outcome.awaiting.append(share.name)
            continue
        else:
            organisation = db.session.get(Organisation, share.organisation_id)
            issuer = actor_issuer(organisation, share.mandate, context)
            role = MEMBER
        extra = {"mandate_id": share.mandate.id} if share.mandate is not None else {}
        invoice = _issue(
            kind=InvoiceKind.INVOICE,
            quote=quote,
            user=user,
            lines=_invoice_lines(share.lines),
            issue_date=today,
            references=_references(quote, role, share.organisation_id, **extra),
            operation_category=operation_category,
            context=context,
            issuer=issuer,
        )
        _audit_issued(invoice, user, share.name)
        outcome.issued.append(invoice)
    outcome.issued.extend(_issue_commissions(quote, user, today, context))
    if not outcome.issued and not outcome.awaiting:
        raise InvoiceRefused(_("Toutes les parts de ce devis sont déjà facturées."))
    return outcome


def _audit_issued(invoice: Invoice, user, name: str) -> None:
    record(
        "invoice.issued",
        invoice,
        user=user,
        event_id=invoice.event_id,
        summary=N_(
            "Facture %(number)s émise au nom de %(seller)s : %(gross)s TTC",
            number=invoice.number,
            seller=name,
            gross=as_money(invoice.total_gross),
        ),
        changes={"total_gross": (None, invoice.total_gross)},
    )


def _issue_commissions(quote: Quote, user, today: date, context) -> list[Invoice]:
    """The coordinator's invoice to each member for the commission kept from its share."""
    split = split_for_quote(quote)
    if split.total_commission == 0:
        return []
    done = {
        _role(i)[1]
        for i in event_invoices(quote.event_id)
        if i.kind == InvoiceKind.INVOICE and _role(i)[0] == COMMISSION
    }
    seller = pricing.coordinator_seller(context.identity)
    rate = pricing.fee_vat_rate(seller)
    mention = pricing.mention(seller, rate, None, context.mentions) if rate == 0 else None
    issued = []
    for actor in split.actors:
        if actor.commission == 0 or actor.organisation_id in done:
            continue
        organisation = db.session.get(Organisation, actor.organisation_id)
        buyer = {**snapshots.party(organisation), "is_public_body": False}
        line = InvoiceLine(
            lot_title="Commission",
            description=(
                f"Commission de coordination ({_fr_rate_of(split.commission_rate)} de votre part de "
                f"{_fr_money(actor.share)} HT) — {quote.event.title}, devis {quote.number}"
            ),
            quantity=Decimal("1"),
            unit="forfait",
            unit_price=actor.commission,
            vat_rate=rate.quantize(pricing.RATE_QUANTUM),
            net=actor.commission,
            vat_mention=mention,
        )
        invoice = _issue(
            kind=InvoiceKind.INVOICE,
            quote=quote,
            user=user,
            lines=[line],
            issue_date=today,
            references=_references(quote, COMMISSION, actor.organisation_id),
            context=context,
            buyer=buyer,
            purchase_order=None,
        )
        _audit_issued(invoice, user, context.identity.name)
        issued.append(invoice)
    return issued


def _fr_rate_of(rate: Decimal) -> str:
    from invoicing.services.invoices import _fr_rate

    return _fr_rate(rate)


# --- a member's own invoice, recorded --------------------------------------------------------------


def record_actor_invoice(
    quote: Quote,
    organisation: Organisation,
    user: User,
    *,
    number: str,
    issue_date: date | None,
    total_net: Decimal | None,
    total_vat: Decimal | None,
    total_gross: Decimal | None,
    pdf: bytes | None,
) -> Invoice:
    """Record the invoice a member without a mandate issued by itself: its number, date, amounts (which
    must be its share of the accepted quote, to the cent) and PDF. Nothing is numbered by Maillage.

    Raises :class:`Forbidden`, :class:`InvoiceRefused` (not joint, already invoiced, a member with a
    valid mandate) and :class:`InvalidValue` (number, date, amounts, PDF).
    """
    _require_issuer(user)
    _require_joint(quote)
    number = (number or "").strip()
    if not number or len(number) > 35:
        raise InvalidValue(
            _("Indiquez le numéro de la facture de l'acteur (35 caractères au plus)."), "number"
        )
    if issue_date is None:
        raise InvalidValue(_("Indiquez la date de la facture."), "issue_date")
    pdf = mandates.check_document(pdf, "pdf")
    share = next((s for s in shares(quote, issue_date) if s.organisation_id == organisation.id), None)
    if share is None:
        raise InvoiceRefused(
            _("%(name)s n'a pas de part dans le devis accepté de cet événement.", name=organisation.name)
        )
    if share.invoice is not None:
        raise InvoiceRefused(
            _(
                "La part de %(name)s est déjà facturée (%(number)s).",
                name=organisation.name,
                number=share.invoice.number,
            )
        )
    expected = (share.totals.net, share.totals.vat, share.totals.gross)
    if (total_net, total_vat, total_gross) != expected:
        raise InvalidValue(
            _(
                "La facture de %(name)s doit reprendre sa part du devis accepté : %(net)s HT, %(vat)s de TVA, "
                "%(gross)s TTC.",
                name=organisation.name,
                net=format_money(expected[0]),
                vat=format_money(expected[1]),
                gross=format_money(expected[2]),
            ),
            "total_gross",
        )
    issuer = organisation_issuer(organisation.id)
    duplicate = db.session.scalar(
        sa.select(Invoice.id).where(Invoice.issuer == issuer, Invoice.number == number).limit(1)
    )
    if duplicate is not None:
        raise InvalidValue(
            _("%(name)s a déjà une facture n° %(number)s.", name=organisation.name, number=number), "number"
        )
    event: Event = quote.event
    context = _context()
    regime_mention = pricing.regime_mention(organisation.vat_regime, context.mentions)
    lines = _invoice_lines(share.lines)
    for position, line in enumerate(lines):
        line.position = position
    invoice = Invoice(
        issuer=issuer,
        issuer_organisation_id=organisation.id,
        origin=InvoiceOrigin.RECORDED.value,
        kind=InvoiceKind.INVOICE,
        status=InvoiceStatus.ISSUED,
        number=number,
        event_id=event.id,
        quote_id=quote.id,
        client_id=event.client_id,
        issue_date=issue_date,
        due_date=None,
        service_date=event.ends_at.date(),
        purchase_order_number=quote.client_purchase_order or event.purchase_order_number,
        seller={**snapshots.party(organisation), "vat_mention": regime_mention},
        buyer=snapshots.client(event.client),
        mentions=[],
        total_net=share.totals.net,
        total_vat=share.totals.vat,
        total_gross=share.totals.gross,
        vat_groups=[
            {"rate": str(g.rate), "net": str(g.net), "vat": str(g.vat), "mention": None}
            for g in share.totals.groups
        ],
        references=_references(quote, MEMBER, organisation.id, recorded=True),
        pdf=pdf,
        pdf_sha256=sha256(pdf),
        created_by_id=user.id,
        issued_at=utcnow(),
        lines=lines,
    )
    db.session.add(invoice)
    db.session.flush()
    record(
        "invoice.recorded",
        invoice,
        user=user,
        event_id=event.id,
        summary=N_(
            "Facture %(number)s de %(seller)s enregistrée : %(gross)s TTC",
            number=number,
            seller=organisation.name,
            gross=as_money(invoice.total_gross),
        ),
        changes={"total_gross": (None, invoice.total_gross)},
    )
    return invoice
