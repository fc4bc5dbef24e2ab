"""Sending a quote to the client and the client's answer: the signed portal link, acceptance
("bon pour accord", recorded with name, time, IP and the PDF's hash), refusal, expiry."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask import render_template
from flask_babel import gettext as _

from app.audit import N_, record
from app.db import utcnow
from app.errors import DomainError, Forbidden, InvalidTransition
from app.extensions import db
from app.labels import label
from app.models import Role, User
from offers.models import (
    EVENT_STATES,
    QUOTE_STATES,
    EventStatus,
    Quote,
    QuoteStatus,
)
from offers.permissions import can_send_quote
from offers.services.quotes.document import quote_pdf

# --- sending and the client's answer -------------------------------------------------------------


def _serializer():
    from flask import current_app
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="maillage.quote-portal")


def portal_token(quote: Quote) -> str:
    """A signed link to this exact version (its PDF hash included): forging or reusing another
    version's link is impossible; validity ends with the quote (checked when used)."""
    quote_pdf(quote)  # the hash exists once the PDF is stored
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
    quote becomes sent; an event in consultation becomes quoted. The PDF that went out is stored
    (:func:`quote_pdf`): a sent quote always has it."""
    quote_pdf(quote)
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
    pdf = quote_pdf(quote)
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
        attachments=[(f"{quote.number}-v{quote.version}.pdf", "application/pdf", pdf)],
    )
    summary = N_(
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
    and the accepted PDF's hash; ``notify``: e-mail the coordinators.

    Renders nothing, so that the acceptance's transaction stays short: once the caller has
    committed, each actor's briefing sheet goes out with
    :func:`offers.services.briefing.send_acceptance_briefings` (and, should that fail, with the next
    ``flask offers send-briefings``).

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
    quote_pdf(quote)  # the accepted PDF's hash is recorded: it must be stored
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
        summary=N_(
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
        summary=N_(
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
            summary=N_("Devis %(number)s v%(version)s expiré", number=quote.number, version=quote.version),
        )
    db.session.flush()
    return len(quotes)
