"""Pooled connections are pinged only when they may be stale: not between two requests, but after a
long idle time or when the server closed them meanwhile (a restart, a terminated backend)."""

from __future__ import annotations

import os
import socket
import time

import pytest
import sqlalchemy as sa

from app import db as app_db


class FakeCursor:
    def __init__(self, connection):
        self.connection = connection

    def execute(self, statement):
        self.connection.statements.append(statement)
        if self.connection.broken:
            raise OSError("server closed the connection")

    def fetchall(self):
        return [(1,)]

    def close(self):
        pass


class FakeConnection:
    def __init__(self, sock=None, broken=False):
        self.statements: list[str] = []
        self.broken = broken
        if sock is not None:
            self.fileno = sock.fileno

    def cursor(self):
        return FakeCursor(self)


class Record:
    def __init__(self, checked_in_at=None):
        self.info = {} if checked_in_at is None else {"checked_in_at": checked_in_at}


def checkout(connection, record) -> list[str]:
    app_db._ping_if_stale(connection, record, None)
    return connection.statements


def test_a_connection_back_from_the_previous_request_is_not_pinged():
    assert checkout(FakeConnection(), Record()) == []  # a new connection
    assert checkout(FakeConnection(), Record(time.monotonic())) == []
    quiet, other = socket.socketpair()
    try:
        assert checkout(FakeConnection(quiet), Record(time.monotonic())) == []
    finally:
        quiet.close()
        other.close()


def test_a_connection_idle_for_long_or_spoken_to_is_pinged():
    long_ago = time.monotonic() - app_db.PING_AFTER_IDLE - 1
    assert checkout(FakeConnection(), Record(long_ago)) == ["SELECT 1"]
    closed, server = socket.socketpair()
    try:
        server.sendall(b"E")  # what a terminated backend sends before closing
        assert checkout(FakeConnection(closed), Record(time.monotonic())) == ["SELECT 1"]
    finally:
        closed.close()
        server.close()


def test_a_failed_ping_makes_the_pool_take_a_fresh_connection():
    with pytest.raises(sa.exc.DisconnectionError):
        checkout(FakeConnection(broken=True), Record(time.monotonic() - app_db.PING_AFTER_IDLE - 1))


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL not set")
def test_a_terminated_postgresql_backend_is_replaced_without_an_error():
    from app.config import normalise_database_url

    engine = sa.create_engine(normalise_database_url(os.environ["TEST_DATABASE_URL"]), pool_size=1)
    admin = sa.create_engine(
        normalise_database_url(os.environ["TEST_DATABASE_URL"]), poolclass=sa.pool.NullPool
    )
    try:
        with engine.connect() as conn:
            first = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        with engine.connect() as conn:  # the same pooled connection, not pinged
            assert conn.execute(sa.text("SELECT pg_backend_pid()")).scalar() == first
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
            deadline = time.monotonic() + 5
            gone = sa.text("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :pid")
            while not conn.execute(gone, {"pid": first}).scalar() and time.monotonic() < deadline:
                time.sleep(0.02)
        with engine.connect() as conn:  # no error: the pool noticed and took a fresh connection
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        assert pid != first
    finally:
        engine.dispose()
        admin.dispose()
