"""Assignments from the coordination's side: put actors on a lot, invite them, remind them, withdraw
an actor who accepted, remove one never invited; tell the coordination when an actor declines.

The statuses move only through :data:`offers.models.ASSIGNMENT_STATES`
(proposed → invited → accepted | declined; accepted → withdrawn); the first invitation of a draft
event opens its consultation. Invitations and reminders are
one-shot conditional updates (``… WHERE status = 'proposed'``, ``… WHERE last_reminded_at`` is old
enough) so that two clicks never send two e-mails. Every change gets an audit entry with its event.

An invitation is one e-mail per active actor user of the organisation, through the outbox, each
carrying a fresh magic link whose next page is the portal page of the assignment
(``offers.portal_assignment``).

Explicit arguments, ``flush()`` never commit, French :class:`app.errors.DomainError` messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, has_request_context, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from app.audit import N_, as_label, record
from app.dates import short_local
from app.db import utcnow
from app.errors import Conflict, DomainError, InvalidTransition
from app.extensions import db
from app.labels import label
from app.mail import queue_message
from app.models import Organisation, OutboxMessage, Role, User
from offers.models import (
    ASSIGNMENT_STATES,
    EVENT_STATES,
    FROZEN_EVENT_STATUSES,
    Assignment,
    AssignmentRole,
    AssignmentStatus,
    Event,
    EventStatus,
    Lot,
    LotStatus,
)
from offers.services.events import (
    answer_deadline,
    require_editor,
    require_not_frozen,
)
from offers.services.lines import lines_locked

logger = logging.getLogger(__name__)

#: A second reminder waits this long after the previous one.
REMINDER_INTERVAL = timedelta(hours=24)
#: Events whose invitations no longer wait for an answer.
CLOSED_EVENT_STATUSES = FROZEN_EVENT_STATUSES | {EventStatus.LOST}


class DuplicateAssignment(Conflict):
    """The organisation is already on the lot (one assignment per lot and organisation)."""


class NoActorAccount(DomainError):
    """The organisation has no active actor user to receive the invitation."""

    status_code = 409

    def __init__(self, message: str, organisation: Organisation):
        super().__init__(message)
        self.organisation = organisation


class ReminderTooSoon(DomainError):
    """A reminder was sent less than 24 hours ago."""

    status_code = 409


class LotClosed(DomainError):
    """The lot is cancelled: nobody is put on it, invited or reminded."""

    status_code = 409


# --- helpers -------------------------------------------------------------------------------------


def _require_lot_open(lot: Lot) -> None:
    require_not_frozen(lot.event)
    if not lot.is_open:
        raise LotClosed(_("Le lot « %(lot)s » est annulé : rouvrez-le d'abord.", lot=lot.title))


def _require_answerable(lot: Lot, now: datetime) -> None:
    """Invitations and reminders make sense only while the actor can still answer."""
    _require_lot_open(lot)
    if lines_locked(lot.event):
        raise LotClosed(
            _(
                "Le devis de cet événement a été envoyé : les acteurs ne peuvent plus répondre. "
                "Préparez d'abord une nouvelle version du devis."
            )
        )
    deadline = answer_deadline(lot, lot.event)
    if deadline is not None and deadline < now:
        raise LotClosed(
            _(
                "Le délai de réponse du lot « %(lot)s » est dépassé (%(deadline)s) : "
                "reportez-le (modifier le lot) avant d'inviter ou de relancer.",
                lot=lot.title,
                deadline=short_local(deadline),
            )
        )


def _role(value) -> AssignmentRole:
    try:
        return AssignmentRole(value)
    except ValueError as exc:
        raise DomainError(_("Rôle inconnu : %(role)s.", role=value)) from exc


def actor_users(organisation_id: int) -> list[User]:
    """The organisation's active actor users, in creation order."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.organisation_id == organisation_id, User.role == Role.ACTOR, User.active.is_(True))
            .order_by(User.id)
        )
    )


