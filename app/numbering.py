"""Gapless, chronological numbers per issuer, prefix and year (quotes, invoices, credit notes).

The counter row is locked for the rest of the transaction that uses the number: on PostgreSQL with
``SELECT … FOR UPDATE``, on SQLite by the ``BEGIN IMMEDIATE`` every writing transaction takes
(app/db.py; a read-only request's transaction does not, and numbering refuses to run in one).
A rolled-back transaction gives its number back, so the series has no gap (docs/numbering.md: sequences leave
gaps, ``max()+1`` collides). Allocate in the transaction that freezes the document, never earlier.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.db import holds_write_lock
from app.extensions import db
from app.models import NumberSeries


class NoWriteLock(RuntimeError):
    """Numbering in a SQLite transaction that did not take the write lock up front: another
    transaction could read the same last number. A programming error, never a user's."""


def format_number(prefix: str, year: int, value: int) -> str:
    """``DEV-2026-0001``: at most 35 characters, letters, digits and dashes (EN 16931 BT-1)."""
    return f"{prefix}-{year}-{value:04d}"


def next_number(issuer: str, prefix: str, year: int) -> str:
    """Allocate the next number of the series. Flushes; the caller's commit makes it final."""
    connection = db.session.connection()
    if not holds_write_lock(connection):
        raise NoWriteLock(
            "number allocated in a read-only SQLite transaction: allocate in a request that writes "
            "(POST) or call app.db.request_writes() before its first query"
        )
    dialect = connection.dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(
        insert(NumberSeries)
        .values(issuer=issuer, prefix=prefix, year=year, last_value=0)
        .on_conflict_do_nothing(index_elements=["issuer", "prefix", "year"])
    )
    row = db.session.execute(
        sa.select(NumberSeries.id, NumberSeries.last_value)
        .where(NumberSeries.issuer == issuer, NumberSeries.prefix == prefix, NumberSeries.year == year)
        .with_for_update()
    ).one()
    value = row.last_value + 1
    db.session.execute(
        sa.update(NumberSeries)
        .where(NumberSeries.id == row.id)
        .values(last_value=value)
        .execution_options(synchronize_session=False)
    )
    return format_number(prefix, year, value)


def organisation_issuer(organisation_id: int) -> str:
    """The series key of an actor's own invoices (issued under its billing mandate, or recorded):
    separate from the coordinator's (``coordinator``) and from every other actor's."""
    return f"organisation:{organisation_id}"
