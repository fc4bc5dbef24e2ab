"""Quotes: issue a frozen, numbered, versioned snapshot of an event's offer; send; answer; diff.

A version is immutable once issued: its parties, lines, totals and PDF (with its SHA-256) are stored
and never re-rendered. Changing the offer means issuing a new version, which supersedes the previous
one (same number, version + 1).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from app.audit import record
from app.db import utcnow
from app.errors import DomainError, Forbidden, InvalidTransition
from app.extensions import db
from app.labels import label
from app.models import CoordinatorIdentity, Role, User
from app.money import ZERO, Totals, line_net
from app.numbering import next_number
from app.pdf import render_pdf, sha256
from app.settings_store import get_setting
from offers import pricing
from offers.models import (
    EVENT_STATES,
    QUOTE_STATES,
    AssignmentStatus,
    BillingMode,
    Event,
    EventStatus,
    Lot,
    LotStatus,
    Quote,
    QuoteLine,
    QuoteStatus,
)
from offers.permissions import can_issue_quote, can_send_quote

DEFAULT_VALIDITY_DAYS = 30


class QuoteNotReady(DomainError):
    """The event cannot be quoted yet; ``missing`` lists why, in French."""

    def __init__(self, missing: list[str]):
        super().__init__(_("Le devis ne peut pas être émis : ") + " ; ".join(missing))
        self.missing = missing


# --- readiness -----------------------------------------------------------------------------------


def missing_for_quote(event: Event, context: pricing.PricingContext | None = None) -> list[str]:
    """What prevents quoting: lots without an accepted actor or without priced lines, lines of
    actors not (or no longer) accepted on their lot, hand-chosen VAT rates that no longer fit their
    seller (:func:`offers.pricing.rate_issues`)."""
    missing: list[str] = []
    open_lots = [lot for lot in event.lots if lot.status == LotStatus.OPEN]
    if not open_lots:
        missing.append(_("l'événement n'a aucun lot"))
    for lot in open_lots:
        accepted = {a.organisation_id for a in lot.assignments if a.status == AssignmentStatus.ACCEPTED}
        if not accepted:
            missing.append(_("lot « %(lot)s » : aucun acteur n'a accepté", lot=lot.title))
        if not lot.lines:
            missing.append(_("lot « %(lot)s » : aucune ligne chiffrée", lot=lot.title))
        for line in lot.lines:
            if line.organisation_id not in accepted:
                missing.append(
                    _(
                        "lot « %(lot)s » : la ligne « %(line)s » est portée par %(actor)s, qui n'a pas accepté ce lot",
                        lot=lot.title,
                        line=line.description,
                        actor=line.organisation.name,
                    )
                )
    missing.extend(str(issue) for issue in pricing.rate_issues(event, context))
    return missing


# --- snapshot ------------------------------------------------------------------------------------


def _identity() -> CoordinatorIdentity:
    identity = db.session.get(CoordinatorIdentity, 1)
    if identity is None:
        raise DomainError(_("L'identité de la coordination n'est pas renseignée (paramètres)."))
    return identity


def _logo_data_uri(identity: CoordinatorIdentity) -> str | None:
    if not identity.logo or identity.logo_mime not in (
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/svg+xml",
    ):
        return None
    return f"data:{identity.logo_mime};base64,{base64.b64encode(identity.logo).decode()}"


def _party(obj, extra: tuple[str, ...] = ()) -> dict:
    fields = ("name", "siret", "vat_number", "address", "postal_code", "commune", "email", "phone", "website")
    data = {name: getattr(obj, name, None) for name in fields + extra}
    if getattr(obj, "legal_form", None) is not None:
        data["legal_form"] = label(obj.legal_form)
    if getattr(obj, "vat_regime", None) is not None:
        data["vat_regime"] = obj.vat_regime.value
    siret = getattr(obj, "siret", None)
    data["siren"] = getattr(obj, "siren", None) or (siret[:9] if siret else None)
    return data


def _snapshot(
    event: Event, identity: CoordinatorIdentity, lots: list[Lot], context: pricing.PricingContext
) -> dict:
    actors = {}
    for lot in lots:
        for line in lot.lines:
            org = line.organisation
            actors[str(org.id)] = {
                **_party(org),
                "qpv_name": org.qpv_name,
                "description": (org.description or "")[:400],
                "categories": [c.name for c in org.categories],
                "vat_mention": pricing.regime_mention(org.vat_regime, context.mentions),
            }
    client = event.client
    return {
        "coordinator": {
            **_party(identity, ("share_capital", "registration")),
            "legal_mentions": identity.legal_mentions,
            "payment_terms": identity.payment_terms,
            "payment_days": identity.payment_days,
            "logo": _logo_data_uri(identity),
            "vat_mention": pricing.regime_mention(identity.vat_regime, context.mentions),
        },
        "client": {
            **_party(client),
            "siren": client.siren or (client.siret[:9] if client.siret else None),
            "is_public_body": client.is_public_body,
            "chorus_service_code": client.chorus_service_code,
            "engagement_number": client.engagement_number,
            "contact_name": client.contact_name,
            "contact_email": client.contact_email,
        },
        "event": {
            "id": event.id,
            "title": event.title,
            "venue": event.venue,
            "venue_address": event.venue_address,
            "starts_at": event.starts_at.isoformat(),
            "ends_at": event.ends_at.isoformat(),
            "headcount": event.headcount,
            "description": event.description,
            "purchase_order_number": event.purchase_order_number,
            "billing_mode": event.billing_mode.value,
        },
        "lots": [
            {
                "id": lot.id,
                "position": index,
                "title": lot.title,
                "category": lot.category.name,
                "place": lot.place,
                "starts_at": lot.starts_at.isoformat() if lot.starts_at else None,
                "ends_at": lot.ends_at.isoformat() if lot.ends_at else None,
                "actors": sorted(
                    {str(a.organisation_id) for a in lot.assignments if a.status == AssignmentStatus.ACCEPTED}
                ),
            }
            for index, lot in enumerate(lots)
        ],
        "actors": actors,
        "fee": {"kind": event.fee_kind.value, "rate": str(event.fee_rate), "amount": str(event.fee_amount)},
    }


def _load_event(event_id: int) -> Event:
    return db.session.scalars(
        sa.select(Event)
        .where(Event.id == event_id)
        .options(
            selectinload(Event.lots).selectinload(Lot.assignments),
            selectinload(Event.lots).selectinload(Lot.lines),
        )
        .execution_options(populate_existing=True)
    ).one()


def default_validity_days() -> int:
    """The validity offered when issuing a quote: the ``quotes.validity_days`` setting, else 30."""
    return int(get_setting("quotes.validity_days", DEFAULT_VALIDITY_DAYS))


def current_version(event: Event) -> Quote | None:
    return db.session.scalar(
        sa.select(Quote).where(Quote.event_id == event.id).order_by(Quote.version.desc()).limit(1)
    )


def issue_quote(
    event: Event,
    user: User,
    *,
    today: date | None = None,
    validity_days: int | None = None,
    show_actor_cards: bool = False,
    show_breakdown: bool = False,
) -> Quote:
    """Freeze the event's offer as a new quote version, with its PDF.

    Raises :class:`Forbidden` (not coordinator/admin), :class:`QuoteNotReady` (unstaffed or unpriced
    lots), :class:`InvalidTransition` (a version was accepted, or the event is closed/cancelled).
    """
    if not can_issue_quote(user, event):
        raise Forbidden(_("Seule la coordination émet les devis."))
    event = _load_event(event.id)
    if not event.accepts_quotes:
        raise InvalidTransition(
            _("Impossible d'émettre un devis pour un événement « %(status)s ».", status=label(event.status))
        )
    identity = _identity()
    context = pricing.PricingContext(identity)
    pricing.rederive_rates(event, user, context)
    missing = missing_for_quote(event, context)
    if missing:
        raise QuoteNotReady(missing)
    today = today or utcnow().date()
    if validity_days is None:
        validity_days = default_validity_days()
    if not 1 <= validity_days <= 365:
        raise DomainError(_("La durée de validité doit être comprise entre 1 et 365 jours."))

    previous = current_version(event)
    if previous is not None:
        if not previous.can_be_superseded:
            raise InvalidTransition(_("Ce devis a été accepté : il ne peut plus être remplacé."))
        number, version = previous.number, previous.version + 1
    else:
        number, version = next_number("coordinator", identity.quote_prefix, today.year), 1

    lots = pricing.open_lots(event)
    quote = Quote(
        event_id=event.id,
        number=number,
        version=version,
        status=QuoteStatus.DRAFT,
        issue_date=today,
        valid_until=today + timedelta(days=validity_days),
        snapshot=_snapshot(event, identity, lots, context),
        show_actor_cards=show_actor_cards,
        show_breakdown=show_breakdown,
        total_net=ZERO,
        total_vat=ZERO,
        total_gross=ZERO,
        created_by_id=user.id,
    )
    position = 0
    lots_net = ZERO
    for index, lot in enumerate(lots):
        for line in lot.lines:
            net = line_net(line.quantity, line.unit_price)
            lots_net += net
            priced = context.line(event, line, lot)
            quote.lines.append(
                QuoteLine(
                    position=position,
                    kind="line",
                    source_line_id=line.id,
                    lot_id=lot.id,
                    lot_title=lot.title,
                    lot_position=index,
                    category_name=lot.category.name,
                    organisation_id=line.organisation_id,
                    organisation_name=line.organisation.name,
                    description=line.description,
                    quantity=line.quantity,
                    unit=line.unit,
                    unit_price=line.unit_price,
                    vat_rate=priced.rate,
                    net=net,
                    vat_mention=priced.mention,
                )
            )
            position += 1
    fee = pricing.fee_line(event, lots_net, context)
    if fee is not None:
        quote.lines.append(
            QuoteLine(
                position=position,
                kind="fee",
                lot_title=_("Coordination"),
                lot_position=len(lots),
                category_name="",
                organisation_id=None,
                organisation_name=identity.name,
                description=fee.description,
                quantity=Decimal("1"),
                unit="forfait",
                unit_price=fee.net,
                vat_rate=fee.vat_rate,
                net=fee.net,
                vat_mention=fee.mention,
            )
        )
    totals = quote_totals(quote)
    quote.total_net, quote.total_vat, quote.total_gross = totals.net, totals.vat, totals.gross
    db.session.add(quote)
    db.session.flush()

    quote.pdf = render_quote_pdf(quote)
    quote.pdf_sha256 = sha256(quote.pdf)

    if previous is not None:
        QUOTE_STATES.move(
            previous,
            QuoteStatus.SUPERSEDED,
            user=user,
            summary=_(
                "Devis %(number)s v%(version)s remplacé par la version %(new)s",
                number=number,
                version=previous.version,
                new=version,
            ),
        )
    if event.status in (EventStatus.DRAFT, EventStatus.LOST):
        # Issuing (again) opens the consultation of a draft event, reopens that of a lost one.
        EVENT_STATES.move(event, EventStatus.CONSULTING, user=user)
    db.session.flush()
    record(
        "quote.issued",
        quote,
        user=user,
        event_id=event.id,
        summary=_("Devis %(number)s v%(version)s émis", number=number, version=version),
        changes={"total_gross": (previous.total_gross if previous else None, quote.total_gross)},
    )
    return quote


def quote_billing_mode(quote: Quote) -> BillingMode:
    return BillingMode(
        quote.snapshot.get("event", {}).get("billing_mode", BillingMode.SINGLE_CONTRACTOR.value)
    )


def priced_lines(quote: Quote) -> list[pricing.Priced]:
    """The quote's frozen lines as :mod:`offers.pricing` adds them up (the fee has no actor)."""
    return [
        pricing.Priced(ql.net, ql.vat_rate, ql.organisation_id if ql.kind == "line" else None)
        for ql in quote.lines
    ]