def organisations_with_accounts(organisation_ids) -> set[int]:
    """Of ``organisation_ids``, those with at least one active actor user (one query)."""
    ids = set(organisation_ids)
    if not ids:
        return set()
    return set(db.session.scalars(_with_accounts_statement(), {"organisation_ids": sorted(ids)}))


def _is_actor_account():
    """A user who can answer for its organisation: an active actor."""
    return sa.and_(User.role == Role.ACTOR, User.active.is_(True))


def has_account_sql(organisation_id) -> sa.Exists:
    """Whether the organisation whose id is ``organisation_id`` (a column) has an active actor user,
    in SQL: a page may read it with its actors (:func:`organisations_with_accounts`' rule)."""
    return sa.exists().where(User.organisation_id == organisation_id, _is_actor_account())


@cache
def _with_accounts_statement() -> sa.Select:
    """:func:`organisations_with_accounts`'s statement, built once."""
    return (
        sa.select(User.organisation_id)
        .where(
            User.organisation_id.in_(sa.bindparam("organisation_ids", expanding=True)), _is_actor_account()
        )
        .distinct()
    )


def portal_path(assignment: Assignment) -> str:
    """The path of the assignment's portal page (the magic link's next page)."""
    if has_request_context():
        return url_for("offers.portal_assignment", assignment_id=assignment.id)
    from app.auth.views import absolute_url

    if not current_app.config.get("PUBLIC_BASE_URL"):
        with current_app.test_request_context():
            return url_for("offers.portal_assignment", assignment_id=assignment.id)
    return urlsplit(absolute_url("offers.portal_assignment", assignment_id=assignment.id)).path


def _absolute(endpoint: str, **values) -> str:
    from app.auth.views import absolute_url

    return absolute_url(endpoint, **values)


# --- putting actors on a lot ---------------------------------------------------------------------


