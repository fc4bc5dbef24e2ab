"""Issuing a quote: check the event is ready, freeze its offer as a numbered, versioned snapshot
(parties, lines and totals from :mod:`offers.pricing`) and supersede the previous version. The PDF
is rendered from those frozen values after the commit (:func:`~.document.store_issued_pdf`)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from app import snapshots
from app.audit import N_, record
from app.db import utcnow
from app.errors import Conflict, DomainError, Forbidden, InvalidTransition
from app.extensions import db
from app.labels import label
from app.models import CoordinatorIdentity, Organisation, User
from app.money import ZERO, line_net
from app.numbering import next_number
from app.settings_store import get_setting
from offers import pricing
from offers.models import (
    EVENT_STATES,
    QUOTE_STATES,
    AssignmentStatus,
    Event,
    EventStatus,
    Line,
    Lot,
    LotStatus,
    Quote,
    QuoteLine,
    QuoteStatus,
)
from offers.permissions import can_issue_quote
from offers.services.quotes.document import priced_lines, quote_billing_mode

DEFAULT_VALIDITY_DAYS = 30


class QuoteNotReady(DomainError):
    """The event cannot be quoted yet; ``missing`` lists why, in French."""

    def __init__(self, missing: list[str]):
        super().__init__(_("Le devis ne peut pas être émis : ") + " ; ".join(missing))
        self.missing = missing


class AlreadyIssued(Conflict):
    """The issue form was already submitted: ``quote`` is the version that submission issued."""

    def __init__(self, quote: Quote):
        super().__init__(
            _(
                "Ce devis a déjà été émis par ce formulaire (double envoi) : voici la version %(version)s "
                "du devis %(number)s, aucune autre version n'a été créée.",
                version=quote.version,
                number=quote.number,
            )
        )
        self.quote = quote


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


def _snapshot(
    event: Event, identity: CoordinatorIdentity, lots: list[Lot], context: pricing.PricingContext
) -> dict:
    actors = {}
    for lot in lots:
        for line in lot.lines:
            org = line.organisation
            actors[str(org.id)] = snapshots.organisation(
                org, pricing.regime_mention(org.vat_regime, context.mentions)
            )
    return {
        "coordinator": snapshots.coordinator(
            identity, pricing.regime_mention(identity.vat_regime, context.mentions)
        ),
        "client": snapshots.client(event.client),
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
            "contract_reference": event.contract_reference,
            "procurement_procedure": event.procurement_procedure,
            "cpv_codes": [code for code in event.cpv_codes.split(", ") if code],
            "joint_and_several": event.joint_and_several,
            "member_signatures": event.member_signatures,
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
    """The event with everything issuing reads: lots, assignments, lines, their actors and the
    actors' categories (for the snapshot), in a fixed number of queries."""
    return db.session.scalars(
        sa.select(Event)
        .where(Event.id == event_id)
        .options(
            selectinload(Event.lots).selectinload(Lot.assignments),
            selectinload(Event.lots)
            .selectinload(Lot.lines)
            .joinedload(Line.organisation)
            .selectinload(Organisation.categories),
        )
        .execution_options(populate_existing=True)
    ).one()


def _columns(quote_line: QuoteLine) -> dict:
    """A transient quote line's column values, for a bulk INSERT."""
    return {
        column.key: getattr(quote_line, column.key)
        for column in QuoteLine.__table__.columns
        if column.key not in ("id", "quote_id") and getattr(quote_line, column.key) is not None
    }


def default_validity_days() -> int:
    """The validity offered when issuing a quote: the ``quotes.validity_days`` setting, else 30."""
    return int(get_setting("quotes.validity_days", DEFAULT_VALIDITY_DAYS))


def current_version(event: Event) -> Quote | None:
    return db.session.scalar(
        sa.select(Quote).where(Quote.event_id == event.id).order_by(Quote.version.desc()).limit(1)
    )


def issued_by_token(issue_token: str) -> Quote | None:
    """The version an issue form's token issued, if any."""
    return db.session.scalar(sa.select(Quote).where(Quote.issue_token == issue_token))


def issue_quote(
    event: Event,
    user: User,
    *,
    today: date | None = None,
    validity_days: int | None = None,
    show_actor_cards: bool = False,
    show_breakdown: bool = False,
    issue_token: str | None = None,
) -> Quote:
    """Freeze the event's offer as a new quote version (number, snapshot, lines, totals).

    Its PDF is not rendered here, inside the transaction that holds the event's row lock (and
    SQLite's write lock): once the caller has committed, :func:`~.document.store_issued_pdf`
    renders and stores it, and :func:`~.document.quote_pdf` gives it to whoever reads it.

    ``issue_token`` is the issue form's one-time token: the event's row is locked first (issues of
    one event queue up on PostgreSQL; SQLite has one writer anyway), then a token already used raises
    :class:`AlreadyIssued` carrying the version it issued, so a double submission never issues a
    second version. The unique index on ``quotes.issue_token`` backs this up.

    Raises :class:`Forbidden` (not coordinator/admin), :class:`QuoteNotReady` (unstaffed or unpriced
    lots), :class:`InvalidTransition` (a version was accepted, or the event is closed/cancelled).
    """
    if not can_issue_quote(user, event):
        raise Forbidden(_("Seule la coordination émet les devis."))
    db.session.execute(sa.select(Event.id).where(Event.id == event.id).with_for_update())
    if issue_token:
        issued = issued_by_token(issue_token)
        if issued is not None:
            raise AlreadyIssued(issued)
    event = _load_event(event.id)
    if not event.accepts_quotes:
        raise InvalidTransition(
            _("Impossible d'émettre un devis pour un événement « %(status)s ».", status=label(event.status))
        )
    identity = snapshots.require_coordinator_identity()
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
    snapshot = _snapshot(event, identity, lots, context)
    quote = Quote(
        event_id=event.id,
        number=number,
        version=version,
        status=QuoteStatus.DRAFT,
        issue_date=today,
        valid_until=today + timedelta(days=validity_days),
        snapshot=snapshot,
        frozen_client_name=snapshot["client"]["name"],
        show_actor_cards=show_actor_cards,
        show_breakdown=show_breakdown,
        total_net=ZERO,
        total_vat=ZERO,
        total_gross=ZERO,
        created_by_id=user.id,
        issue_token=issue_token or None,
    )
    position = 0
    lots_net = ZERO
    lines: list[QuoteLine] = []
    for index, lot in enumerate(lots):
        for line in lot.lines:
            net = line_net(line.quantity, line.unit_price)
            lots_net += net
            priced = context.line(event, line, lot)
            lines.append(
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
        lines.append(
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
    # The totals of the frozen lines, as the quote will read them (they are inserted below).
    totals = pricing.totals(priced_lines(SimpleNamespace(lines=lines)), quote_billing_mode(quote))
    quote.total_net, quote.total_vat, quote.total_gross = totals.net, totals.vat, totals.gross
    db.session.add(quote)
    db.session.flush()
    # One INSERT for all the lines (the unit of work would send one per line); the relationship
    # is read back when used (the PDF, the pages).
    db.session.execute(
        sa.insert(QuoteLine),
        [{**_columns(ql), "quote_id": quote.id} for ql in lines],
    )
    db.session.expire(quote, ["lines"])

    if previous is not None:
        QUOTE_STATES.move(
            previous,
            QuoteStatus.SUPERSEDED,
            user=user,
            summary=N_(
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
        summary=N_("Devis %(number)s v%(version)s émis", number=number, version=version),
        changes={"total_gross": (previous.total_gross if previous else None, quote.total_gross)},
    )
    return quote
