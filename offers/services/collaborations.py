"""First-time collaborations, kept up to date in ``collaborations``: each pair of actors who ever
worked on the same event, with the first such event.

An actor *worked on* an event when a line of the event's accepted quote is theirs (a line, not the
coordination fee) and the event is not cancelled. A pair's first event is the earliest of the
events both worked on, by start, then by id.

Three things change who worked on what and when: a quote accepted, an event cancelled, an event's
start moved. Each refreshes the pairs of its event (:func:`refresh`) in its own transaction: the
quote and event state machines after their move (``after_move``), ``update_event`` after a new
start. A load that writes the tables directly (the bench dataset, the tests' fixtures) calls
:func:`refresh` or :func:`rebuild` itself; ``flask offers rebuild-collaborations`` rebuilds the
table from the quotes.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from offers.models import Collaboration, Event, EventStatus, Quote, QuoteLine, QuoteStatus

#: The advisory lock that serialises refreshes on PostgreSQL (two acceptances sharing actors would
#: otherwise each compute a pair's first event without seeing the other's).
_LOCK_KEY = 0x4D41_0001


def work_conditions() -> tuple:
    """What makes a quote line work done: a line (not the fee) of an actor, on the accepted quote of
    an event not cancelled (to be joined with ``quotes`` and ``events``)."""
    return (
        Quote.status == QuoteStatus.ACCEPTED,
        Event.status != EventStatus.CANCELLED,
        QuoteLine.kind == "line",
        QuoteLine.organisation_id.is_not(None),
    )


def worked_on(organisations=None):
    """``event_id, organisation_id, starts_at`` of each actor on each event they worked on (see
    the module), optionally for the actors of the select ``organisations`` only."""
    query = (
        sa.select(Quote.event_id, QuoteLine.organisation_id, Event.starts_at)
        .join(Quote, Quote.id == QuoteLine.quote_id)
        .join(Event, Event.id == Quote.event_id)
        .where(*work_conditions())
        .distinct()
    )
    if organisations is not None:
        query = query.where(QuoteLine.organisation_id.in_(organisations))
    return query


def _first_events(organisations=None):
    """``first_id, second_id, event_id``: each pair's first event (of the given actors' pairs)."""
    part = worked_on(organisations).subquery("worked_on")
    a, b = part.alias("a"), part.alias("b")
    ranked = (
        sa.select(
            a.c.organisation_id.label("first_id"),
            b.c.organisation_id.label("second_id"),
            a.c.event_id,
            sa.func.row_number()
            .over(
                partition_by=(a.c.organisation_id, b.c.organisation_id),
                order_by=(a.c.starts_at, a.c.event_id),
            )
            .label("rank"),
        )
        .join(b, sa.and_(b.c.event_id == a.c.event_id, a.c.organisation_id < b.c.organisation_id))
        .subquery("ranked")
    )
    return sa.select(ranked.c.first_id, ranked.c.second_id, ranked.c.event_id).where(ranked.c.rank == 1)


def _serialise() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))


def refresh(event_id: int) -> None:
    """Recompute the pairs of the actors on ``event_id``'s accepted quote (cancelled or not): each
    pair's first event is read again from every event the two worked on."""
    _serialise()
    actors = (
        sa.select(QuoteLine.organisation_id)
        .join(Quote, Quote.id == QuoteLine.quote_id)
        .where(
            Quote.event_id == event_id,
            Quote.status == QuoteStatus.ACCEPTED,
            QuoteLine.kind == "line",
            QuoteLine.organisation_id.is_not(None),
        )
        .distinct()
    )
    db.session.execute(
        sa.delete(Collaboration)
        .where(Collaboration.first_id.in_(actors), Collaboration.second_id.in_(actors))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.insert(Collaboration).from_select(["first_id", "second_id", "event_id"], _first_events(actors))
    )


def rebuild() -> int:
    """Empty the table and fill it again from every accepted quote; returns the number of pairs."""
    _serialise()
    db.session.execute(sa.delete(Collaboration).execution_options(synchronize_session=False))
    db.session.execute(
        sa.insert(Collaboration).from_select(["first_id", "second_id", "event_id"], _first_events())
    )
    return db.session.scalar(sa.select(sa.func.count()).select_from(Collaboration))