def quote_totals(quote: Quote) -> Totals:
    """The quote's totals, by :func:`offers.pricing.totals` on its frozen lines."""
    return pricing.totals(priced_lines(quote), quote_billing_mode(quote))


def label_rate(rate: Decimal) -> str:
    from app.formatting import rate as fmt_rate

    return fmt_rate(rate)


# --- PDF -----------------------------------------------------------------------------------------


@dataclass
class LotSection:
    title: str
    category: str
    place: str
    starts_at: str | None
    ends_at: str | None
    actors: list[dict]
    lines: list[QuoteLine] = field(default_factory=list)
    subtotal: Decimal = ZERO


def quote_sections(quote: Quote) -> tuple[list[LotSection], list[QuoteLine]]:
    """Lines grouped by lot, in order, and the fee lines."""
    snap = quote.snapshot
    sections: dict[int, LotSection] = {}
    for lot in snap.get("lots", []):
        sections[lot["position"]] = LotSection(
            title=lot["title"],
            category=lot["category"],
            place=lot.get("place") or "",
            starts_at=lot.get("starts_at"),
            ends_at=lot.get("ends_at"),
            actors=[snap["actors"][a] for a in lot.get("actors", []) if a in snap.get("actors", {})],
        )
    fees = []
    for ql in sorted(quote.lines, key=lambda q: q.position):
        if ql.kind == "fee":
            fees.append(ql)
            continue
        section = sections.get(ql.lot_position)
        if section is not None:
            section.lines.append(ql)
            section.subtotal += ql.net
    return [sections[k] for k in sorted(sections)], fees


