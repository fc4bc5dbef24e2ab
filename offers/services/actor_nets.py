"""Each actor's line nets per event, kept up to date for the matching (``actor_event_nets``).

What an actor received this year (:func:`offers.services.matching.received_this_year`) adds up its
lines on the year's events. Read from the lines, that walked every line of the year for each lot's
page: ten times the data, ten times the work. This table keeps, per actor and event:

- ``open_net``: Σ ``app.money.line_net`` of the actor's lines on the event's open lots;
- ``accepted_net``: the same, on the open lots the actor accepted (at most one assignment per lot
  and actor, so a line counts once).

Each row also carries its event's start and status, so that a year's sum reads an actor's rows
by date (index on ``organisation_id, event_starts_at``) without visiting the year's events.

**Kept at every flush.** A session listener (:func:`_after_flush`) sees every line, lot and
assignment the flush inserted, deleted or changed (a line's lot, actor, quantity or price; a lot's
status or event; an assignment's lot, actor or status; an event's start or status) and recomputes, in the same transaction, the
rows of the events they belong to (before and after a move): the same data, the same commit. An
event or an organisation deleted takes its rows with it (foreign keys). Statements that bypass the
ORM (a bulk load, SQL by hand) call :func:`rebuild` themselves; ``flask offers rebuild-work``
rebuilds this table with the work done.

On PostgreSQL, two transactions refreshing the same event are serialised by the event's row, locked
``FOR NO KEY UPDATE`` before its rows are rewritten (each would otherwise delete the rows it sees
and insert the same keys): the lock quote issuing already takes (``FOR UPDATE``) makes a refresh
wait for the issue and the other way round, instead of a separate lock that each could hold while
waiting for the other's; rows that merely point at the event (``FOR KEY SHARE``) are not held up.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.db import LineNet, sum_money
from app.extensions import db
from offers.models import ActorEventNet, Assignment, AssignmentStatus, Event, Line, Lot, LotStatus

_COLUMNS = ["organisation_id", "event_id", "event_starts_at", "event_status", "open_net", "accepted_net"]

#: The attributes whose change moves a sum, per model.
_WATCHED = {
    Line: ("lot_id", "organisation_id", "quantity", "unit_price"),
    Lot: ("event_id", "status"),
    Assignment: ("lot_id", "organisation_id", "status"),
    Event: ("starts_at", "status"),
}


def sums(event_ids: Iterable[int] | None = None):
    """``organisation_id, event_id, event_starts_at, event_status, open_net, accepted_net``
    computed from the lines, for the events ``event_ids`` (all when ``None``)."""
    net = LineNet(Line.quantity, Line.unit_price)
    accepted = sa.case((Assignment.id.is_not(None), net), else_=0)
    stmt = (
        sa.select(
            Line.organisation_id,
            Lot.event_id,
            Event.starts_at,
            Event.status,
            sum_money(net),
            sum_money(accepted),
        )
        .join(Lot, Lot.id == Line.lot_id)
        .join(Event, Event.id == Lot.event_id)
        .outerjoin(
            Assignment,
            sa.and_(
                Assignment.lot_id == Line.lot_id,
                Assignment.organisation_id == Line.organisation_id,
                Assignment.status == AssignmentStatus.ACCEPTED,
            ),
        )
        .where(Lot.status == LotStatus.OPEN)
        .group_by(Line.organisation_id, Lot.event_id, Event.starts_at, Event.status)
    )
    if event_ids is not None:
        stmt = stmt.where(Lot.event_id.in_(sorted(event_ids)))
    return stmt


def refresh(connection: sa.Connection, event_ids: Iterable[int]) -> None:
    """Recompute the rows of ``event_ids`` from their lines, on ``connection`` (the session's)."""
    ids = sorted({event_id for event_id in event_ids if event_id is not None})
    if not ids:
        return
    if connection.dialect.name == "postgresql":
        # In id order: two refreshes of the same events never wait for each other crosswise.
        connection.execute(
            sa.select(Event.id).where(Event.id.in_(ids)).order_by(Event.id).with_for_update(key_share=True)
        )
    connection.execute(sa.delete(ActorEventNet).where(ActorEventNet.event_id.in_(ids)))
    connection.execute(sa.insert(ActorEventNet).from_select(_COLUMNS, sums(ids)))


def rebuild() -> int:
    """Empty the table and fill it again from every line; returns how many rows it holds."""
    db.session.execute(sa.delete(ActorEventNet).execution_options(synchronize_session=False))
    db.session.execute(sa.insert(ActorEventNet).from_select(_COLUMNS, sums()))
    return db.session.scalar(sa.select(sa.func.count()).select_from(ActorEventNet))


def _values(obj, attribute: str) -> set:
    """The attribute's value now and before the flush (both, when it changed)."""
    return {value for value in sa.inspect(obj).attrs[attribute].history.sum() if value is not None}


def _changed(obj, attributes: tuple[str, ...]) -> bool:
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in attributes)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context) -> None:
    lot_ids: set[int] = set()
    event_ids: set[int] = set()
    changed = (obj for obj in session.dirty if type(obj) in _WATCHED and _changed(obj, _WATCHED[type(obj)]))
    for obj in chain(session.new, session.deleted, changed):
        if isinstance(obj, Event):
            event_ids.add(obj.id)
        elif isinstance(obj, Lot):
            event_ids |= _values(obj, "event_id")
        elif isinstance(obj, (Line, Assignment)):
            lot_ids |= _values(obj, "lot_id")
    lot_ids.discard(None)
    if not lot_ids and not event_ids:
        return
    connection = session.connection()
    if lot_ids:
        event_ids |= set(connection.scalars(sa.select(Lot.event_id).where(Lot.id.in_(sorted(lot_ids)))))
    refresh(connection, event_ids)