def add_assignment(lot: Lot, organisation_id: int, role, user) -> Assignment:
    """Put an active organisation on ``lot`` with ``role``, as *proposed* (not invited yet).

    Raises :class:`Forbidden` (not coordination), :class:`EventFrozen`, :class:`LotClosed`,
    :class:`DomainError` (unknown or inactive organisation, unknown role) and
    :class:`DuplicateAssignment` (already on the lot, whatever its answer).
    """
    require_editor(user, lot.event)
    _require_lot_open(lot)
    role = _role(role)
    organisation = db.session.get(Organisation, organisation_id) if organisation_id else None
    if organisation is None:
        raise DomainError(_("Choisissez un acteur de l'annuaire."))
    if not organisation.active:
        raise DomainError(
            _("« %(actor)s » est inactif : réactivez sa fiche avant de le proposer.", actor=organisation.name)
        )
    existing = db.session.scalar(
        sa.select(Assignment).where(
            Assignment.lot_id == lot.id, Assignment.organisation_id == organisation.id
        )
    )
    if existing is not None:
        raise DuplicateAssignment(_duplicate_message(organisation, lot, existing))
    # Built from ids, not relationships: a backref append into an already loaded ``lot.assignments``
    # would be flushed by ``begin_nested()`` before the object is in the session.
    assignment = Assignment(
        lot_id=lot.id,
        organisation_id=organisation.id,
        role=role,
        status=AssignmentStatus.PROPOSED,
        created_at=utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(assignment)
            db.session.flush()
        db.session.expire(lot, ["assignments"])
    except IntegrityError as exc:  # another coordinator added it at the same instant
        existing = db.session.scalar(
            sa.select(Assignment).where(
                Assignment.lot_id == lot.id, Assignment.organisation_id == organisation.id
            )
        )
        raise DuplicateAssignment(_duplicate_message(organisation, lot, existing)) from exc
    record(
        "assignment.proposed",
        assignment,
        user=user,
        summary=N_(
            "%(actor)s proposé sur le lot « %(lot)s » (%(role)s)",
            actor=organisation.name,
            lot=lot.title,
            role=as_label(role),
        ),
        changes={"status": (None, AssignmentStatus.PROPOSED), "role": (None, role)},
        event_id=lot.event_id,
    )
    return assignment


def _duplicate_message(organisation: Organisation, lot: Lot, existing: Assignment | None) -> str:
    status = label(existing.status).lower() if existing is not None else label(AssignmentStatus.PROPOSED)
    return _(
        "« %(actor)s » est déjà sur le lot « %(lot)s » (%(status)s) : un acteur n'y figure qu'une fois.",
        actor=organisation.name,
        lot=lot.title,
        status=status,
    )


def add_assignments(lot: Lot, picks: list[tuple[int, object]], user) -> list[Assignment]:
    """Several ``(organisation_id, role)`` at once, all or nothing (same errors as
    :func:`add_assignment`; the first refusal stops everything — the caller rolls back)."""
    if not picks:
        raise DomainError(_("Choisissez au moins un acteur."))
    seen: set[int] = set()
    created = []
    for organisation_id, role in picks:
        if organisation_id in seen:
            continue
        seen.add(organisation_id)
        created.append(add_assignment(lot, organisation_id, role, user))
    return created


# --- invitations ---------------------------------------------------------------------------------


@dataclass
class Invitation:
    assignment: Assignment
    recipients: list[str] = field(default_factory=list)
    #: The actor account created for the organisation's e-mail, if one was.
    created_user: User | None = None


def _send(assignment: Assignment, users: list[User], template: str, subject: str) -> list[str]:
    from app.auth.views import send_login_link

    lot = assignment.lot
    event = lot.event
    next_path = portal_path(assignment)
    sent = []
    for person in users:
        intro = render_template(
            template,
            assignment=assignment,
            lot=lot,
            event=event,
            person=person,
            deadline=answer_deadline(lot, event),
            renew_url=_absolute("auth.magic_link_request"),
        ).strip()
        send_login_link(person, next_path=next_path, subject=subject, intro=intro)
        sent.append(person.email)
    return sent


def _create_account(organisation: Organisation, user) -> User:
    from app.auth.services import create_user

    if not organisation.email:
        raise DomainError(
            _(
                "La fiche de « %(actor)s » n'a pas d'adresse e-mail : ajoutez-la avant de lui créer un compte.",
                actor=organisation.name,
            )
        )
    return create_user(
        email=organisation.email,
        role=Role.ACTOR,
        name=organisation.contact_name or organisation.name,
        password=None,
        organisation=organisation,
        by=user,
    )


def invite(
    assignment: Assignment, user, *, create_account: bool = False, now: datetime | None = None
) -> Invitation:
    """Invite a proposed actor: status *invited*, ``invited_at`` set, one e-mail with a magic link to
    each of the organisation's active actor users. With ``create_account``, an organisation without
    any gets an actor user for its card's e-mail first.

    Raises :class:`Forbidden`, :class:`EventFrozen`, :class:`LotClosed` (cancelled lot, quote sent,
    deadline passed), :class:`InvalidTransition` (not proposed — already invited, perhaps a moment
    ago), :class:`NoActorAccount` (nobody to write to) and :class:`DomainError` (no e-mail on the
    card, the address already has an account).
    """
    lot = assignment.lot
    require_editor(user, lot.event)
    now = now or utcnow()
    organisation = assignment.organisation
    if not assignment.can_be_invited:
        raise InvalidTransition(
            _(
                "« %(actor)s » est « %(status)s » sur ce lot : on n'invite qu'un acteur proposé.",
                actor=organisation.name,
                status=label(assignment.status),
            )
        )
    _require_answerable(lot, now)
    users = actor_users(organisation.id)
    created = None
    if not users:
        if not create_account:
            raise NoActorAccount(
                _(
                    "« %(actor)s » n'a pas encore de compte acteur : l'invitation n'est pas partie. "
                    "Créez-lui un compte depuis le lot pour l'inviter.",
                    actor=organisation.name,
                ),
                organisation,
            )
        created = _create_account(organisation, user)
        users = [created]
    ASSIGNMENT_STATES.move(
        assignment,
        AssignmentStatus.INVITED,
        user=user,
        values={"invited_at": now},
        changes={"invited_at": (None, now)},
        one_shot=True,
        stale=lambda fresh: InvalidTransition(
            _(
                "« %(actor)s » vient d'être invité (ou retiré) par quelqu'un d'autre : rechargez la page.",
                actor=organisation.name,
            )
        ),
        summary=N_(
            "%(actor)s invité sur le lot « %(lot)s » (destinataires : %(num)s)",
            num=len(users),
            actor=organisation.name,
            lot=lot.title,
        ),
    )
    event = lot.event
    if event.status == EventStatus.DRAFT:
        # The first invitation opens the consultation.
        EVENT_STATES.move(event, EventStatus.CONSULTING, user=user)
    subject = _("Invitation : lot « %(lot)s » — %(event)s", lot=lot.title, event=event.title)
    recipients = _send(assignment, users, "email/invitation.txt", subject)
    return Invitation(assignment, recipients, created)


@dataclass
class InviteAll:
    invited: list[Invitation] = field(default_factory=list)
    #: Proposed assignments left as they were: their organisation has no actor account (and none
    #: was asked for, or its card has no e-mail to create one).
    without_account: list[Assignment] = field(default_factory=list)

    @property
    def created_users(self) -> list[User]:
        """The actor accounts created on the way (``create_accounts``)."""
        return [i.created_user for i in self.invited if i.created_user is not None]


def invitable(lots) -> list[Assignment]:
    """The proposed actors of the open lots among ``lots`` (an event's, in its order): whom the
    event page's "invite all" button invites (:func:`invite_all`), and how many it says."""
    return [a for lot in lots if lot.is_open for a in lot.assignments if a.can_be_invited]


def invite_all(assignments, user, *, create_accounts: bool = False, now: datetime | None = None) -> InviteAll:
    """Invite every *proposed* assignment of ``assignments`` (a lot's, an event's). An organisation
    without an actor account gets one for its card's e-mail when ``create_accounts`` is set (as
    :func:`invite` with ``create_account``); otherwise, or when its card has no e-mail, it is left
    proposed and listed. Others are ignored.

    Raises what :func:`invite` raises, but :class:`NoActorAccount`; :class:`DomainError` when there
    is nobody to invite.
    """
    now = now or utcnow()
    proposed = [a for a in assignments if a.can_be_invited]
    if not proposed:
        raise DomainError(_("Aucun acteur proposé à inviter."))
    result = InviteAll()
    for assignment in proposed:
        create = create_accounts and bool(assignment.organisation.email)
        try:
            result.invited.append(invite(assignment, user, create_account=create, now=now))
        except NoActorAccount:
            result.without_account.append(assignment)
    return result


def remind(assignment: Assignment, user, *, now: datetime | None = None) -> list[str]:
    """Send a reminder (a fresh magic link) to an invited actor's users; at most one per 24 hours.
    Returns the addresses written to.

    Raises :class:`Forbidden`, :class:`EventFrozen`, :class:`LotClosed`, :class:`InvalidTransition`
    (not invited: answered, withdrawn, never invited), :class:`ReminderTooSoon` and
    :class:`NoActorAccount`.
    """
    lot = assignment.lot
    require_editor(user, lot.event)
    now = now or utcnow()
    organisation = assignment.organisation
    if assignment.status != AssignmentStatus.INVITED:
        raise InvalidTransition(
            _(
                "« %(actor)s » est « %(status)s » sur ce lot : on ne relance qu'une invitation sans réponse.",
                actor=organisation.name,
                status=label(assignment.status),
            )
        )
    _check_reminder_interval(assignment, now)
    _require_answerable(lot, now)
    users = actor_users(organisation.id)
    if not users:
        raise NoActorAccount(
            _(
                "« %(actor)s » n'a plus de compte acteur actif : la relance n'est pas partie.",
                actor=organisation.name,
            ),
            organisation,
        )
    before = assignment.last_reminded_at
    result = db.session.execute(
        sa.update(Assignment)
        .where(
            Assignment.id == assignment.id,
            Assignment.status == AssignmentStatus.INVITED,
            sa.or_(
                Assignment.last_reminded_at.is_(None), Assignment.last_reminded_at <= now - REMINDER_INTERVAL
            ),
        )
        .values(last_reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(assignment)
    if result.rowcount != 1:
        _check_reminder_interval(assignment, now)
        raise InvalidTransition(
            _("« %(actor)s » a répondu entre-temps : rechargez la page.", actor=organisation.name)
        )
    subject = _("Relance : lot « %(lot)s » — %(event)s", lot=lot.title, event=lot.event.title)
    recipients = _send(assignment, users, "email/reminder.txt", subject)
    record(
        "assignment.reminded",
        assignment,
        user=user,
        summary=N_("%(actor)s relancé pour le lot « %(lot)s »", actor=organisation.name, lot=lot.title),
        changes={"last_reminded_at": (before, now)},
        event_id=lot.event_id,
    )
    return recipients


def _check_reminder_interval(assignment: Assignment, now: datetime) -> None:
    last = assignment.last_reminded_at
    if last is not None and now - last < REMINDER_INTERVAL:
        raise ReminderTooSoon(
            _(
                "Une relance a déjà été envoyée le %(last)s : attendez 24 heures entre deux relances "
                "(prochaine possible le %(next)s).",
                last=short_local(last),
                next=short_local(last + REMINDER_INTERVAL),
            )
        )


# --- withdrawing, removing -----------------------------------------------------------------------


def withdraw(assignment: Assignment, user, *, now: datetime | None = None) -> Assignment:
    """Withdraw an actor who accepted: *accepted → withdrawn*; the lot then needs someone.
    Its lines stay on the lot (shown as "n'a pas accepté ce lot") for the coordinator to settle.

    Raises :class:`Forbidden`, :class:`EventFrozen` and :class:`InvalidTransition` (not accepted).
    """
    lot = assignment.lot
    require_editor(user, lot.event)
    require_not_frozen(lot.event)
    if not assignment.can_be_withdrawn:
        raise InvalidTransition(
            _(
                "« %(actor)s » est « %(status)s » : seul un acteur qui a accepté peut être retiré.",
                actor=assignment.organisation.name,
                status=label(assignment.status),
            )
        )
    now = now or utcnow()
    return ASSIGNMENT_STATES.move(
        assignment,
        AssignmentStatus.WITHDRAWN,
        user=user,
        values={"withdrawn_at": now},
        summary=N_("%(actor)s retiré du lot « %(lot)s »", actor=assignment.organisation.name, lot=lot.title),
    )


def remove(assignment: Assignment, user) -> None:
    """Delete a *proposed* assignment that was never invited (the coordinator changed their mind).

    Raises :class:`Forbidden`, :class:`EventFrozen` and :class:`InvalidTransition` (invited or
    answered: it stays, for the record; withdraw an accepted actor instead).
    """
    lot = assignment.lot
    require_editor(user, lot.event)
    require_not_frozen(lot.event)
    organisation = assignment.organisation
    if not assignment.can_be_removed:
        raise InvalidTransition(
            _(
                "« %(actor)s » est « %(status)s » : seul un acteur proposé, jamais invité, "
                "se supprime de la liste (un acteur qui a accepté se retire).",
                actor=organisation.name,
                status=label(assignment.status),
            )
        )
    record(
        "assignment.removed",
        assignment,
        user=user,
        summary=N_(
            "%(actor)s enlevé des acteurs proposés du lot « %(lot)s »", actor=organisation.name, lot=lot.title
        ),
        changes={"status": (AssignmentStatus.PROPOSED, None), "role": (assignment.role, None)},
        event_id=lot.event_id,
    )
    lot.assignments.remove(assignment)
    db.session.delete(assignment)
    db.session.flush()


# --- a decline -----------------------------------------------------------------------------------


def coordinators() -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User).where(User.role == Role.COORDINATOR, User.active.is_(True)).order_by(User.id)
        )
    )