def breakdown(quote: Quote) -> list[dict]:
    """The per-actor annex, which follows the billing mode.

    Joint consortium: one row per member (its SIRET, VAT number or exemption mention, address, and
    its net, VAT and gross as it will invoice them: VAT rounded per member by
    :func:`offers.pricing.totals_by_seller`), then the coordinator's fee; the rows add up exactly to
    the quote. Single contractor: an internal breakdown of the nets only (the coordinator sells
    everything, so no actor charges VAT to the client), then the fee; the nets add up to the quote's
    net."""
    mode = quote_billing_mode(quote)
    joint = mode == BillingMode.JOINT_CONSORTIUM
    actors = quote.snapshot.get("actors", {})
    per_seller = pricing.totals_by_seller(priced_lines(quote), mode) if joint else {}
    rows: dict[object, dict] = {}
    for ql in quote.lines:
        key = ql.organisation_id if ql.kind == "line" else None
        if key not in rows:
            card = actors.get(str(key), {}) if key is not None else quote.snapshot.get("coordinator", {})
            address = " ".join(
                part for part in (card.get("address"), card.get("postal_code"), card.get("commune")) if part
            )
            rows[key] = {
                "name": ql.organisation_name
                if key is not None
                else _("Coordination (%(name)s)", name=ql.organisation_name),
                "is_fee": key is None,
                "siret": card.get("siret"),
                "vat_number": card.get("vat_number"),
                "vat_mention": card.get("vat_mention"),
                "address": address,
                "net": ZERO,
            }
        rows[key]["net"] += ql.net
    for key, row in rows.items():
        if joint:
            seller_totals = per_seller[pricing.seller_key(mode, key)]
            row["vat"], row["gross"] = seller_totals.vat, seller_totals.gross
    return sorted(rows.values(), key=lambda r: (r["is_fee"], r["name"].lower()))


