"""The work done, kept for the dashboards: ``work_totals`` (each accepted quote's lines summed per
actor and category) and ``collaborations`` (each pair of actors who ever worked on the same event,
with the first such event).

An actor *worked on* an event when a line of the event's accepted quote is theirs (a line, not the
coordination fee) and the event is not cancelled. ``work_totals`` holds every accepted quote's sums,
whatever its event's status: readers join the event and leave cancelled ones out. An accepted quote
never changes, so its sums are written once, when it is accepted (:func:`record_accepted`).

A pair's first event is the earliest of the events both worked on, by start, then by id. Three
things change it: a quote accepted, an event cancelled, an event's start moved; each refreshes the
pairs of its event's actors (:func:`refresh_pairs`) in its own transaction. The hooks: the quote
state machine's ``after_move`` (accepted), the event's (cancelled), ``update_event`` (start moved).
A load that writes quotes directly (the bench dataset, the tests' fixtures) calls
:func:`record_accepted` or :func:`rebuild` itself; ``flask offers rebuild-work`` rebuilds both
tables from the quotes.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from offers.models import Collaboration, Event, EventStatus, Quote, QuoteLine, QuoteStatus, WorkTotal

#: The advisory lock that serialises refreshes of the pairs on PostgreSQL (two acceptances sharing
#: actors would otherwise each compute a pair's first event without seeing the other's).
_LOCK_KEY = 0x4D41_0001


def _totals(*criteria):
    """``quote_id, organisation_id, category_name, event_id, net`` of the accepted quotes
    matching ``criteria``: their actors' lines summed per actor and category."""
    return (
        sa.select(
            QuoteLine.quote_id,
            QuoteLine.organisation_id,
            QuoteLine.category_name,
            Quote.event_id,
            sa.func.sum(QuoteLine.net),
        )
        .join(Quote, Quote.id == QuoteLine.quote_id)
        .where(
            Quote.status == QuoteStatus.ACCEPTED,
            QuoteLine.kind == "line",
            QuoteLine.organisation_id.is_not(None),
            *criteria,
        )
        .group_by(QuoteLine.quote_id, QuoteLine.organisation_id, QuoteLine.category_name, Quote.event_id)
    )


_TOTAL_COLUMNS = ["quote_id", "organisation_id", "category_name", "event_id", "net"]


def not_cancelled():
    """The condition on ``events`` that makes an accepted quote's work count."""
    return Event.status != EventStatus.CANCELLED


def worked_on(organisations=None):
    """``event_id, organisation_id, starts_at`` of each actor on each event they worked on,
    optionally for the actors of the select ``organisations`` only."""
    query = (
        sa.select(WorkTotal.event_id, WorkTotal.organisation_id, Event.starts_at)
        .join(Event, Event.id == WorkTotal.event_id)
        .where(not_cancelled())
        .distinct()
    )
    if organisations is not None:
        query = query.where(WorkTotal.organisation_id.in_(organisations))
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


def record_accepted(quote: Quote) -> None:
    """Write an accepted quote's sums (again), then refresh its actors' pairs."""
    db.session.execute(
        sa.delete(WorkTotal)
        .where(WorkTotal.quote_id == quote.id)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(sa.insert(WorkTotal).from_select(_TOTAL_COLUMNS, _totals(Quote.id == quote.id)))
    refresh_pairs(quote.event_id)


def refresh_pairs(event_id: int) -> None:
    """Recompute the pairs of the actors of ``event_id``'s accepted quote (cancelled or not): each
    pair's first event is read again from every event the two worked on."""
    _serialise()
    actors = sa.select(WorkTotal.organisation_id).where(WorkTotal.event_id == event_id).distinct()
    db.session.execute(
        sa.delete(Collaboration)
        .where(Collaboration.first_id.in_(actors), Collaboration.second_id.in_(actors))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        sa.insert(Collaboration).from_select(["first_id", "second_id", "event_id"], _first_events(actors))
    )


def rebuild() -> tuple[int, int]:
    """Empty both tables and fill them again from every accepted quote; returns how many sums and
    how many pairs they hold."""
    _serialise()
    for model in (WorkTotal, Collaboration):
        db.session.execute(sa.delete(model).execution_options(synchronize_session=False))
    db.session.execute(sa.insert(WorkTotal).from_select(_TOTAL_COLUMNS, _totals()))
    db.session.execute(
        sa.insert(Collaboration).from_select(["first_id", "second_id", "event_id"], _first_events())
    )
    count = sa.select(sa.func.count())
    return (
        db.session.scalar(count.select_from(WorkTotal)),
        db.session.scalar(count.select_from(Collaboration)),
    )
