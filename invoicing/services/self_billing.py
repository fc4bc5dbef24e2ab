"""Self-billing (autofacturation) in single-contractor mode, docs/joint-consortium.md.

For an actor with a valid billing mandate, its payout statement becomes a **self-billed invoice**
(type 389): issued by Maillage in the actor's name and series, from the actor (seller) to the
coordinator (buyer), for what the coordinator owes it: its share less the commission, with the VAT it
charges on it (:mod:`invoicing.split`, never recomputed here).

The actor then **accepts** it in its portal, or **contests** it with a reason (who, when, IP are
recorded; one answer per invoice). The payout of an actor who has a self-billed invoice on the event
is payable only once that invoice is accepted; a contested one blocks it (:func:`payout_block`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _

from app.audit import N_, as_money, record
from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidValue
from app.extensions import db
from app.models import Organisation, User
from invoicing.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceOrigin,
    InvoiceStatus,
    ReviewAnswer,
    SelfBillingReview,
)
from invoicing.permissions import can_answer_self_billing
from invoicing.services import mandates
from invoicing.services.invoices import (
    InvoiceRefused,
    _context,
    _fr_money,
    _issue,
    _require_issuer,
    figures_of,
)
from invoicing.services.joint import actor_issuer, is_joint
from invoicing.split import split_for_quote
from offers import pricing
from offers.models import Quote, QuoteStatus

MAX_REASON = 500


def self_billed_of(event_id: int, organisation_id: int | None = None) -> list[Invoice]:
    """The event's self-billed invoices not cancelled by a credit note (of one actor, if given)."""
    query = sa.select(Invoice).where(
        Invoice.event_id == event_id,
        Invoice.status == InvoiceStatus.ISSUED,
        Invoice.origin == InvoiceOrigin.SELF_BILLED.value,
        Invoice.kind == InvoiceKind.INVOICE,
    )
    if organisation_id is not None:
        query = query.where(Invoice.issuer_organisation_id == organisation_id)
    invoices = list(db.session.scalars(query.order_by(Invoice.id)))
    numbers = figures_of(invoices)
    return [i for i in invoices if numbers[i.id].credited_net < i.total_net]


def review_of(invoice: Invoice) -> SelfBillingReview | None:
    return db.session.scalar(sa.select(SelfBillingReview).where(SelfBillingReview.invoice_id == invoice.id))


def issue_self_billed(
    quote: Quote, organisation: Organisation, user: User, *, today: date | None = None
) -> Invoice:
    """The actor's self-billed invoice for the event (type 389), in its series, to the coordinator.

    Raises :class:`Forbidden`, :class:`InvoiceRefused` (quote not accepted, joint mode, the actor has
    no share, already issued) and :class:`~invoicing.services.mandates.MandateMissing`.
    """
    _require_issuer(user)
    if quote.status != QuoteStatus.ACCEPTED:
        raise InvoiceRefused(_("On n'autofacture qu'un devis accepté."))
    if is_joint(quote):
        raise InvoiceRefused(
            _("En groupement conjoint, chaque membre facture le client : il n'y a pas d'autofacturation.")
        )
    today = today or utcnow().date()
    mandate = mandates.require_mandate(organisation, today)
    split = split_for_quote(quote)
    actor = split.actor(organisation.id)
    if actor is None:
        raise InvoiceRefused(_("%(name)s n'a pas de part dans ce devis.", name=organisation.name))
    existing = self_billed_of(quote.event_id, organisation.id)
    if existing:
        raise InvoiceRefused(
            _(
                "L'autofacture de %(name)s est déjà émise (%(number)s).",
                name=organisation.name,
                number=existing[0].number,
            )
        )
    context = _context()
    event = quote.event
    base = f"{event.title} (devis {quote.number}) : part de {_fr_money(actor.share)} HT, commission déduite"
    if actor.vat is not None:
        parts = [(group.rate, group.net) for group in actor.vat.groups]
    else:
        parts = [(Decimal("0"), actor.net)]
    regime_mention = pricing.regime_mention(organisation.vat_regime, context.mentions)
    lines = [
        InvoiceLine(
            lot_title="Prestations",
            organisation_id=organisation.id,
            description=base if len(parts) == 1 else f"{base} — prestations à {_rate(rate)}",
            quantity=Decimal("1"),
            unit="forfait",
            unit_price=net,
            vat_rate=Decimal(rate).quantize(pricing.RATE_QUANTUM),
            net=net,
            vat_mention=regime_mention if rate == 0 else None,
        )
        for rate, net in parts
        if net > 0
    ]
    if not lines:
        raise InvoiceRefused(_("Rien n'est dû à %(name)s sur ce devis.", name=organisation.name))
    from app import snapshots

    buyer = {**snapshots.party(context.identity), "is_public_body": False}
    invoice = _issue(
        kind=InvoiceKind.INVOICE,
        quote=quote,
        user=user,
        lines=lines,
        issue_date=today,
        references={
            "quote": {"number": quote.number, "version": quote.version},
            "self_billing": {"organisation_id": organisation.id, "mandate_id": mandate.id},
        },
        context=context,
        issuer=actor_issuer(organisation, mandate, context, self_billing=True),
        buyer=buyer,
        origin=InvoiceOrigin.SELF_BILLED,
        purchase_order=None,
    )
    if invoice.total_gross != actor.amount:
        raise AssertionError("self-billed invoice differs from the split")  # pragma: no cover
    record(
        "invoice.self_billed",
        invoice,
        user=user,
        event_id=event.id,
        summary=N_(
            "Autofacture %(number)s émise au nom de %(seller)s : %(gross)s TTC",
            number=invoice.number,
            seller=organisation.name,
            gross=as_money(invoice.total_gross),
        ),
        changes={"total_gross": (None, invoice.total_gross)},
    )
    return invoice


