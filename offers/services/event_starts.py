"""Each assignment's copy of its event's start (``assignments.event_starts_at``), kept up to date.

The actor portal sorts an organisation's accepted lots and past answers by the start of their event,
newest first, a page at a time (:mod:`offers.services.portal`). With the start on the assignment,
the database reads the page from the index ``(organisation_id, event_starts_at)``; read from the
events, it sorted the organisation's whole history at every view.

**Kept at every flush.** A session listener (:func:`_after_flush`) sees the assignments the flush
inserted or moved to another lot, the lots it moved to another event and the events whose start it
changed, and writes their assignments' copy again from the events, in SQL, in the same transaction.
Statements that bypass the ORM (a bulk load, SQL by hand) call :func:`refresh` themselves
(``flask offers rebuild-work`` refreshes every assignment).

The column is read in SQL only (the model defers it): an object loaded before a change still holds
the old value in memory, and nothing reads it there.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from offers.models import Assignment, Event, Lot

#: The attributes whose change moves an assignment's event start, per model.
_WATCHED = {
    Assignment: "lot_id",
    Lot: "event_id",
    Event: "starts_at",
}


def _start_of_lot():
    return (
        sa.select(Event.starts_at)
        .join(Lot, Lot.event_id == Event.id)
        .where(Lot.id == Assignment.lot_id)
        .scalar_subquery()
    )


def refresh(
    connection: sa.Connection,
    assignment_ids: Iterable[int] = (),
    lot_ids: Iterable[int] = (),
    event_ids: Iterable[int] = (),
    *,
    everything: bool = False,
) -> int:
    """Write again, from the events, the event start of the assignments ``assignment_ids``, of
    those of the lots ``lot_ids`` and of the events ``event_ids`` (of every assignment with
    ``everything``), on ``connection`` (the session's). Returns how many assignments were written."""
    conditions = []
    if assignment_ids := sorted(set(assignment_ids)):
        conditions.append(Assignment.id.in_(assignment_ids))
    if lot_ids := sorted(set(lot_ids)):
        conditions.append(Assignment.lot_id.in_(lot_ids))
    if event_ids := sorted(set(event_ids)):
        conditions.append(Assignment.lot_id.in_(sa.select(Lot.id).where(Lot.event_id.in_(event_ids))))
    if not conditions and not everything:
        return 0
    statement = sa.update(Assignment).values(event_starts_at=_start_of_lot())
    if not everything:
        statement = statement.where(sa.or_(*conditions))
    return connection.execute(statement).rowcount


def _moved(obj, attribute: str) -> bool:
    return sa.inspect(obj).attrs[attribute].history.has_changes()


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context) -> None:
    found: dict[type, set[int]] = {Assignment: set(), Lot: set(), Event: set()}
    for obj in session.new:
        if type(obj) is Assignment:
            found[Assignment].add(obj.id)
    for obj in session.dirty:
        kind = type(obj)
        if kind in _WATCHED and _moved(obj, _WATCHED[kind]):
            found[kind].add(obj.id)
    if any(found.values()):
        refresh(session.connection(), found[Assignment], found[Lot], found[Event])