def render_quote_pdf(quote: Quote) -> bytes:
    """Render the quote's PDF from its frozen values (never from live objects), in French."""
    sections, fees = quote_sections(quote)
    totals = quote_totals(quote)
    mentions = sorted({ql.vat_mention for ql in quote.lines if ql.vat_mention})
    with force_locale("fr"):
        html = render_template(
            "pdf/quote.html",
            quote=quote,
            snap=quote.snapshot,
            sections=sections,
            fees=fees,
            totals=totals,
            vat_mentions=mentions,
            breakdown=breakdown(quote) if quote.show_breakdown else None,
        )
    return render_pdf(html)


# --- sending and the client's answer -------------------------------------------------------------


def _serializer():
    from flask import current_app
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="maillage.quote-portal")


def portal_token(quote: Quote) -> str:
    """A signed link to this exact version (its PDF hash included): forging or reusing another
    version's link is impossible; validity ends with the quote (checked when used)."""
    return _serializer().dumps({"q": quote.id, "v": quote.version, "h": (quote.pdf_sha256 or "")[:16]})


class InvalidQuoteLink(DomainError):
    status_code = 400


def quote_from_token(token: str) -> Quote:
    """Raises :class:`InvalidQuoteLink` for a forged or mangled link."""
    from itsdangerous import BadSignature

    try:
        data = _serializer().loads(token)
    except BadSignature as exc:
        raise InvalidQuoteLink(_("Ce lien vers un devis n'est pas valide.")) from exc
    if not isinstance(data, dict) or not isinstance(data.get("q"), int):
        raise InvalidQuoteLink(_("Ce lien vers un devis n'est pas valide."))
    quote = db.session.get(Quote, data["q"])
    if quote is None or quote.version != data.get("v") or (quote.pdf_sha256 or "")[:16] != data.get("h"):
        raise InvalidQuoteLink(_("Ce lien vers un devis n'est pas valide."))
    return quote


