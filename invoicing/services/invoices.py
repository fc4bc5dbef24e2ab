"""Invoices from an accepted quote (single-contractor mode): deposits, the final invoice (or one
invoice for everything), credit notes; and what each invoice still awaits.

- An invoice is built from the **accepted quote's frozen lines**, never from the live ones: the client
  pays what it accepted. VAT and totals come from :mod:`offers.pricing` (the coordinator sells
  everything in this mode), so the invoices add up to the quote exactly.
- A **deposit** is a percentage or an amount excl. VAT of the quote; its net is spread over the
  quote's VAT rates by largest remainder (``app.money.allocate``), one line per rate.
- The **final invoice** carries every line of the quote and deducts the deposits already invoiced
  (their gross, with their numbers and dates): ``prepaid``. Without deposits it is the one invoice for
  everything.
- A **credit note** (avoir) cancels all or part of what remains of an invoice, rate by rate, and
  references the invoice's number and date. "Cancelled" and "partly credited" are derived from credit
  notes, never stored.
- **Numbers** are allocated in the transaction that inserts the issued invoice (``app.numbering``):
  ``FAC-2026-0001``; credit notes in their own series (``AV-…``) unless the setting
  ``invoicing.credit_notes_own_series`` is false.
- An issued invoice is **frozen**: parties, lines, totals per rate, mentions, PDF and SHA-256 are written
  once, in one INSERT; the database refuses any UPDATE or DELETE of it (migration 0006).

Explicit arguments, ``flush()`` never commit, French :class:`app.errors.DomainError` messages; every
refusal that targets an issued document is recorded in the audit.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import aliased

from app import snapshots
from app.audit import N_, as_money, record
from app.db import utcnow
from app.errors import DomainError, Forbidden, InvalidValue
from app.extensions import db
from app.formatting import money as format_money
from app.formatting import rate as format_rate
from app.models import User
from app.money import ZERO, allocate, round_money
from app.numbering import next_number
from app.settings_store import get_setting
from app.stored_pdf import store_after_commit, stored_pdf
from invoicing import mentions as legal
from invoicing.models import (
    ClientInvoicing,
    EInvoiceFormat,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceOrigin,
    InvoiceStatus,
    Payment,
)
from invoicing.permissions import can_issue_invoice
from offers import pricing
from offers.models import BillingMode, Quote, QuoteStatus

ISSUER = "coordinator"
HUNDRED = Decimal("100")
MAX_REASON = 500


class InvoiceRefused(DomainError):
    """An invoicing action the rules refuse (409: the documents are as they are)."""

    status_code = 409


@dataclass(frozen=True)
class Figures:
    """What an invoice amounts to and awaits, derived from its credit notes and payments."""

    gross: Decimal
    prepaid: Decimal
    credited_net: Decimal
    credited_gross: Decimal
    paid: Decimal

    @property
    def credited_effect(self) -> Decimal:
        """What the credit notes take off the client's debt. A credit note cancels the whole
        document, deposits deducted included; the part over what was due only frees those deposits
        (the next final invoice deducts them again), so it owes the client nothing."""
        return min(self.credited_gross, self.gross - self.prepaid)

    @property
    def due(self) -> Decimal:
        """What the client owes on this document: its gross less deposits and credit notes."""
        return self.gross - self.prepaid - self.credited_effect

    @property
    def balance(self) -> Decimal:
        return self.due - self.paid


# --- guards --------------------------------------------------------------------------------------


def _require_issuer(user: User | None) -> None:
    if not can_issue_invoice(user):
        raise Forbidden(_("Seule la trésorerie émet les factures et les avoirs."))


def _require_invoiceable(quote: Quote) -> None:
    if quote.status != QuoteStatus.ACCEPTED:
        raise InvoiceRefused(
            _(
                "Le devis %(number)s v%(version)s n'est pas accepté : on ne facture qu'un devis accepté.",
                number=quote.number,
                version=quote.version,
            )
        )
    mode = quote.snapshot.get("event", {}).get("billing_mode")
    if mode == BillingMode.JOINT_CONSORTIUM.value:
        raise InvoiceRefused(
            _(
                "En groupement conjoint, chaque membre facture sa part sous son propre numéro : "
                "émettez les factures du groupement (une par membre) depuis la page Facturation de l'événement."
            )
        )


def _refuse_on_document(invoice: Invoice, user, message: str, exc_type=InvoiceRefused):
    """Refuse, and keep a trace in the audit: the attempt targeted an issued document."""
    record(
        "invoice.refused",
        invoice,
        user=user,
        event_id=invoice.event_id,
        summary=N_("Refusé sur %(number)s : %(why)s", number=invoice.number, why=message),
    )
    return exc_type(message)


# --- reading what exists ---------------------------------------------------------------------------


def quote_invoices(quote: Quote) -> list[Invoice]:
    """The invoices and credit notes issued for ``quote``'s event, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Invoice)
            .where(Invoice.event_id == quote.event_id, Invoice.status == InvoiceStatus.ISSUED)
            .order_by(Invoice.issued_at, Invoice.id)
        )
    )


