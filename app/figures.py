"""Figures computed from the whole network's data (the dashboards), kept until that data changes.

A dashboard adds up a year of the network: at ten times the data it took twice as long, on every
view, although the data changes far less often than it is looked at. So:

- **Stamp.** A transaction that writes to a table the figures may read (any table but
  :data:`IGNORED_TABLES`) writes, just before its ``COMMIT`` and in the same transaction, a fresh
  random token in ``data_stamps`` (row ``figures``). The token and the data it stamps are committed
  together or not at all. Random, not a counter: a rolled-back transaction would bring a counter
  back to a value some worker has already seen, with other data behind it.
- **Cache.** :func:`cached` reads the token (one query per request) and returns what was computed under the
  same token, language and arguments; else it computes and keeps the result. A reader that read
  the token before a commit may keep newer figures under the older token, never older ones under
  the newer (on SQLite the token and the figures come from one snapshot; on PostgreSQL each later
  statement sees at least what the token's did).
- **Own writes.** A transaction that has itself written to such a table computes fresh and keeps
  nothing: its uncommitted data is not for others (tests run inside such transactions).
- **Bounds.** Kept in each worker's memory: :data:`MAX_ENTRIES` results at most, each for
  :data:`MAX_AGE` seconds at most — the bound for a change made outside the application (SQL by
  hand). ``MAILLAGE_FIGURES_CACHE=false`` turns the cache off (figures computed on every view).

Writes are seen at the lowest level (every statement the engines send), so that no service, bulk
statement or raw SQL can change the data without the stamp: ``app.db`` notes the tables each
statement of a transaction may write, read from its first word and its target
(:func:`app.db.written_tables`, the same reading that decides how a request's transaction ends),
and :func:`changes_figures` says whether any is one the figures read. A statement it cannot read
counts as a change.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.db import transaction_written_tables, written_tables
from app.extensions import db
from app.i18n import current_language
from app.models.stamps import DataStamp

T = TypeVar("T")

#: The stamp's row in ``data_stamps``.
FIGURES = "figures"
#: Tables whose writes change no figure (logins, the audit trail, the offer being prepared, mail):
#: the most frequent writes, which would otherwise throw the figures away for nothing. A test reads
#: the statements the figures run and checks that none of these tables is among them.
IGNORED_TABLES = frozenset(
    {
        "users",
        "audit_entries",
        "lines",
        "lots",
        "assignments",
        "actor_event_nets",
        "magic_links",
        "login_link_requests",
        "throttle_counters",
        "outbox_messages",
        "outbox_attachments",
        "briefing_sends",
        "data_stamps",
    }
)
#: Results kept per worker, and for how long (seconds).
MAX_ENTRIES = 64
MAX_AGE = 300.0


def _changes_figures(tables) -> bool:
    return any(table not in IGNORED_TABLES for table in tables)


def changes_figures(statement: str) -> bool:
    """Whether ``statement`` may change what the figures read: a write to a table not in
    :data:`IGNORED_TABLES`, or a statement that is not plainly a read (DDL, anything unknown)."""
    return _changes_figures(written_tables(statement))


def _transaction_changes_figures(connection) -> bool:
    """Whether the connection's transaction wrote what the figures read (``app.db`` notes the
    tables each statement may write)."""
    return _changes_figures(transaction_written_tables(connection))


@event.listens_for(Engine, "commit")
def _stamp(conn):
    """Just before ``COMMIT``: a new token when the transaction changed the figures' data. Sent on
    the DBAPI connection itself (no event, no statement cache) and harmless where the table does not
    exist yet (migrations before it)."""
    if not _transaction_changes_figures(conn):
        return
    token = secrets.token_hex(16)
    dbapi = conn.connection.dbapi_connection
    cursor = dbapi.cursor()
    try:
        if conn.dialect.name == "postgresql":
            from psycopg.pq import TransactionStatus

            if dbapi.info.transaction_status == TransactionStatus.INERROR:
                return  # nothing will be committed: the server answers the COMMIT with a rollback
            # A failed statement would abort the transaction: ask first whether the table exists.
            cursor.execute("SELECT to_regclass('data_stamps') IS NOT NULL")
            if cursor.fetchone()[0]:
                cursor.execute(
                    "INSERT INTO data_stamps (name, token) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO UPDATE SET token = excluded.token",
                    (FIGURES, token),
                )
        else:
            try:
                cursor.execute(
                    "INSERT INTO data_stamps (name, token) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET token = excluded.token",
                    (FIGURES, token),
                )
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc):
                    raise
    finally:
        cursor.close()


def current_stamp() -> str | None:
    """The token of the data as this transaction sees it (``None`` before the first change)."""
    return db.session.scalar(sa.select(DataStamp.token).where(DataStamp.name == FIGURES))


_lock = threading.Lock()
_entries: OrderedDict[tuple, tuple[float, object]] = OrderedDict()


def clear() -> None:
    """Forget every kept result of this worker."""
    with _lock:
        _entries.clear()


def cached(name: str, compute: Callable[..., T], *args) -> T:
    """``compute(*args)``, or what it returned under the same data stamp, language and arguments
    (``args`` must be hashable and say everything the result depends on besides the data, e.g.
    today's date). The result is shared between requests: read it, never change it."""
    if not current_app.config.get("FIGURES_CACHE", True):
        return compute(*args)
    if _transaction_changes_figures(db.session.connection()):
        return compute(*args)
    if "figures_token" not in g:  # once per request: a dashboard asks for several results
        g.figures_token = current_stamp()
    token = g.figures_token
    if token is None:
        return compute(*args)
    key = (name, args, current_language(), token)
    now = time.monotonic()
    with _lock:
        kept = _entries.get(key)
        if kept is not None and now - kept[0] < MAX_AGE:
            _entries.move_to_end(key)
            return kept[1]  # type: ignore[return-value]
    value = compute(*args)
    with _lock:
        _entries[key] = (now, value)
        _entries.move_to_end(key)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value
