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

No sheet is rendered in a write transaction (a render takes about half a second, an event may have
a score of actors): the acceptance commits first, then :func:`send_acceptance_briefings` renders
the sheets from the committed data in a read-only transaction and queues them in a short one of
its own (the quote page runs it once its answer has been sent). A sheet that was not sent then (a
failed render, a process that died) is sent by the next daily ``flask offers send-briefings``,
which sends the acceptance sheets still missing on the won events that have not started.
"""

from __future__ import annotations

import logging
import time
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

log = logging.getLogger(__name__)

#: Events whose briefing sheets are sent before the day: the client accepted, not yet delivered.
REMINDED_STATUSES = (EventStatus.WON,)
DEFAULT_DAYS_BEFORE = 7
#: The daily task sends the acceptance sheets still missing of the quotes accepted within these
#: days; an older acceptance's are left alone (the reminder carries the sheet before the event).
MISSED_ACCEPTANCE_DAYS = 30
#: How long the worker that answered the acceptance renders sheets (then leaves the others to the
#: daily task): half of gunicorn's worker timeout (60 s), so that the render under way and the
#: queueing end before the worker could be killed with rendered sheets not queued.
AFTER_ACCEPTANCE_SECONDS = 30


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


def briefing_link(event_id: int) -> str:
    """The portal link of the e-mails (the same for every actor of the event)."""
    from app.auth.views import absolute_url

    return absolute_url("offers.portal_briefing", event_id=event_id)


@dataclass
class PreparedBriefing:
    """One actor's e-mail, PDF rendered, ready to queue (:func:`_queue_briefings`)."""

    organisation_id: int
    recipients: list[str]
    subject: str
    body: str
    filename: str
    pdf: bytes


class RenderSlotsBusy(RuntimeError):
    """No render slot freed within ``PDF_RENDER_WAIT`` seconds for a sheet."""


def _prepare_briefing(
    event: Event, organisation: Organisation, reason: BriefingReason, link: str, wait: float
) -> PreparedBriefing | None:
    """The organisation's e-mail and its rendered PDF (in a render slot), or ``None`` when it
    accepted no lot or has nobody to write to. Reads only: runs in a read-only transaction."""
    from app.render_slots import render_slot

    sheet = briefing(event, organisation)
    recipients = _recipients(organisation)
    if sheet is None or not recipients:
        return None
    with force_locale("fr"):
        body = render_template("email/briefing.txt", sheet=sheet, link=link, reason=reason.value)
        subject = _("Feuille de route — %(title)s", title=event.title)
    with render_slot(wait) as free:
        if not free:
            raise RenderSlotsBusy(f"no render slot for the briefing of organisation {organisation.id}")
        pdf = render_briefing_pdf(sheet)
    return PreparedBriefing(
        organisation_id=organisation.id,
        recipients=recipients,
        subject=subject,
        body=body,
        filename=briefing_filename(sheet),
        pdf=pdf,
    )


def _sent_organisations(event_id: int, reason: BriefingReason) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(BriefingSend.organisation_id).where(
                BriefingSend.event_id == event_id, BriefingSend.reason == reason.value
            )
        )
    )


def briefed_organisations(event: Event) -> list[Organisation]:
    """The organisations with a briefing sheet for ``event``: those that accepted a lot not
    cancelled, by name (case ignored), read from the event's lots and actors as loaded (the event
    page's links to the sheets; sending asks the database the same, :func:`_organisations`)."""
    briefed = {
        a.organisation_id: a.organisation
        for lot in event.lots
        if not lot.is_cancelled
        for a in lot.assignments
        if a.is_accepted
    }
    return sorted(briefed.values(), key=lambda organisation: organisation.name.lower())


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


def _queue_briefings(event_id: int, reason: BriefingReason, prepared: list[PreparedBriefing]) -> int:
    """Queue the prepared e-mails with their ``briefing_sends`` rows, in the current (write)
    transaction, skipping those sent meanwhile: the event's row is locked first (PostgreSQL; SQLite's
    write transaction already excludes every other writer), so two senders of the same event (a
    double click, the daily task) queue each sheet once. Nothing is queued for an event no longer
    won. Returns how many e-mails were queued; the caller commits."""
    from app.errors import DomainError
    from app.mail import queue_message

    status = db.session.scalar(sa.select(Event.status).where(Event.id == event_id).with_for_update())
    if status not in REMINDED_STATUSES:
        return 0
    sent = _sent_organisations(event_id, reason)
    count = 0
    for item in prepared:
        if item.organisation_id in sent:
            continue
        try:
            with db.session.begin_nested():
                queue_message(
                    to=item.recipients,
                    subject=item.subject,
                    body_text=item.body,
                    attachments=[(item.filename, "application/pdf", item.pdf)],
                )
                db.session.add(
                    BriefingSend(
                        event_id=event_id,
                        organisation_id=item.organisation_id,
                        reason=reason.value,
                        recipients=", ".join(item.recipients),
                        sent_at=utcnow(),
                    )
                )
        except DomainError:
            # An address the outbox refuses: this actor's sheet waits (logged), the others go.
            log.exception(
                "briefing of organisation %s for event %s not queued", item.organisation_id, event_id
            )
            continue
        count += 1
    db.session.flush()
    return count