def credit_notes_of(invoice: Invoice) -> list[Invoice]:
    return list(
        db.session.scalars(
            sa.select(Invoice)
            .where(Invoice.credit_of_id == invoice.id, Invoice.status == InvoiceStatus.ISSUED)
            .order_by(Invoice.id)
        )
    )


#: The role, in an invoice's ``references["joint"]``, of the coordinator's commission invoice to a member.
JOINT_COMMISSION = "commission"


def asks_the_client(invoice: Invoice) -> bool:
    """Whether a document asks the event's client for money: deposits, finals and a joint member's or
    fee invoice do; credit notes (they take off), the coordinator's commission invoices to the members
    and an actor's self-billed invoice to the coordinator do not. The money page, the workbook and the
    dashboards add up the same documents through this rule."""
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        return False
    if invoice.origin == InvoiceOrigin.SELF_BILLED.value:
        return False
    return ((invoice.references or {}).get("joint") or {}).get("role") != JOINT_COMMISSION


def figures_of(invoices) -> dict[int, Figures]:
    """Gross, deposits deducted, credited and paid amounts of each invoice, by id — one query
    whatever the number of invoices (lists and money pages ask for many at once): the issued credit
    notes of these invoices summed per invoice, then their payments, in one ``UNION ALL``."""
    invoices = list(invoices)
    ids = [invoice.id for invoice in invoices]
    if not ids:
        return {}
    credited: dict[int, tuple[Decimal, Decimal]] = {}
    paid: dict[int, Decimal] = {}
    # ``sum`` keeps the column's type (the union takes the first select's), so the amounts come back
    # as Decimal euros on SQLite (stored in cents) and PostgreSQL alike.
    for row in db.session.execute(_sums_by_invoice(), {"ids": ids}):
        if row.kind == "credit":
            credited[row.invoice_id] = (row.net, row.gross)
        else:
            paid[row.invoice_id] = row.net
    result = {}
    for invoice in invoices:
        credited_net, credited_gross = credited.get(invoice.id, (ZERO, ZERO))
        result[invoice.id] = Figures(
            gross=invoice.total_gross,
            prepaid=invoice.prepaid,
            credited_net=credited_net,
            credited_gross=credited_gross,
            paid=paid.get(invoice.id, ZERO),
        )
    return result


@cache
def _sums_by_invoice():
    """The statement of :func:`figures_of` (built once, the ids a bound list ``ids``): rows of
    ``(kind, invoice_id, net, gross)``, ``credit`` with the issued credit notes' net and gross
    summed per credited invoice, ``paid`` with the payments summed per invoice in ``net``. Each
    part reads its table by the index on the invoice's id (as correlated subqueries, SQLite's
    planner scanned every invoice for the credit notes)."""
    ids = sa.bindparam("ids", expanding=True)
    return sa.union_all(
        sa.select(
            sa.literal("credit").label("kind"),
            Invoice.credit_of_id.label("invoice_id"),
            sa.func.sum(Invoice.total_net).label("net"),
            sa.func.sum(Invoice.total_gross).label("gross"),
        )
        .where(Invoice.credit_of_id.in_(ids), Invoice.status == InvoiceStatus.ISSUED)
        .group_by(Invoice.credit_of_id),
        sa.select(
            sa.literal("paid").label("kind"),
            Payment.invoice_id,
            sa.func.sum(Payment.amount),
            sa.null(),
        )
        .where(Payment.invoice_id.in_(ids))
        .group_by(Payment.invoice_id),
    )


def figures(invoice: Invoice) -> Figures:
    """:func:`figures_of` for one invoice."""
    return figures_of([invoice])[invoice.id]


def settled_figures(invoices) -> dict[int, Figures]:
    """:func:`figures_of` as the lists and pages show them: a self-billed invoice is the actor's to
    the coordinator, who settles it by paying the actor out, so its paid amount is what was paid out
    to its issuer on its event (one more query, only when there is such an invoice). Not for money
    counts: no client paid that (see :func:`asks_the_client`)."""
    from invoicing.models import Payout, PayoutStatus

    invoices = list(invoices)
    result = figures_of(invoices)
    self_billed = [i for i in invoices if i.origin == InvoiceOrigin.SELF_BILLED.value]
    if not self_billed:
        return result
    paid_out = {
        (row.event_id, row.organisation_id): row.amount
        for row in db.session.execute(
            sa.select(Payout.event_id, Payout.organisation_id, sa.func.sum(Payout.amount).label("amount"))
            .where(
                Payout.event_id.in_({i.event_id for i in self_billed}),
                Payout.organisation_id.in_({i.issuer_organisation_id for i in self_billed}),
                Payout.status == PayoutStatus.PAID,
            )
            .group_by(Payout.event_id, Payout.organisation_id)
        )
    }
    for invoice in self_billed:
        numbers = result[invoice.id]
        result[invoice.id] = Figures(
            numbers.gross,
            numbers.prepaid,
            numbers.credited_net,
            numbers.credited_gross,
            paid_out.get((invoice.event_id, invoice.issuer_organisation_id), ZERO),
        )
    return result