def _rate(rate) -> str:
    from invoicing.services.invoices import _fr_rate

    return _fr_rate(rate)


def answer(
    invoice: Invoice, user: User, *, accept: bool, reason: str = "", ip: str | None = None
) -> SelfBillingReview:
    """The actor accepts its self-billed invoice, or contests it with a reason (which blocks its payout).

    Raises :class:`Forbidden` (not one of the actor's people: nobody answers for another actor),
    :class:`InvalidValue` (no reason) and :class:`Conflict` (already answered).
    """
    if invoice.origin != InvoiceOrigin.SELF_BILLED.value or invoice.status != InvoiceStatus.ISSUED:
        raise InvoiceRefused(_("Seule une autofacture s'accepte ou se conteste."))
    if not can_answer_self_billing(user, invoice.issuer_organisation_id):
        raise Forbidden(
            _(
                "Seules les personnes de %(name)s répondent à cette autofacture.",
                name=invoice.seller.get("name"),
            )
        )
    reason = (reason or "").strip()
    if not accept and not reason:
        raise InvalidValue(_("Indiquez ce que vous contestez : la coordination le lira."), "reason")
    if len(reason) > MAX_REASON:
        raise InvalidValue(_("Le motif a au plus 500 caractères."), "reason")
    previous = review_of(invoice)
    if previous is not None:
        raise Conflict(
            _(
                "Cette autofacture a déjà reçu une réponse (%(answer)s le %(date)s).",
                answer=_("acceptée") if previous.answer == ReviewAnswer.ACCEPTED else _("contestée"),
                date=previous.answered_at.strftime("%d/%m/%Y"),
            )
        )
    review = SelfBillingReview(
        invoice_id=invoice.id,
        organisation_id=invoice.issuer_organisation_id,
        answer=ReviewAnswer.ACCEPTED if accept else ReviewAnswer.CONTESTED,
        reason=reason,
        user_id=user.id,
        ip=ip,
        answered_at=utcnow(),
    )
    db.session.add(review)
    db.session.flush()
    record(
        "invoice.self_billing_answered",
        invoice,
        user=user,
        ip=ip,
        event_id=invoice.event_id,
        summary=(
            N_("Autofacture %(number)s acceptée", number=invoice.number)
            if accept
            else N_("Autofacture %(number)s contestée : %(reason)s", number=invoice.number, reason=reason)
        ),
    )
    return review


def payout_block(event_id: int, organisation_id: int) -> str | None:
    """Why the actor's payout on the event may not be paid yet, or None: its self-billed invoice is
    awaiting its answer, or contested."""
    for invoice in self_billed_of(event_id, organisation_id):
        review = review_of(invoice)
        if review is None:
            return _(
                "L'autofacture %(number)s attend l'acceptation de l'acteur : le reversement sera payable "
                "une fois acceptée.",
                number=invoice.number,
            )
        if review.answer == ReviewAnswer.CONTESTED:
            return _(
                "L'autofacture %(number)s est contestée (%(reason)s) : le reversement est bloqué.",
                number=invoice.number,
                reason=review.reason,
            )
    return None