def answer_refusal(quote: Quote, today: date) -> str | None:
    """Why this version cannot be answered now, in French; None when it can."""
    if quote.status == QuoteStatus.SENT and quote.valid_until < today:
        return _(
            "Ce devis a expiré le %(date)s : demandez une nouvelle version.", date=_date(quote.valid_until)
        )
    reasons = {
        QuoteStatus.DRAFT: _("Ce devis n'a pas encore été envoyé."),
        QuoteStatus.ACCEPTED: _("Ce devis a déjà été accepté."),
        QuoteStatus.DECLINED: _("Ce devis a déjà été refusé."),
        QuoteStatus.EXPIRED: _(
            "Ce devis a expiré le %(date)s : demandez une nouvelle version.", date=_date(quote.valid_until)
        ),
    }
    if quote.status == QuoteStatus.SUPERSEDED:
        latest = db.session.scalar(
            sa.select(Quote.version)
            .where(Quote.event_id == quote.event_id)
            .order_by(Quote.version.desc())
            .limit(1)
        )
        return _(
            "Cette version a été remplacée par la version %(version)s : seule la dernière version peut être acceptée.",
            version=latest,
        )
    return reasons.get(quote.status)


def _date(value: date) -> str:
    from app.formatting import date_long

    return date_long(value)


def _recipients(quote: Quote) -> list[str]:
    client = quote.event.client
    emails = []
    if client.contact_email:
        emails.append(client.contact_email.lower())
    for user in db.session.scalars(sa.select(User).where(User.client_id == client.id, User.active.is_(True))):
        if user.email not in emails:
            emails.append(user.email)
    return emails


def mark_sent(quote: Quote, user: User | None, *, summary: str | None = None) -> None:
    """Record that a quote went out (by e-mail through :func:`send_quote`, or by hand): an unsent
    quote becomes sent; an event in consultation becomes quoted."""
    if quote.is_unsent:
        QUOTE_STATES.move(quote, QuoteStatus.SENT, user=user, values={"sent_at": utcnow()}, summary=summary)
    if quote.event.status == EventStatus.CONSULTING:
        EVENT_STATES.move(quote.event, EventStatus.QUOTED, user=user)
    db.session.flush()


def send_quote(quote: Quote, user: User, *, today: date | None = None) -> list[str]:
    """E-mail the quote (PDF attached, portal link valid until it expires) to the client's contacts.

    A draft becomes sent; sending a sent quote again re-sends the same version. Raises
    :class:`Forbidden`, :class:`InvalidTransition` (superseded, answered, expired), :class:`DomainError`
    (no e-mail address for the client). Returns the recipients.
    """
    from app.auth.views import absolute_url
    from app.mail import queue_message

    if not can_send_quote(user, quote):
        raise Forbidden(_("Seule la coordination émet les devis."))
    today = today or utcnow().date()
    if not (quote.is_unsent or quote.is_sent):
        raise InvalidTransition(answer_refusal(quote, today) or _("Ce devis ne peut plus être envoyé."))
    if quote.valid_until < today:
        raise InvalidTransition(_("Ce devis a expiré : émettez une nouvelle version."))
    recipients = _recipients(quote)
    if not recipients:
        raise DomainError(_("Le client n'a pas d'adresse e-mail de contact : renseignez-la sur sa fiche."))
    link = absolute_url("offers.quote_portal", token=portal_token(quote))
    snap = quote.snapshot
    body = render_template("email/quote.txt", quote=quote, snap=snap, link=link)
    queue_message(
        to=recipients,
        subject=_(
            "Devis %(number)s (version %(version)s) — %(title)s",
            number=quote.number,
            version=quote.version,
            title=snap["event"]["title"],
        ),
        body_text=body,
        attachments=[(f"{quote.number}-v{quote.version}.pdf", "application/pdf", quote.pdf)],
    )
    summary = _(
        "Devis %(number)s v%(version)s envoyé à %(to)s",
        number=quote.number,
        version=quote.version,
        to=", ".join(recipients),
    )
    if quote.is_unsent:
        mark_sent(quote, user, summary=summary)
    else:
        # Sent again: the same version, no move; the e-mail is recorded.
        mark_sent(quote, user)
        record("quote.sent", quote, user=user, event_id=quote.event_id, summary=summary)
    return recipients