def state(invoice: Invoice, today: date, numbers: Figures | None = None) -> str:
    """``cancelled``, ``paid``, ``partly_paid``, ``overdue`` or ``open`` (never stored); a credit note
    is ``credit_note``. A self-billed invoice is never ``overdue``; give it its :func:`settled_figures`."""
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        return "credit_note"
    numbers = numbers or settled_figures([invoice])[invoice.id]
    if numbers.credited_net >= invoice.total_net and invoice.total_net > 0:
        return "cancelled"
    if numbers.balance <= 0:
        return "paid"
    if numbers.paid > 0:
        return "partly_paid"
    if invoice.origin == InvoiceOrigin.SELF_BILLED.value:
        # Paid out as the client pays (the release rule), never late like a client's invoice.
        return "open"
    if invoice.due_date is not None and invoice.due_date < today:
        return "overdue"
    return "open"


@functools.cache
def _credit_alias(name: str):
    """``invoices`` seen as the credit notes of another, one alias per use, built once: an alias
    copies every column of the table, which cost more than the list's queries when built on each
    call."""
    return aliased(Invoice, name=name)


def may_be_in_state(wanted: str, today: date):
    """A SQL condition that every document :func:`state` puts in ``wanted`` meets (necessary, not
    sufficient): a list filtered on a state selects with it, then applies :func:`state` to what it
    read — so it reads the few late or open invoices, not every invoice ever issued. Each branch
    follows from :func:`state` and :class:`Figures` (payments are positive; a self-billed invoice's
    paid amount is its payouts, read apart):

    - ``cancelled`` needs a credit note on the invoice (credited net > 0);
    - ``paid`` (balance ≤ 0) needs a payment, a credit note, nothing asked (deposits deducted) or a
      self-billed origin;
    - ``partly_paid`` (paid > 0) needs a payment or a self-billed origin;
    - ``overdue`` means nothing paid (else partly paid), not self-billed, due before ``today``;
    - ``open`` means self-billed, or nothing paid and not yet due.
    """
    if wanted == "credit_note":
        return Invoice.kind == InvoiceKind.CREDIT_NOTE
    credit = _credit_alias("credit")
    credited = (
        sa.select(credit.id)
        .where(credit.credit_of_id == Invoice.id, credit.status == InvoiceStatus.ISSUED)
        .exists()
    )
    payment = sa.select(Payment.id).where(Payment.invoice_id == Invoice.id).exists()
    self_billed = Invoice.origin == InvoiceOrigin.SELF_BILLED.value
    not_due = sa.or_(Invoice.due_date.is_(None), Invoice.due_date >= today)
    conditions = {
        "cancelled": credited,
        "paid": sa.or_(payment, credited, Invoice.total_gross <= Invoice.prepaid, self_billed),
        "partly_paid": sa.or_(payment, self_billed),
        "overdue": sa.and_(~self_billed, ~payment, Invoice.due_date < today),
        "open": sa.or_(self_billed, sa.and_(~payment, not_due)),
    }
    return sa.and_(Invoice.kind != InvoiceKind.CREDIT_NOTE, conditions[wanted])


#: What :func:`state` and :func:`settled_figures` read of a document: a list filtered on a state
#: reads these columns of the documents that may be in it, and whole invoices for its page only.
STATE_COLUMNS = (
    Invoice.id,
    Invoice.kind,
    Invoice.origin,
    Invoice.total_net,
    Invoice.total_gross,
    Invoice.prepaid,
    Invoice.due_date,
    Invoice.event_id,
    Invoice.issuer_organisation_id,
)


#: The states :func:`exactly_in_state` says in SQL: the list counts and pages them in the database.
EXACT_IN_SQL = frozenset({"overdue"})


def exactly_in_state(wanted: str, today: date):
    """``(condition, credited)``: a SQL condition that holds exactly for the documents :func:`state`
    puts in ``wanted`` (one of :data:`EXACT_IN_SQL`), over the query outer-joined to ``credited``
    (each invoice's issued credit notes summed, as :func:`figures_of` sums them).

    ``overdue``: besides :func:`may_be_in_state`'s condition (nothing paid, not self-billed, due
    before ``today``), not cancelled (credited net below the net, or a net of 0 or less) and a
    balance left: with nothing paid, the balance is ``gross − prepaid − min(credited gross, gross −
    prepaid)``, above 0 exactly when ``prepaid + credited gross < gross`` (credit notes are
    positive). Sums and comparisons of amounts only: exact on SQLite's scaled integers too."""
    if wanted not in EXACT_IN_SQL:
        raise ValueError(wanted)
    credit = _credit_alias("credit_note")
    credited = (
        sa.select(
            credit.credit_of_id.label("invoice_id"),
            sa.func.sum(credit.total_net).label("net"),
            sa.func.sum(credit.total_gross).label("gross"),
        )
        .where(credit.credit_of_id.is_not(None), credit.status == InvoiceStatus.ISSUED)
        .group_by(credit.credit_of_id)
        .subquery("credited")
    )
    credited_net = sa.func.coalesce(credited.c.net, 0)
    credited_gross = sa.func.coalesce(credited.c.gross, 0)
    condition = sa.and_(
        may_be_in_state(wanted, today),
        sa.or_(credited_net < Invoice.total_net, Invoice.total_net <= 0),
        Invoice.prepaid + credited_gross < Invoice.total_gross,
    )
    return condition, credited


