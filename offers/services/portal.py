"""The actor portal: what an actor sees of its invitations and lots, and its one-shot answer.

An actor sees only its own organisation's assignments, once invited (a proposed assignment is the
coordinator's draft). It answers an invitation once, before the deadline and before the quote is
sent; the answer is a conditional ``UPDATE … WHERE status = 'invited'`` whose row count tells a
second answer (two tabs, two colleagues) from the first (docs/architecture.md, "Concurrent edits").

Explicit arguments, ``flush()`` never commit, French :class:`app.errors.DomainError` messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import contains_eager, lazyload, load_only

from app.audit import N_, Message
from app.dates import short_local
from app.db import LineNet, sum_money, utcnow
from app.errors import Conflict, DomainError, Forbidden, InvalidTransition
from app.extensions import db
from app.labels import label
from app.models import User
from app.money import ZERO, line_net
from offers.models import (
    ASSIGNMENT_STATES,
    Assignment,
    AssignmentStatus,
    Event,
    Line,
    Lot,
    LotStatus,
)
from offers.permissions import VISIBLE_STATUSES, can_answer_assignment
from offers.services.events import answer_deadline
from offers.services.lines import lines_locked, locked_event_ids

MAX_COMMENT = 2000


class AlreadyAnswered(Conflict):
    """The invitation was answered already (perhaps a moment ago, from another tab)."""


class AnswerClosed(DomainError):
    """Answers are no longer taken: deadline passed, quote sent, lot or event cancelled."""

    status_code = 409


# --- what the actor sees -------------------------------------------------------------------------


def own_lines(assignment: Assignment) -> list[Line]:
    """The assignment's organisation's lines on its lot (never another actor's)."""
    return [line for line in assignment.lot.lines if line.organisation_id == assignment.organisation_id]


def own_net(assignment: Assignment) -> Decimal:
    return sum((line_net(line.quantity, line.unit_price) for line in own_lines(assignment)), ZERO)


@dataclass
class PortalEntry:
    """One row of the actor's list: an assignment with what the page shows about it."""

    assignment: Assignment
    #: How many lines the organisation has on the lot, and their net (each line's rounded first).
    line_count: int = 0
    net: Decimal = ZERO
    deadline: datetime | None = None
    #: The deadline passed while the invitation is unanswered.
    late: bool = False
    #: A quote of the event was sent: no more answers, lines frozen.
    locked: bool = False


#: Invitations shown at once (the most urgent first); past answers are paginated.
TO_ANSWER_SHOWN = 50
PER_PAGE = 20


@dataclass
class PortalList:
    to_answer: list[PortalEntry] = field(default_factory=list)
    accepted: list[PortalEntry] = field(default_factory=list)
    past: list[PortalEntry] = field(default_factory=list)
    #: How many invitations wait for an answer, how many lots were accepted (all pages).
    to_answer_count: int = 0
    accepted_count: int = 0
    #: The page of accepted lots and past answers (``flask_sqlalchemy`` pagination), ``None``
    #: without an organisation.
    page: object | None = None


@cache
def _listed():
    """Assignments with their lot and event, read with what the list shows of them and nothing
    else (the list shows neither the lot's category, nor the event's client, nor the organisation,
    which is the actor's own). Built once: a select is immutable, and its loader options cost more
    to build than the list's rows to read."""
    lot = contains_eager(Assignment.lot)
    return (
        sa.select(Assignment)
        .join(Assignment.lot)
        .join(Lot.event)
        .options(
            load_only(Assignment.lot_id, Assignment.organisation_id, Assignment.status),
            lazyload(Assignment.organisation),
            lot.load_only(
                Lot.event_id,
                Lot.title,
                Lot.place,
                Lot.starts_at,
                Lot.ends_at,
                Lot.response_deadline,
                Lot.position,
                Lot.status,
            ),
            lot.lazyload(Lot.category),
            lot.contains_eager(Lot.event).load_only(
                Event.title, Event.venue, Event.starts_at, Event.status, Event.response_deadline
            ),
            lot.contains_eager(Lot.event).lazyload(Event.client),
        )
    )


#: Answered (or withdrawn by the coordination): the paginated part of the list.
ANSWERED_STATUSES = tuple(s for s in VISIBLE_STATUSES if s != AssignmentStatus.INVITED)


#: The order of accepted lots and past answers: newest event first, then the event's lots in order.
#: The event's start is the assignment's copy of it (``offers.services.event_starts``): the
#: database walks the index ``(organisation_id, event_starts_at)`` backwards and sorts only the
#: rows of the page's events by the rest.
ANSWERED_ORDER = (Assignment.event_starts_at.desc(), Lot.event_id, Lot.position, Assignment.id)


@dataclass(frozen=True)
class _Statements:
    """The list's statements, built once with the organisation (and the page) as parameters:
    building them cost more than running them."""

    counts: sa.Select
    invited: sa.Select
    page: sa.Select
    lines: sa.Select


def _written(value, column):
    """``value`` written in a statement's text (``literal_execute``), not sent as a parameter."""
    return sa.literal(value, column.type, literal_execute=True)


@cache
def _statements() -> _Statements:
    organisation = sa.bindparam("organisation_id", type_=sa.Integer)
    own = Assignment.organisation_id == organisation
    # The invitations' and the page's statements carry the organisation and the statuses in their
    # text: with no parameter left, PostgreSQL plans each once per connection and organisation
    # (psycopg prepares a statement run five times). With parameters, it planned them again at
    # every view (about 0.3 and 0.5 ms, more than it took to run them), never judging a generic
    # plan good enough. The organisation's id is the logged-in user's, an integer.
    written_own = Assignment.organisation_id == sa.bindparam(
        "organisation_id", type_=sa.Integer, literal_execute=True
    )
    deadline = sa.func.coalesce(Lot.response_deadline, Event.response_deadline)
    # The page's ids are picked by a select of the sort keys alone: the organisation's assignments
    # in the order of their event's start (an index), each with its lot's event and position, until
    # the page is full; the page's rows are then read by their ids alone (a filter on the
    # organisation there too would let the planner scan its whole history again instead of
    # reading 20 rows by key).
    page_ids = (
        sa.select(Assignment.id)
        .join(Assignment.lot)
        .where(
            written_own, Assignment.status.in_([_written(s, Assignment.status) for s in ANSWERED_STATUSES])
        )
        .order_by(*ANSWERED_ORDER)
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .offset(sa.bindparam("offset", type_=sa.Integer))
    )
    return _Statements(
        counts=sa.select(Assignment.status, sa.func.count())
        .where(own, Assignment.status.in_(VISIBLE_STATUSES))
        .group_by(Assignment.status),
        invited=_listed()
        .where(written_own, Assignment.status == _written(AssignmentStatus.INVITED, Assignment.status))
        .order_by(deadline.is_(None), deadline, Assignment.id)
        .limit(TO_ANSWER_SHOWN),
        page=_listed().where(Assignment.id.in_(page_ids.scalar_subquery())).order_by(*ANSWERED_ORDER),
        # The page shows how many lines and their net, not the lines: counted and summed in SQL.
        lines=sa.select(Line.lot_id, sa.func.count(), sum_money(LineNet(Line.quantity, Line.unit_price)))
        .where(Line.organisation_id == organisation, Line.lot_id.in_(sa.bindparam("lot_ids", expanding=True)))
        .group_by(Line.lot_id),
    )


class AnsweredPage(Pagination):
    """One page of the accepted lots and past answers (``flask_sqlalchemy`` pagination), newest
    event first. The total comes from the status counts the list reads anyway: no count query."""

    def _query_items(self) -> list[Assignment]:
        return list(
            db.session.scalars(
                _statements().page,
                {
                    "organisation_id": self._query_args["organisation_id"],
                    "limit": self.per_page,
                    "offset": self._query_offset,
                },
            )
        )

    def _query_count(self) -> int:
        return self._query_args["total"]


def portal_list(organisation_id: int | None, now: datetime | None = None, page: int = 1) -> PortalList:
    """The organisation's visible assignments: the invitations to answer (the most urgent
    :data:`TO_ANSWER_SHOWN`), then one page of accepted lots and past answers, newest event first.

    A constant number of queries whatever the organisation's history: the counts (which give the
    page's total too), the invitations, the page, the organisation's own lines on those lots (never
    another actor's), the events whose quote was sent."""
    result = PortalList()
    if organisation_id is None:
        return result
    now = now or utcnow()
    statements, organisation = _statements(), {"organisation_id": organisation_id}
    counts = dict(db.session.execute(statements.counts, organisation).all())
    result.to_answer_count = counts.get(AssignmentStatus.INVITED, 0)
    result.accepted_count = counts.get(AssignmentStatus.ACCEPTED, 0)
    invited = db.session.scalars(statements.invited, organisation).all()
    result.page = AnsweredPage(
        page=page,
        per_page=PER_PAGE,
        error_out=False,
        organisation_id=organisation_id,
        total=sum(counts.get(status, 0) for status in ANSWERED_STATUSES),
    )
    answered = list(result.page.items)
    assignments = invited + answered
    lines: dict[int, tuple[int, Decimal]] = {}
    if assignments:
        for lot_id, count, net in db.session.execute(
            statements.lines, {**organisation, "lot_ids": sorted({a.lot_id for a in assignments})}
        ):
            lines[lot_id] = (count, net)
    locked = locked_event_ids(a.lot.event_id for a in assignments)
    for assignment in assignments:
        lot = assignment.lot
        line_count, net = lines.get(lot.id, (0, ZERO))
        deadline_at = answer_deadline(lot, lot.event)
        entry = PortalEntry(
            assignment=assignment,
            line_count=line_count,
            net=net,
            deadline=deadline_at,
            late=assignment.status == AssignmentStatus.INVITED
            and deadline_at is not None
            and deadline_at < now,
            locked=lot.event_id in locked,
        )
        if assignment.status == AssignmentStatus.INVITED:
            result.to_answer.append(entry)
        elif assignment.status == AssignmentStatus.ACCEPTED:
            result.accepted.append(entry)
        else:
            result.past.append(entry)
    return result


def answer_refusal(assignment: Assignment, now: datetime) -> str | None:
    """Why the invitation cannot be answered now (``None`` when it can). Checked in this order:
    already answered, not invited, cancelled lot or event, quote sent, deadline passed."""
    lot = assignment.lot
    event = lot.event
    if assignment.status in (
        AssignmentStatus.ACCEPTED,
        AssignmentStatus.DECLINED,
        AssignmentStatus.WITHDRAWN,
    ):
        return _(
            "Vous avez déjà répondu à cette invitation (%(status)s) : votre réponse n'a pas été modifiée.",
            status=label(assignment.status).lower(),
        )
    if assignment.status != AssignmentStatus.INVITED:
        return _("Vous n'êtes pas encore invité sur ce lot.")
    if lot.status == LotStatus.CANCELLED:
        return _("Ce lot a été annulé par la coordination : il n'attend plus de réponse.")
    if event.is_frozen:
        return _("L'événement est « %(status)s » : il n'attend plus de réponse.", status=label(event.status))
    if lines_locked(event):
        return _(
            "Le devis a déjà été envoyé au client : il n'est plus possible de répondre. "
            "Contactez la coordination."
        )
    deadline = answer_deadline(lot, event)
    if deadline is not None and deadline < now:
        return _(
            "Le délai de réponse est dépassé (%(deadline)s) : contactez la coordination.",
            deadline=short_local(deadline),
        )
    return None


# --- the answer ----------------------------------------------------------------------------------


def _answer_message(accept: bool, actor: str, lot: str, comment: str | None) -> Message:
    """The history's sentence of an answer, with the actor's comment when there is one."""
    if comment:
        if accept:
            return N_(
                "%(actor)s accepte le lot « %(lot)s » — « %(comment)s »",
                actor=actor,
                lot=lot,
                comment=comment[:300],
            )
        return N_(
            "%(actor)s décline le lot « %(lot)s » — « %(comment)s »",
            actor=actor,
            lot=lot,
            comment=comment[:300],
        )
    if accept:
        return N_("%(actor)s accepte le lot « %(lot)s »", actor=actor, lot=lot)
    return N_("%(actor)s décline le lot « %(lot)s »", actor=actor, lot=lot)


def answer_assignment(
    assignment: Assignment, user: User, *, accept: bool, comment: str = "", now: datetime | None = None
) -> Assignment:
    """Accept or decline an invitation, once.

    The status moves through :data:`ASSIGNMENT_STATES` with a conditional update on
    ``status = 'invited'``; on a decline the coordination is told
    (``offers.services.assignments.notify_decline``).

    Raises :class:`Forbidden` (not a person of the invited organisation), :class:`AlreadyAnswered`
    (answered before, even a moment ago elsewhere), :class:`InvalidTransition` (not invited yet),
    :class:`AnswerClosed` (deadline passed, quote sent, lot or event cancelled) and
    :class:`DomainError` (comment too long).
    """
    if not can_answer_assignment(user, assignment):
        raise Forbidden(_("Seule l'organisation invitée répond à cette invitation."))
    now = now or utcnow()
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise DomainError(_("Le commentaire a au plus 2 000 caractères."))
    refusal = answer_refusal(assignment, now)
    if refusal is not None:
        if assignment.status != AssignmentStatus.INVITED:
            if assignment.status == AssignmentStatus.PROPOSED:
                raise InvalidTransition(refusal)
            raise AlreadyAnswered(refusal)
        raise AnswerClosed(refusal)
    target = AssignmentStatus.ACCEPTED if accept else AssignmentStatus.DECLINED
    lot = assignment.lot
    organisation = assignment.organisation
    ASSIGNMENT_STATES.move(
        assignment,
        target,
        user=user,
        values={"answered_at": now, "comment": comment},
        one_shot=True,
        stale=lambda fresh: AlreadyAnswered(
            _(
                "Vous avez déjà répondu à cette invitation (%(status)s) : votre réponse n'a pas été modifiée.",
                status=label(fresh.status).lower(),
            )
        ),
        summary=_answer_message(accept, organisation.name, lot.title, comment),
    )
    if not accept:
        from offers.services.assignments import notify_decline

        notify_decline(assignment)
    return assignment
