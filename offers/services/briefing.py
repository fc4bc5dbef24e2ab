"""The briefing sheet (feuille de route) of an actor on an event: its own lots only.

For each lot the actor's organisation *accepted* (a cancelled lot is left out): times, place and
quantities, the specification, the actor's own lines (description, quantity, unit: never a price),
and the other actors who accepted the same lot, by name only. The coordinator's on-site contact is
the event's ``onsite_contact``.

The sheet is e-mailed (PDF attached, portal link in the body) to the organisation's active people
and its card's address: once when the client accepts the quote, once more a set number of days
before the event (``flask offers send-briefings``, ``BRIEFING_DAYS_BEFORE``, default 7). Each
sending is recorded in ``briefing_sends`` (one row per event, actor and reason), so neither is ever
sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from app.dates import local_today, to_local
from app.db import utcnow
from app.extensions import db
from app.models import Organisation, Role, User
from offers.models import (
    Assignment,
    AssignmentStatus,
    BriefingReason,
    BriefingSend,
    Event,
    EventStatus,
    Line,
    Lot,
    LotStatus,
)

#: Events whose briefing sheets are sent before the day: the client accepted, not yet delivered.
REMINDED_STATUSES = (EventStatus.WON,)
DEFAULT_DAYS_BEFORE = 7


@dataclass
class BriefingLot:
    lot: Lot
    lines: list[Line]
    #: The other organisations that accepted the same lot: names only.
    partners: list[str] = field(default_factory=list)


@dataclass
class Briefing:
    event: Event
    organisation: Organisation
    lots: list[BriefingLot]


def accepted_lots(event: Event, organisation_id: int) -> list[Lot]:
    """The event's lots (not cancelled) that the organisation accepted, in the event's order."""
    return list(
        db.session.scalars(
            sa.select(Lot)
            .join(Assignment, Assignment.lot_id == Lot.id)
            .where(
                Lot.event_id == event.id,
                Lot.status != LotStatus.CANCELLED,
                Assignment.organisation_id == organisation_id,
                Assignment.status == AssignmentStatus.ACCEPTED,
            )
            .order_by(Lot.position, Lot.id)
        )
    )


def briefing(event: Event, organisation: Organisation) -> Briefing | None:
    """The sheet's content, or ``None`` when the organisation accepted no lot of the event."""
    lots = accepted_lots(event, organisation.id)
    if not lots:
        return None
    entries = []
    for lot in lots:
        lines = list(
            db.session.scalars(
                sa.select(Line)
                .where(Line.lot_id == lot.id, Line.organisation_id == organisation.id)
                .order_by(Line.position, Line.id)
            )
        )
        partners = list(
            db.session.scalars(
                sa.select(Organisation.name)
                .join(Assignment, Assignment.organisation_id == Organisation.id)
                .where(
                    Assignment.lot_id == lot.id,
                    Assignment.status == AssignmentStatus.ACCEPTED,
                    Assignment.organisation_id != organisation.id,
                )
                .order_by(sa.func.lower(Organisation.name))
            )
        )
        entries.append(BriefingLot(lot=lot, lines=lines, partners=partners))
    return Briefing(event=event, organisation=organisation, lots=entries)


def render_briefing_pdf(sheet: Briefing) -> bytes:
    from app.pdf import render_pdf

    with force_locale("fr"):
        html = render_template("pdf/briefing.html", sheet=sheet, today=local_today())
    return render_pdf(html)


def briefing_filename(sheet: Briefing) -> str:
    from werkzeug.utils import secure_filename

    name = secure_filename(f"feuille-de-route-{sheet.event.id}-{sheet.organisation.name}".lower())
    return f"{name or 'feuille-de-route'}.pdf"


def _recipients(organisation: Organisation) -> list[str]:
    emails: list[str] = []
    for email in db.session.scalars(
        sa.select(User.email)
        .where(User.organisation_id == organisation.id, User.role == Role.ACTOR, User.active.is_(True))
        .order_by(User.email)
    ):
        if email.lower() not in emails:
            emails.append(email.lower())
    if organisation.email and organisation.email.lower() not in emails:
        emails.append(organisation.email.lower())
    return emails


def send_briefing(event: Event, organisation: Organisation, reason: BriefingReason) -> bool:
    """Queue the organisation's sheet for ``reason`` unless it was already sent (or there is no
    lot, or nobody to write to). Returns whether an e-mail was queued. Flushes; the caller commits."""
    from app.auth.views import absolute_url
    from app.mail import queue_message

    already = db.session.scalar(
        sa.select(BriefingSend.id).where(
            BriefingSend.event_id == event.id,
            BriefingSend.organisation_id == organisation.id,
            BriefingSend.reason == reason.value,
        )
    )
    if already is not None:
        return False
    sheet = briefing(event, organisation)
    recipients = _recipients(organisation)
    if sheet is None or not recipients:
        return False
    link = absolute_url("offers.portal_briefing", event_id=event.id)
    with force_locale("fr"):
        body = render_template("email/briefing.txt", sheet=sheet, link=link, reason=reason.value)
        subject = _("Feuille de route — %(title)s", title=event.title)
    queue_message(
        to=recipients,
        subject=subject,
        body_text=body,
        attachments=[(briefing_filename(sheet), "application/pdf", render_briefing_pdf(sheet))],
    )
    db.session.add(
        BriefingSend(
            event_id=event.id,
            organisation_id=organisation.id,
            reason=reason.value,
            recipients=", ".join(recipients),
            sent_at=utcnow(),
        )
    )
    db.session.flush()
    return True


def _organisations(event: Event) -> list[Organisation]:
    return list(
        db.session.scalars(
            sa.select(Organisation)
            .where(
                Organisation.id.in_(
                    sa.select(Assignment.organisation_id)
                    .join(Lot, Lot.id == Assignment.lot_id)
                    .where(
                        Lot.event_id == event.id,
                        Lot.status != LotStatus.CANCELLED,
                        Assignment.status == AssignmentStatus.ACCEPTED,
                    )
                )
            )
            .order_by(Organisation.id)
        )
    )


def send_event_briefings(event: Event, reason: BriefingReason) -> int:
    """Each actor of the event its own sheet (those not sent yet for ``reason``). Returns how many."""
    return sum(send_briefing(event, organisation, reason) for organisation in _organisations(event))


def days_before() -> int:
    return int(current_app.config.get("BRIEFING_DAYS_BEFORE", DEFAULT_DAYS_BEFORE))


def send_due_briefings(today: date | None = None, days: int | None = None) -> int:
    """The daily task: the sheets of the won events starting within ``days`` days (from today, on
    the coordination's clock), each actor once. Returns how many e-mails were queued."""
    today = today or local_today()
    days = days_before() if days is None else days
    last = today + timedelta(days=days)
    # A bounded window in UTC around the local dates, refined on the local date below.
    events = db.session.scalars(
        sa.select(Event)
        .where(
            Event.status.in_(REMINDED_STATUSES),
            Event.starts_at >= _utc_bound(today - timedelta(days=1)),
            Event.starts_at < _utc_bound(last + timedelta(days=2)),
        )
        .order_by(Event.starts_at, Event.id)
    ).all()
    count = 0
    for event in events:
        if today <= to_local(event.starts_at).date() <= last:
            count += send_event_briefings(event, BriefingReason.REMINDER)
    return count


def _utc_bound(day: date):
    from datetime import UTC, datetime

    return datetime(day.year, day.month, day.day, tzinfo=UTC)