@cache
def _exactly_in_state_bound(wanted: str):
    """:func:`exactly_in_state` with the day as the bound parameter ``today``, built once per state
    (building the condition and its subqueries was a tenth of the filtered list's time)."""
    return exactly_in_state(wanted, sa.bindparam("today", type_=sa.Date()))


def state_page(
    query, wanted: str, today: date, page: int, per_page: int, options=(), keep_as=None
) -> tuple[int, list[tuple[Invoice, Figures]]]:
    """``(how many documents of query are in wanted, the page's documents with their figures)``,
    the documents loaded with the loader ``options``. For a state of :data:`EXACT_IN_SQL`, counted
    and paged in SQL (what it reads does not grow with the documents in the state), the page's
    documents read by the statement that selects them; else :func:`in_state`, paged in Python,
    then the page's documents read.

    ``keep_as``: a hashable value that names ``query`` completely (the list's filters it was built
    from). Which documents are on the page, and how many in all, are then kept until the data
    changes (``app.figures``, as the dashboards' figures): finding them reads every issued document
    against its payments and credit notes (2.4 ms on PostgreSQL at the bench's scale 1, and growing
    with the years), while a later view reads its page's documents by id, and their figures, anew."""
    if keep_as is None:
        return _state_page(query, wanted, today, page, per_page, options)
    from app.figures import cached

    computed = []

    def compute(*_key) -> tuple[int, tuple[int, ...]]:
        total, rows = _state_page(query, wanted, today, page, per_page, options)
        computed.append(rows)
        return total, tuple(invoice.id for invoice, _numbers in rows)

    total, ids = cached("invoices.state_page", compute, keep_as, wanted, today, page, per_page)
    if computed:
        return total, computed[0]
    documents = _by_id(ids, options)
    numbers = settled_figures([documents[i] for i in ids if i in documents])
    return total, [(documents[i], numbers[i]) for i in ids if i in documents]


def _by_id(ids, options) -> dict[int, Invoice]:
    """The documents ``ids``, loaded with the loader ``options``, by id."""
    return {
        invoice.id: invoice
        for invoice in db.session.scalars(sa.select(Invoice).where(Invoice.id.in_(ids)).options(*options))
    }


def _state_page(query, wanted: str, today: date, page: int, per_page: int, options):
    if wanted not in EXACT_IN_SQL:
        found = in_state(query, wanted, today)
        on_page = found[(page - 1) * per_page : page * per_page]
        loaded = _by_id([i for i, _f in on_page], options)
        return len(found), [(loaded[i], f) for i, f in on_page]
    condition, credited = _exactly_in_state_bound(wanted)
    on_today = {"today": today}
    selected = query.outerjoin(credited, credited.c.invoice_id == Invoice.id).where(condition)
    paged = selected.options(*options).limit(per_page).offset((page - 1) * per_page)
    total = None
    if db.session.get_bind().dialect.name == "postgresql":
        # The total comes with the page's rows: PostgreSQL evaluates the filter (every issued
        # document against its payments and credit notes) once instead of twice (2.5 → 1.3 ms at
        # scale 1). SQLite builds the whole window first and takes longer than two statements.
        rows = db.session.execute(paged.add_columns(sa.func.count().over().label("in_state")), on_today).all()
        documents = [row[0] for row in rows]
        if rows or page == 1:
            total = rows[0].in_state if rows else 0
    else:
        documents = list(db.session.scalars(paged, on_today))
    if total is None:  # SQLite, or a page past the last one (no row to carry the count)
        count = sa.select(sa.func.count()).select_from(selected.order_by(None).subquery())
        total = db.session.scalar(count, on_today)
    numbers = settled_figures(documents)
    return total, [(invoice, numbers[invoice.id]) for invoice in documents]


def in_state(query, wanted: str, today: date) -> list[tuple[int, Figures]]:
    """The ids of the documents of ``query`` (a select of issued invoices, in the list's order, no
    loader options) whose :func:`state` on ``today`` is ``wanted``, each with its
    :func:`settled_figures`."""
    documents = db.session.execute(
        query.where(may_be_in_state(wanted, today)).with_only_columns(*STATE_COLUMNS)
    ).all()
    numbers = settled_figures(documents)
    return [(row.id, numbers[row.id]) for row in documents if state(row, today, numbers[row.id]) == wanted]


def _sync(invoice: Invoice, user) -> None:
    """What the client owes changed: the actors' payouts follow (``invoicing.services.payouts``)."""
    from invoicing.services.payouts import sync_payouts

    sync_payouts(db.session.get(Quote, invoice.quote_id).event, user)


# --- building ------------------------------------------------------------------------------------

# The documents are French legal documents: what they print is written in French whatever the
# language of the person issuing them.


def _fr_rate(rate: Decimal) -> str:
    with force_locale("fr"):
        return format_rate(rate)


