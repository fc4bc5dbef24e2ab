"""The treasurer's workbook reads its events in a fixed number of statements: building it for the
bench dataset at a small size, then with four times as many events, runs the same statements (the
money of the events, their quotes' lines, documents and payouts are read a few hundred events at a
time, never one event at a time)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from app.extensions import db
from benchmarks.dataset import seed
from invoicing.workbook import build_workbook
from offers.models import Event, QuoteLine

EVERYTHING = (date(2000, 1, 1), date(2100, 12, 31))


def statements_of_the_workbook() -> int:
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    db.session.expunge_all()
    sa_event.listen(Engine, "before_cursor_execute", listener)
    try:
        data = build_workbook(*EVERYTHING)
    finally:
        sa_event.remove(Engine, "before_cursor_execute", listener)
    assert data.startswith(b"PK")
    return len(statements)


def test_the_workbook_does_not_read_event_by_event(app):
    seed(0.01, seed_value=1)
    db.session.commit()
    events = db.session.scalar(sa.select(sa.func.count(Event.id)))
    lines = db.session.scalar(sa.select(sa.func.count(QuoteLine.id)))
    small = statements_of_the_workbook()
    seed(0.04, seed_value=2, accounts=False)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) >= 4 * events  # the data did grow
    assert db.session.scalar(sa.select(sa.func.count(QuoteLine.id))) >= 4 * lines
    assert statements_of_the_workbook() == small
    assert small <= 20, small