def _answer(quote: Quote, target: QuoteStatus, values: dict, *, user, summary: str, ip, changes=None) -> None:
    """Answer once: the row changes only if it is still 'sent' (two clicks cannot both count)."""
    QUOTE_STATES.move(
        quote,
        target,
        user=user,
        values=values,
        changes=changes,
        summary=summary,
        ip=ip,
        one_shot=True,
        stale=lambda fresh: InvalidTransition(
            answer_refusal(fresh, utcnow().date()) or _("Ce devis a déjà reçu une réponse.")
        ),
    )


def accept_quote(
    quote: Quote,
    *,
    name: str,
    agreed: bool,
    purchase_order: str | None = None,
    ip: str | None = None,
    user: User | None = None,
    today: date | None = None,
    now: datetime | None = None,
    notify: bool = True,
) -> None:
    """The client accepts ("bon pour accord"). Records name, time (``now``, default: the clock), IP
    and the accepted PDF's hash.

    Raises :class:`DomainError` (no name, box not ticked) and :class:`InvalidTransition`
    (expired, superseded, already answered)."""
    now = now or utcnow()
    today = today or now.date()
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Indiquez votre nom pour accepter le devis."))
    if not agreed:
        raise DomainError(_("Cochez « Bon pour accord » pour accepter le devis."))
    refusal = answer_refusal(quote, today)
    if refusal:
        raise InvalidTransition(refusal)
    event = quote.event
    if not EVENT_STATES.allows(event.status, EventStatus.WON):
        raise InvalidTransition(
            _(
                "Ce devis ne peut pas être accepté pour l'instant : l'événement est « %(status)s ». "
                "Contactez la coordination.",
                status=label(event.status),
            )
        )
    _answer(
        quote,
        QuoteStatus.ACCEPTED,
        {
            "accepted_by_name": name[:200],
            "accepted_ip": (ip or "")[:45] or None,
            "answered_at": now,
            "accepted_pdf_sha256": quote.pdf_sha256,
            "client_purchase_order": (purchase_order or "").strip()[:50] or None,
        },
        user=user,
        ip=ip,
        summary=_(
            "Devis %(number)s v%(version)s accepté par %(name)s",
            number=quote.number,
            version=quote.version,
            name=name,
        ),
        changes={"pdf_sha256": (None, quote.pdf_sha256)},
    )
    EVENT_STATES.move(event, EventStatus.WON, user=user, ip=ip)
    if quote.client_purchase_order and not event.purchase_order_number:
        event.purchase_order_number = quote.client_purchase_order
        db.session.flush()
    if notify:
        _notify_coordinators(quote, accepted=True)


def decline_quote(
    quote: Quote, *, reason: str, ip: str | None = None, user: User | None = None, today: date | None = None
) -> None:
    """The client declines, with a reason. Raises :class:`DomainError`, :class:`InvalidTransition`."""
    today = today or utcnow().date()
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Indiquez la raison du refus : elle aide la coordination à revoir son offre."))
    refusal = answer_refusal(quote, today)
    if refusal:
        raise InvalidTransition(refusal)
    _answer(
        quote,
        QuoteStatus.DECLINED,
        {"declined_reason": reason[:2000], "answered_at": utcnow()},
        user=user,
        ip=ip,
        summary=_(
            "Devis %(number)s v%(version)s refusé : %(reason)s",
            number=quote.number,
            version=quote.version,
            reason=reason[:300],
        ),
    )
    event = quote.event
    if event.status == EventStatus.QUOTED:
        # The event waited for this answer (a cancelled event, or one back in consultation, stays).
        EVENT_STATES.move(event, EventStatus.LOST, user=user, ip=ip)
    _notify_coordinators(quote, accepted=False)