def _fr_money(amount: Decimal) -> str:
    with force_locale("fr"):
        return format_money(amount)


def _context() -> pricing.PricingContext:
    return pricing.PricingContext(snapshots.require_coordinator_identity())


@dataclass(frozen=True)
class Issuer:
    """Who a document is issued by: its series key and prefixes, its frozen identity, the mentions it
    adds. The coordinator by default (:func:`coordinator_issuer`); an actor under its billing mandate
    in joint mode (``invoicing.services.joint``)."""

    key: str
    organisation_id: int | None
    seller: dict
    regime_mention: str | None
    invoice_prefix: str
    credit_note_prefix: str
    payment_days: int
    #: Mentions printed after the legal ones (the mandate, self-billing), ``{"code", "text"}``.
    extra_mentions: tuple[dict, ...] = ()


def coordinator_issuer(context: pricing.PricingContext) -> Issuer:
    identity = context.identity
    regime_mention = pricing.regime_mention(identity.vat_regime, context.mentions)
    own_series = bool(get_setting("invoicing.credit_notes_own_series", True))
    return Issuer(
        key=ISSUER,
        organisation_id=None,
        seller=snapshots.coordinator(identity, regime_mention),
        regime_mention=regime_mention,
        invoice_prefix=identity.invoice_prefix,
        credit_note_prefix=identity.credit_note_prefix if own_series else identity.invoice_prefix,
        payment_days=identity.payment_days or 30,
    )


def missing_public_references(buyer: dict, engagement: str | None = None) -> list[str]:
    """What a public buyer's invoice lacks for Chorus Pro (art. D2192-2 CCP): its SIRET, its service
    code, the engagement number (the client's, or the order number given for the event). Empty for
    a private buyer."""
    if not buyer.get("is_public_body"):
        return []
    missing = []
    if not buyer.get("siret"):
        missing.append(_("le SIRET du client"))
    if not buyer.get("chorus_service_code"):
        missing.append(_("le code service Chorus Pro"))
    if not (buyer.get("engagement_number") or engagement):
        missing.append(_("le numéro d'engagement"))
    return missing


def _require_public_references(buyer: dict, engagement: str | None) -> None:
    missing = missing_public_references(buyer, engagement)
    if missing:
        raise InvoiceRefused(
            _(
                "%(client)s est un acheteur public (Chorus Pro) : il manque %(missing)s. Complétez la "
                "fiche du client (ou le bon de commande de l'événement) avant de facturer.",
                client=buyer.get("name") or "",
                missing=", ".join(missing),
            )
        )


def _totals(lines: list[InvoiceLine]):
    return pricing.totals(
        (pricing.Priced(line.net, line.vat_rate, None) for line in lines), BillingMode.SINGLE_CONTRACTOR
    )


def _groups(lines: list[InvoiceLine], totals) -> list[dict]:
    mentions = {}
    for line in lines:
        if line.vat_mention and line.vat_rate not in mentions:
            mentions[Decimal(line.vat_rate).normalize()] = line.vat_mention
    return [
        {
            "rate": str(group.rate),
            "net": str(group.net),
            "vat": str(group.vat),
            "mention": mentions.get(group.rate.normalize()),
        }
        for group in totals.groups
    ]


def _issue(
    *,
    kind: InvoiceKind,
    quote: Quote,
    user: User,
    lines: list[InvoiceLine],
    issue_date: date,
    prepaid: Decimal = ZERO,
    references: dict,
    credit_of: Invoice | None = None,
    operation_category: str = "services",
    context: pricing.PricingContext,
    issuer: Issuer | None = None,
    buyer: dict | None = None,
    origin: InvoiceOrigin = InvoiceOrigin.MAILLAGE,
    purchase_order: str | bool | None = True,
) -> Invoice:
    """Number, freeze and insert an issued document in one INSERT (then its lines), its Factur-X XML
    built and validated: by the coordinator to the client unless ``issuer`` (an actor under mandate)
    or ``buyer`` say otherwise. Its PDF is rendered after the commit (:func:`store_issued_pdfs`, or
    at its first read, :func:`invoice_pdf`)."""
    from invoicing.documents import event_details, invoice_xml

    issuer = issuer or coordinator_issuer(context)
    event = quote.event
    if buyer is None:
        chosen = db.session.get(ClientInvoicing, event.client_id)
        buyer = {
            **snapshots.client(event.client),
            "einvoice_format": (chosen.einvoice_format if chosen else EInvoiceFormat.FACTURX).value,
        }
    # ``True``: the client's order for the quote or the event; a document to someone else says its own.
    order = (
        quote.client_purchase_order or event.purchase_order_number
        if purchase_order is True
        else purchase_order
    )
    _require_public_references(buyer, order)
    totals = _totals(lines)
    if prepaid > totals.gross:
        raise InvoiceRefused(_("Les acomptes dépassent le total de la facture."))
    credit = kind == InvoiceKind.CREDIT_NOTE
    prefix = issuer.credit_note_prefix if credit else issuer.invoice_prefix
    number = next_number(issuer.key, prefix, issue_date.year)
    mentions = legal.invoice_mentions(
        public_buyer=bool(buyer.get("is_public_body")), regime_mention=issuer.regime_mention
    )
    invoice = Invoice(
        issuer=issuer.key,
        issuer_organisation_id=issuer.organisation_id,
        origin=origin.value,
        kind=kind,
        status=InvoiceStatus.ISSUED,
        number=number,
        credit_of_id=credit_of.id if credit_of is not None else None,
        event_id=event.id,
        quote_id=quote.id,
        client_id=event.client_id,
        issue_date=issue_date,
        due_date=None if credit else issue_date + timedelta(days=issuer.payment_days),
        service_date=event.ends_at.date(),
        purchase_order_number=order,
        seller=issuer.seller,
        buyer=buyer,
        mentions=mentions + list(issuer.extra_mentions),
        total_net=totals.net,
        total_vat=totals.vat,
        total_gross=totals.gross,
        prepaid=prepaid,
        vat_groups=_groups(lines, totals),
        references={**references, "event": event_details(event)},
        operation_category=operation_category,
        created_by_id=user.id,
        issued_at=utcnow(),
    )
    for position, line in enumerate(lines):
        line.position = position
    invoice.xml = invoice_xml(invoice, lines, event)
    invoice.lines = lines
    db.session.add(invoice)
    db.session.flush()
    return invoice