def send_event_briefings(
    event_id: int, reason: BriefingReason, *, link: str | None = None, budget: float | None = None
) -> int:
    """Each actor of the event its own sheet, those not yet sent for ``reason``; returns how many
    e-mails were queued (and committed).

    Called with the session outside a transaction (after the acceptance's commit, or by the daily
    task): the sheets are read and their PDFs rendered in a read-only transaction (never holding
    SQLite's write lock nor the event's row), then queued with their ``briefing_sends`` rows in one
    short write transaction that checks again what was sent meanwhile (:func:`_queue_briefings`).
    A sheet whose render fails, or finds no free render slot, is logged and left out: it is not
    recorded as sent, so the next run of ``flask offers send-briefings`` sends it
    (:func:`send_due_briefings`). ``link``: the portal link, when the caller computed it already
    (after a request, which can no longer build it). ``budget``: seconds after which no further
    sheet is rendered (those left wait for the daily task), so that a web worker is never busy long
    enough to be killed with the rendered sheets not yet queued."""
    from app.db import read_only, write_lock

    deadline = None if budget is None else time.monotonic() + budget
    prepared: list[PreparedBriefing] = []
    with read_only(db.session):
        event = db.session.get(Event, event_id)
        if event is None or event.status not in REMINDED_STATUSES:
            return 0
        link = link or briefing_link(event_id)
        sent = _sent_organisations(event_id, reason)
        for organisation in _organisations(event):
            if organisation.id in sent:
                continue
            wait = current_app.config["PDF_RENDER_WAIT"]
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait < 0:
                    log.warning(
                        "briefings of event %s: out of time, the next `flask offers send-briefings` "
                        "sends the others",
                        event_id,
                    )
                    break
            try:
                item = _prepare_briefing(event, organisation, reason, link, wait)
            except Exception:
                log.exception(
                    "briefing of organisation %s for event %s not rendered: the next "
                    "`flask offers send-briefings` sends it",
                    organisation.id,
                    event_id,
                )
                continue
            if item is not None:
                prepared.append(item)
    if not prepared:
        return 0
    with write_lock(True):
        try:
            count = _queue_briefings(event_id, reason, prepared)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return count


def send_acceptance_briefings(event_id: int, *, link: str | None = None) -> int:
    """Once the client's acceptance is committed: each actor of the event its sheet with the
    confirmation (:func:`send_event_briefings`), rendering for :data:`AFTER_ACCEPTANCE_SECONDS` at
    most."""
    return send_event_briefings(event_id, BriefingReason.ACCEPTED, link=link, budget=AFTER_ACCEPTANCE_SECONDS)


def days_before() -> int:
    return int(current_app.config.get("BRIEFING_DAYS_BEFORE", DEFAULT_DAYS_BEFORE))


def send_due_briefings(today: date | None = None, days: int | None = None) -> int:
    """The daily task; each event's e-mails are committed with it (:func:`send_event_briefings`):

    - the acceptance sheets not sent yet of the won events that have not started, when the client
      accepted within :data:`MISSED_ACCEPTANCE_DAYS` days (a render that failed after the
      acceptance, a process that died before sending them);
    - the reminders of the won events starting within ``days`` days (from today, on the
      coordination's clock), each actor once.

    Returns how many e-mails were queued."""
    from app.db import read_only
    from offers.models import Quote, QuoteStatus

    today = today or local_today()
    days = days_before() if days is None else days
    last = today + timedelta(days=days)
    with read_only(db.session):
        # A bounded window in UTC around the local dates, refined on the local date below.
        won = sa.and_(
            Event.status.in_(REMINDED_STATUSES), Event.starts_at >= _utc_bound(today - timedelta(days=1))
        )
        reminded = db.session.execute(
            sa.select(Event.id, Event.starts_at)
            .where(won, Event.starts_at < _utc_bound(last + timedelta(days=2)))
            .order_by(Event.starts_at, Event.id)
        ).all()
        missed = db.session.execute(
            sa.select(Event.id, Event.starts_at)
            .where(
                won,
                sa.exists().where(
                    Quote.event_id == Event.id,
                    Quote.status == QuoteStatus.ACCEPTED,
                    Quote.answered_at >= utcnow() - timedelta(days=MISSED_ACCEPTANCE_DAYS),
                ),
                sa.exists()
                .where(
                    Lot.event_id == Event.id,
                    Lot.status != LotStatus.CANCELLED,
                    Assignment.lot_id == Lot.id,
                    Assignment.status == AssignmentStatus.ACCEPTED,
                )
                .where(
                    ~sa.exists().where(
                        BriefingSend.event_id == Event.id,
                        BriefingSend.organisation_id == Assignment.organisation_id,
                        BriefingSend.reason == BriefingReason.ACCEPTED.value,
                    )
                ),
            )
            .order_by(Event.starts_at, Event.id)
        ).all()
    count = 0
    for event_id, starts_at in missed:
        if to_local(starts_at).date() >= today:
            count += send_event_briefings(event_id, BriefingReason.ACCEPTED)
    for event_id, starts_at in reminded:
        if today <= to_local(starts_at).date() <= last:
            count += send_event_briefings(event_id, BriefingReason.REMINDER)
    return count


def _utc_bound(day: date):
    from datetime import UTC, datetime

    return datetime(day.year, day.month, day.day, tzinfo=UTC)