def _notify_coordinators(quote: Quote, *, accepted: bool) -> None:
    from app.auth.views import absolute_url
    from app.mail import queue_message

    recipients = list(
        db.session.scalars(
            sa.select(User.email)
            .where(User.role == Role.COORDINATOR, User.active.is_(True))
            .order_by(User.email)
        )
    )
    if not recipients:
        return
    link = absolute_url("offers.quote_detail", quote_id=quote.id)
    body = render_template("email/quote_answered.txt", quote=quote, accepted=accepted, link=link)
    subject = (
        _("Devis %(number)s v%(version)s accepté", number=quote.number, version=quote.version)
        if accepted
        else _("Devis %(number)s v%(version)s refusé", number=quote.number, version=quote.version)
    )
    queue_message(to=recipients, subject=subject, body_text=body)


def expire_quotes(today: date | None = None) -> int:
    """Mark sent quotes past their validity as expired. Returns how many."""
    today = today or utcnow().date()
    quotes = db.session.scalars(
        sa.select(Quote).where(Quote.status == QuoteStatus.SENT, Quote.valid_until < today)
    ).all()
    for quote in quotes:
        QUOTE_STATES.move(
            quote,
            QuoteStatus.EXPIRED,
            user=None,
            summary=_("Devis %(number)s v%(version)s expiré", number=quote.number, version=quote.version),
        )
    db.session.flush()
    return len(quotes)


# --- differences between versions ----------------------------------------------------------------


@dataclass
class Change:
    kind: str  # added | removed | changed | total
    lot: str
    description: str
    details: list[str] = field(default_factory=list)


def diff_versions(old: Quote, new: Quote) -> list[Change]:
    """What changed from ``old`` to ``new``: lines added/removed, quantities, prices, VAT, actors."""
    from app.formatting import money, quantity, rate

    def key(ql: QuoteLine):
        return ("fee",) if ql.kind == "fee" else ("line", ql.source_line_id)

    before = {key(ql): ql for ql in old.lines}
    after = {key(ql): ql for ql in new.lines}
    changes: list[Change] = []
    for k, ql in after.items():
        if k not in before:
            changes.append(
                Change(
                    "added",
                    ql.lot_title,
                    ql.description,
                    [_("%(actor)s : %(net)s HT", actor=ql.organisation_name, net=money(ql.net))],
                )
            )
            continue
        prev = before[k]
        details = []
        if prev.description != ql.description:
            details.append(_("désignation : « %(a)s » → « %(b)s »", a=prev.description, b=ql.description))
        if prev.organisation_name != ql.organisation_name:
            details.append(_("acteur : %(a)s → %(b)s", a=prev.organisation_name, b=ql.organisation_name))
        if prev.quantity != ql.quantity or prev.unit != ql.unit:
            details.append(_("quantité : %(a)s → %(b)s", a=quantity(prev.quantity), b=quantity(ql.quantity)))
        if prev.unit_price != ql.unit_price:
            details.append(
                _("prix unitaire HT : %(a)s → %(b)s", a=money(prev.unit_price), b=money(ql.unit_price))
            )
        if prev.vat_rate != ql.vat_rate:
            details.append(_("TVA : %(a)s → %(b)s", a=rate(prev.vat_rate), b=rate(ql.vat_rate)))
        if prev.lot_title != ql.lot_title:
            details.append(_("lot : %(a)s → %(b)s", a=prev.lot_title, b=ql.lot_title))
        if details:
            changes.append(Change("changed", ql.lot_title, ql.description, details))
    for k, ql in before.items():
        if k not in after:
            changes.append(
                Change(
                    "removed",
                    ql.lot_title,
                    ql.description,
                    [_("%(actor)s : %(net)s HT", actor=ql.organisation_name, net=money(ql.net))],
                )
            )
    old_actors = {ql.organisation_name for ql in old.lines if ql.kind == "line"}
    new_actors = {ql.organisation_name for ql in new.lines if ql.kind == "line"}
    for name in sorted(new_actors - old_actors):
        changes.append(Change("changed", "", _("Nouvel acteur : %(name)s", name=name)))
    for name in sorted(old_actors - new_actors):
        changes.append(Change("changed", "", _("Acteur retiré : %(name)s", name=name)))
    if old.total_gross != new.total_gross:
        changes.append(
            Change(
                "total",
                "",
                _("Total TTC"),
                [_("%(a)s → %(b)s", a=money(old.total_gross), b=money(new.total_gross))],
            )
        )
    return changes