def notify_decline(assignment: Assignment) -> OutboxMessage | None:
    """Tell the coordination (active coordinators) that an actor declined: one e-mail through the
    outbox with the actor, the lot, its comment and links to the event page and the suggestions.
    Returns the message, or ``None`` when there is no coordinator to write to. Raises nothing of
    its own (an address refused by the outbox raises its :class:`DomainError`)."""
    recipients = [user.email for user in coordinators()]
    lot = assignment.lot
    event = lot.event
    if not recipients:
        logger.warning("Decline of assignment %s: no active coordinator to notify.", assignment.id)
        return None
    body = render_template(
        "email/decline_notice.txt",
        assignment=assignment,
        organisation=assignment.organisation,
        lot=lot,
        event=event,
        lot_url=_absolute("offers.lot_detail", lot_id=lot.id),
        matching_url=_absolute("offers.lot_matching", lot_id=lot.id),
    )
    return queue_message(
        to=recipients,
        subject=_(
            "%(actor)s décline le lot « %(lot)s » — %(event)s",
            actor=assignment.organisation.name,
            lot=lot.title,
            event=event.title,
        ),
        body_text=body,
    )


# --- who has not answered ------------------------------------------------------------------------


@dataclass
class PendingAnswer:
    assignment: Assignment
    lot: Lot
    event: Event
    invited_at: datetime | None
    #: Whole days since the invitation.
    days_waiting: int
    deadline: datetime | None
    late: bool
    #: When the next reminder may be sent (``None``: now).
    next_reminder_at: datetime | None