def invoice_pdf(invoice: Invoice) -> bytes | None:
    """The document's PDF as issued: its stored bytes; for a document Maillage issued whose PDF is
    not stored yet, rendered now from the frozen row and stored (:func:`app.stored_pdf.stored_pdf`:
    503 when no render slot frees in time). None for an actor's own invoice recorded without its
    PDF. Every reader of an invoice's PDF goes through here."""
    if not invoice.issued_here:
        return invoice.pdf
    from invoicing.documents import render_invoice_pdf

    return stored_pdf(
        invoice,
        render_invoice_pdf,
        _("Le PDF de cette facture est en cours de préparation : réessayez dans quelques instants."),
    )


def store_issued_pdfs(invoices: list[Invoice]) -> int:
    """Right after the issuing commit (the session outside a transaction): render and store the new
    documents' PDFs, holding no write lock, here or in a detached child
    (:func:`app.stored_pdf.store_after_commit`). Those left (every render slot busy, a failed
    render: logged) are rendered at their first read. Returns how many this process stored."""
    from invoicing.documents import render_invoice_pdf

    ids = [sa.inspect(invoice).identity[0] for invoice in invoices]  # without reading them again
    return store_after_commit(Invoice, ids, render_invoice_pdf)


def _quote_groups(quote: Quote) -> tuple[list, dict]:
    """The accepted quote's VAT groups (as the coordinator sells them) and each rate's mention."""
    totals = pricing.totals(
        (pricing.Priced(ql.net, ql.vat_rate, None) for ql in quote.lines), BillingMode.SINGLE_CONTRACTOR
    )
    mentions = {}
    for ql in quote.lines:
        if ql.vat_mention:
            mentions.setdefault(Decimal(ql.vat_rate).normalize(), ql.vat_mention)
    return list(totals.groups), mentions


def _parse_share(quote: Quote, percent: Decimal | None, amount: Decimal | None) -> Decimal:
    """The deposit's net: ``percent`` of the quote's net, or ``amount`` (excl. VAT)."""
    if (percent is None) == (amount is None):
        raise InvalidValue(_("Indiquez soit un pourcentage, soit un montant HT d'acompte."), "percent")
    if percent is not None:
        if not percent.is_finite() or percent <= 0:
            raise InvalidValue(_("Le pourcentage d'acompte doit être supérieur à 0."), "percent")
        if percent > HUNDRED:
            raise InvalidValue(_("Un acompte ne peut pas dépasser %(max)s du devis.", max="100 %"), "percent")
        if percent.as_tuple().exponent < -2:
            raise InvalidValue(_("Le pourcentage a au plus deux décimales."), "percent")
        return round_money(quote.total_net * percent / HUNDRED)
    if not amount.is_finite() or amount <= 0:
        raise InvalidValue(_("Le montant de l'acompte doit être supérieur à 0."), "amount")
    if amount.as_tuple().exponent < -2:
        raise InvalidValue(_("Un montant a au plus deux décimales (centimes)."), "amount")
    if amount > quote.total_net:
        raise InvalidValue(
            _("L'acompte dépasse le montant HT du devis (%(net)s).", net=format_money(quote.total_net)),
            "amount",
        )
    return amount


def _deposits(quote: Quote) -> list[Invoice]:
    return [i for i in quote_invoices(quote) if i.kind == InvoiceKind.DEPOSIT and i.quote_id == quote.id]


def _final_exists(quote: Quote) -> Invoice | None:
    # An actor's self-billed invoice (to the coordinator) is never the client's final invoice.
    finals = [
        i
        for i in quote_invoices(quote)
        if i.kind == InvoiceKind.INVOICE and i.quote_id == quote.id and i.origin != InvoiceOrigin.SELF_BILLED
    ]
    numbers = figures_of(finals)
    return next((i for i in finals if numbers[i.id].credited_net < i.total_net), None)


def issue_deposit(
    quote: Quote,
    user: User,
    *,
    percent: Decimal | None = None,
    amount: Decimal | None = None,
    today: date | None = None,
) -> Invoice:
    """A deposit invoice (type 386) of ``percent`` % or ``amount`` excl. VAT of the accepted quote.

    Raises :class:`Forbidden`, :class:`InvoiceRefused` (quote not accepted, final invoice issued,
    deposits over the quote) and :class:`InvalidValue` (percent, amount).
    """
    _require_issuer(user)
    _require_invoiceable(quote)
    if _final_exists(quote) is not None:
        raise InvoiceRefused(_("La facture finale de ce devis est émise : plus d'acompte possible."))
    net = _parse_share(quote, percent, amount)
    issued = _deposits(quote)
    by_id = figures_of(issued)
    already = sum((d.total_net - by_id[d.id].credited_net for d in issued), ZERO)
    if already + net > quote.total_net:
        raise InvalidValue(
            _(
                "Les acomptes dépasseraient le devis : %(already)s HT déjà facturés sur %(net)s HT.",
                already=format_money(already),
                net=format_money(quote.total_net),
            ),
            "percent" if percent is not None else "amount",
        )
    context = _context()
    groups, mentions = _quote_groups(quote)
    share = _fr_rate(percent / HUNDRED) if percent is not None else _fr_money(net) + " HT"
    lines = []
    for group, part in zip(groups, allocate(net, [g.net for g in groups]), strict=True):
        if part == 0:
            continue
        lines.append(
            InvoiceLine(
                lot_title="Acompte",
                description=(
                    f"Acompte de {share} sur le devis {quote.number} v{quote.version} — prestations à "
                    f"{_fr_rate(group.rate)}"
                ),
                quantity=Decimal("1"),
                unit="forfait",
                unit_price=part,
                vat_rate=Decimal(group.rate).quantize(pricing.RATE_QUANTUM),
                net=part,
                vat_mention=mentions.get(group.rate.normalize()) if group.rate == 0 else None,
            )
        )
    today = today or utcnow().date()
    invoice = _issue(
        kind=InvoiceKind.DEPOSIT,
        quote=quote,
        user=user,
        lines=lines,
        issue_date=today,
        references={"quote": {"number": quote.number, "version": quote.version}, "share": share},
        context=context,
    )
    record(
        "invoice.issued",
        invoice,
        user=user,
        event_id=invoice.event_id,
        summary=N_(
            "Facture d'acompte %(number)s émise : %(gross)s TTC",
            number=invoice.number,
            gross=as_money(invoice.total_gross),
        ),
        changes={"total_gross": (None, invoice.total_gross)},
    )
    return invoice


def issue_final(
    quote: Quote, user: User, *, today: date | None = None, operation_category: str = "services"
) -> Invoice:
    """The final invoice (type 380): every line of the accepted quote, less the deposits already
    invoiced (not credited), listed with their numbers and dates. Without deposits, the one invoice
    for everything.

    Raises :class:`Forbidden`, :class:`InvoiceRefused` (quote not accepted, already invoiced).
    """
    _require_issuer(user)
    _require_invoiceable(quote)
    if operation_category not in legal.OPERATION_CATEGORIES:
        raise InvalidValue(_("Choisissez la catégorie de l'opération."), "operation_category")
    existing = _final_exists(quote)
    if existing is not None:
        raise InvoiceRefused(
            _(
                "Ce devis est déjà facturé (%(number)s) : corrigez-le par un avoir avant de le refacturer.",
                number=existing.number,
            )
        )
    context = _context()
    deposits = []
    prepaid = ZERO
    deposits_issued = _deposits(quote)
    by_id = figures_of(deposits_issued)
    for deposit in deposits_issued:
        numbers = by_id[deposit.id]
        remaining = deposit.total_gross - numbers.credited_gross
        if remaining <= 0:
            continue
        deposits.append(
            {"number": deposit.number, "date": deposit.issue_date.isoformat(), "gross": str(remaining)}
        )
        prepaid += remaining
    lines = [
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
        for ql in sorted(quote.lines, key=lambda q: q.position)
    ]
    today = today or utcnow().date()
    invoice = _issue(
        kind=InvoiceKind.INVOICE,
        quote=quote,
        user=user,
        lines=lines,
        issue_date=today,
        prepaid=prepaid,
        references={"quote": {"number": quote.number, "version": quote.version}, "deposits": deposits},
        operation_category=operation_category,
        context=context,
    )
    record(
        "invoice.issued",
        invoice,
        user=user,
        event_id=invoice.event_id,
        summary=N_(
            "Facture %(number)s émise : %(gross)s TTC, dont %(prepaid)s d'acomptes déduits",
            number=invoice.number,
            gross=as_money(invoice.total_gross),
            prepaid=as_money(prepaid),
        ),
        changes={"total_gross": (None, invoice.total_gross)},
    )
    _sync(invoice, user)
    return invoice