def pending_answers(event_id: int | None = None, now: datetime | None = None) -> list[PendingAnswer]:
    """Invitations without an answer on open lots of live events (one query), the most urgent first:
    by deadline (none last), then by invitation date."""
    now = now or utcnow()
    stmt = (
        sa.select(Assignment)
        .join(Assignment.lot)
        .join(Lot.event)
        .where(
            Assignment.status == AssignmentStatus.INVITED,
            Lot.status == LotStatus.OPEN,
            Event.status.not_in(CLOSED_EVENT_STATUSES),
        )
        .options(contains_eager(Assignment.lot).contains_eager(Lot.event))
    )
    if event_id is not None:
        stmt = stmt.where(Lot.event_id == event_id)
    rows = []
    for assignment in db.session.scalars(stmt):
        lot = assignment.lot
        event = lot.event
        deadline = answer_deadline(lot, event)
        invited_at = assignment.invited_at
        last = assignment.last_reminded_at
        rows.append(
            PendingAnswer(
                assignment=assignment,
                lot=lot,
                event=event,
                invited_at=invited_at,
                days_waiting=max((now - invited_at).days, 0) if invited_at else 0,
                deadline=deadline,
                late=deadline is not None and deadline < now,
                next_reminder_at=last + REMINDER_INTERVAL
                if last is not None and now - last < REMINDER_INTERVAL
                else None,
            )
        )
    far = datetime.max.replace(tzinfo=now.tzinfo)
    rows.sort(
        key=lambda r: (
            r.deadline is None,
            r.deadline or far,
            r.invited_at or far,
            r.event.id,
            r.lot.position,
            r.assignment.id,
        )
    )
    return rows