def _issuer_of(invoice: Invoice, user, today: date, context) -> Issuer:
    """Who issues a credit note on ``invoice``: its own issuer. In an actor's name only under a mandate
    valid today; never on an invoice the actor issued by itself (it credits it itself)."""
    if invoice.issuer_organisation_id is None:
        return coordinator_issuer(context)
    if not invoice.issued_here:
        raise _refuse_on_document(
            invoice,
            user,
            _("Cette facture a été émise par l'acteur lui-même : c'est à lui d'émettre l'avoir."),
        )
    from app.models import Organisation
    from invoicing.services.joint import actor_issuer
    from invoicing.services.mandates import require_mandate

    organisation = db.session.get(Organisation, invoice.issuer_organisation_id)
    return actor_issuer(organisation, require_mandate(organisation, today), context)


def issue_credit_note(
    invoice: Invoice,
    user: User,
    *,
    reason: str,
    amount: Decimal | None = None,
    today: date | None = None,
) -> Invoice:
    """A credit note (type 381) on ``invoice``: everything that remains (``amount`` None), or
    ``amount`` excl. VAT spread over the invoice's rates. Never more than what remains.

    Raises :class:`Forbidden`, :class:`InvoiceRefused` and :class:`InvalidValue` (reason, amount).
    """
    _require_issuer(user)
    if invoice.kind == InvoiceKind.CREDIT_NOTE or invoice.status != InvoiceStatus.ISSUED:
        raise _refuse_on_document(invoice, user, _("On ne fait un avoir que sur une facture émise."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidValue(_("Indiquez le motif de l'avoir : il est imprimé sur le document."), "reason")
    if len(reason) > MAX_REASON:
        raise InvalidValue(_("Le motif a au plus 500 caractères."), "reason")
    credited = credit_notes_of(invoice)
    # What remains, rate by rate: the invoice's groups less the credit notes' groups.
    remaining: dict[Decimal, Decimal] = {}
    for group in invoice.vat_groups:
        rate = Decimal(group["rate"]).normalize()
        remaining[rate] = remaining.get(rate, ZERO) + Decimal(group["net"])
    for note in credited:
        for group in note.vat_groups:
            rate = Decimal(group["rate"]).normalize()
            remaining[rate] = remaining.get(rate, ZERO) - Decimal(group["net"])
    left = sum(remaining.values(), ZERO)
    if left <= 0:
        raise _refuse_on_document(
            invoice, user, _("Cette facture est déjà entièrement annulée par des avoirs.")
        )
    if amount is None:
        amount = left
    elif not amount.is_finite() or amount <= 0:
        raise InvalidValue(_("Le montant de l'avoir doit être supérieur à 0."), "amount")
    elif amount.as_tuple().exponent < -2:
        raise InvalidValue(_("Un montant a au plus deux décimales (centimes)."), "amount")
    elif amount > left:
        raise _refuse_on_document(
            invoice,
            user,
            _(
                "L'avoir (%(amount)s HT) dépasse ce qui reste de la facture (%(left)s HT).",
                amount=format_money(amount),
                left=format_money(left),
            ),
            InvalidValue,
        )
    rates = [rate for rate in remaining if remaining[rate] > 0]
    parts = allocate(amount, [remaining[rate] for rate in rates])
    mentions = {Decimal(g["rate"]).normalize(): g.get("mention") for g in invoice.vat_groups}
    lines = [
        InvoiceLine(
            lot_title="Avoir",
            description=(
                f"Avoir sur la facture {invoice.number} du {invoice.issue_date:%d/%m/%Y} — {reason} "
                f"(prestations à {_fr_rate(rate)})"
            ),
            quantity=Decimal("1"),
            unit="forfait",
            unit_price=part,
            vat_rate=rate.quantize(pricing.RATE_QUANTUM),
            net=part,
            vat_mention=mentions.get(rate) if rate == 0 else None,
        )
        for rate, part in zip(rates, parts, strict=True)
        if part > 0
    ]
    quote = db.session.get(Quote, invoice.quote_id)
    today = today or utcnow().date()
    context = _context()
    references = {
        "credited": {"number": invoice.number, "date": invoice.issue_date.isoformat()},
        "reason": reason,
    }
    if invoice.references.get("joint"):
        references["joint"] = invoice.references["joint"]
    note = _issue(
        kind=InvoiceKind.CREDIT_NOTE,
        quote=quote,
        user=user,
        lines=lines,
        issue_date=today,
        references=references,
        credit_of=invoice,
        operation_category=invoice.operation_category,
        context=context,
        issuer=_issuer_of(invoice, user, today, context),
        buyer=invoice.buyer,
        purchase_order=invoice.purchase_order_number,
    )
    record(
        "invoice.credited",
        invoice,
        user=user,
        event_id=invoice.event_id,
        summary=N_(
            "Avoir %(note)s sur la facture %(number)s : %(gross)s TTC (%(reason)s)",
            note=note.number,
            number=invoice.number,
            gross=as_money(note.total_gross),
            reason=reason,
        ),
        changes={"credited_gross": (None, note.total_gross)},
    )
    _sync(note, user)
    return note
