"""How a request's transaction ends (``app.db.end_request_transaction``): with ``COMMIT`` when it
wrote nothing, which keeps psycopg's prepared statements on PostgreSQL, and with the rollback as
before whenever something may have been written and not committed by its owner.

On PostgreSQL, a read-only request's reads run without a transaction (``app.db``): its first write,
lock, savepoint or server-side cursor begins one, which ends as any other.

A database of the test's own, with real transactions (the shared fixtures run every test inside a
transaction that is rolled back), on SQLite and on PostgreSQL when ``TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import os
from contextlib import ExitStack

import pytest
import sqlalchemy as sa

from app.db import ANY_TABLE, stream, written_tables
from tests.invoicing.numbering_worker import app_config
from tests.processes import scratch_database

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
KEY = "test.request_transaction"


@pytest.fixture(params=BACKENDS)
def own_app(request, tmp_path):
    from flask_migrate import upgrade
    from psycopg.pq import TransactionStatus

    from app import create_app
    from app.extensions import csrf, db
    from app.models import Setting

    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'own.db'}"
        else:
            url = stack.enter_context(scratch_database("request_transaction"))
        app = create_app(app_config(url, str(tmp_path)))

        @app.route("/t/read")
        def read():
            return str(db.session.get(Setting, KEY).value)

        @app.route("/t/flushed")
        def flushed():  # an ORM change flushed, never committed
            db.session.get(Setting, KEY).value = "flushed"
            db.session.flush()
            return "ok"

        @app.route("/t/pending")
        def pending():  # an ORM change not even flushed
            db.session.get(Setting, KEY).value = "pending"
            return "ok"

        @app.route("/t/core")
        def core():  # a statement past the ORM, never committed
            db.session.execute(sa.update(Setting).where(Setting.key == KEY).values(value="core"))
            return "ok"

        @app.route("/t/failed")
        def failed():
            db.session.get(Setting, KEY).value = "failed"
            db.session.flush()
            raise RuntimeError("boom")

        @app.route("/t/committed")
        def committed():
            db.session.get(Setting, KEY).value = "committed"
            db.session.commit()
            return "ok"

        def transaction_status() -> str:
            """PostgreSQL: whether the request's connection is in a transaction now."""
            driver = db.session.connection().connection.driver_connection
            return TransactionStatus(driver.pgconn.transaction_status).name

        @app.route("/t/status", methods=["GET", "POST"])
        @csrf.exempt
        def status():  # a read, then where it left the connection
            db.session.get(Setting, KEY)
            return transaction_status()

        @app.route("/t/locked")
        def locked():  # a read that locks its row: only meaningful within a transaction
            db.session.execute(sa.select(Setting).where(Setting.key == KEY).with_for_update()).scalar_one()
            return transaction_status()

        @app.route("/t/two-writes")
        def two_writes():  # read, write, read, write, fail: all or nothing
            db.session.get(Setting, KEY)
            db.session.execute(sa.update(Setting).where(Setting.key == KEY).values(value="first"))
            db.session.get(Setting, KEY)
            db.session.add(Setting(key=KEY + ".other", value="second"))
            db.session.flush()
            raise RuntimeError("boom")

        @app.route("/t/savepoint")
        def savepoint():
            setting = db.session.get(Setting, KEY)
            with db.session.begin_nested():
                setting.value = "nested"
            db.session.commit()
            return "ok"

        @app.route("/t/stream")
        def streamed():  # a server-side cursor on PostgreSQL
            return str(len(list(stream(db.session, sa.select(Setting.key), rows=1))))

        with app.app_context():
            upgrade()
            db.session.add(Setting(key=KEY, value="original"))
            db.session.commit()
            ends: list[str] = []
            sa.event.listen(db.engine, "commit", lambda conn: ends.append("commit"))
            sa.event.listen(db.engine, "rollback", lambda conn: ends.append("rollback"))
            app.config["TEST_ENDS"] = ends
        # No app context pushed meanwhile: each request has its own, closed at its end.
        yield app
        with app.app_context():
            db.engine.dispose()


def _stored(app) -> object:
    """The value as committed, read on a connection of its own."""
    from sqlalchemy.orm import Session

    from app.extensions import db
    from app.models import Setting

    with app.app_context(), Session(db.engine) as session:
        return session.get(Setting, KEY).value


def test_a_request_that_only_read_ends_with_commit(own_app):
    client = own_app.test_client()
    ends = own_app.config["TEST_ENDS"]
    ends.clear()
    response = client.get("/t/read")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "original"
    assert ends == ["commit"]


@pytest.mark.parametrize("route", ["/t/flushed", "/t/pending", "/t/core"])
def test_what_a_request_wrote_without_committing_is_still_rolled_back(own_app, route):
    client = own_app.test_client()
    ends = own_app.config["TEST_ENDS"]
    ends.clear()
    assert client.get(route).status_code == 200
    assert ends == ["rollback"]
    assert _stored(own_app) == "original"


def test_a_failed_request_is_rolled_back(own_app):
    own_app.config["PROPAGATE_EXCEPTIONS"] = False
    client = own_app.test_client()
    ends = own_app.config["TEST_ENDS"]
    ends.clear()
    assert client.get("/t/failed").status_code == 500
    assert "commit" not in ends
    assert _stored(own_app) == "original"


def test_what_a_request_committed_stays(own_app):
    client = own_app.test_client()
    assert client.get("/t/committed").status_code == 200
    assert _stored(own_app) == "committed"


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL not set")
@pytest.mark.parametrize("own_app", ["postgresql"], indirect=True)
def test_postgresql_keeps_the_prepared_statements_of_read_requests(own_app):
    """psycopg prepares a statement run five times on a connection, and forgets every prepared
    statement at a ROLLBACK: read requests ending that way never had one."""
    from app.extensions import db

    client = own_app.test_client()
    for _ in range(8):
        assert client.get("/t/read").status_code == 200
    with own_app.app_context(), db.engine.connect() as conn:  # the pool's one connection, the requests' own
        prepared = (
            conn.execute(
                sa.text("SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%FROM settings%'")
            )
            .scalars()
            .all()
        )
    assert prepared, "the settings lookup was never prepared"


ONLY_POSTGRESQL = (
    pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL not set"),
    pytest.mark.parametrize("own_app", ["postgresql"], indirect=True),
)


def only_postgresql(test):
    for mark in ONLY_POSTGRESQL:
        test = mark(test)
    return test


@only_postgresql
def test_postgresql_runs_the_reads_of_a_get_without_a_transaction(own_app):
    """No BEGIN nor COMMIT around a read-only request's statements (two round trips of every page);
    a POST's reads are in its transaction from the first."""
    client = own_app.test_client()
    assert client.get("/t/status").get_data(as_text=True) == "IDLE"
    assert client.post("/t/status").get_data(as_text=True) == "INTRANS"
    assert client.get("/t/status").get_data(as_text=True) == "IDLE"


@only_postgresql
def test_postgresql_locks_a_gets_rows_within_a_transaction(own_app):
    client = own_app.test_client()
    assert client.get("/t/locked").get_data(as_text=True) == "INTRANS"
    assert client.get("/t/status").get_data(as_text=True) == "IDLE"


@only_postgresql
def test_postgresql_rolls_back_every_write_of_a_failed_get(own_app):
    """A GET that reads, writes, reads and writes again, then fails: its first write began a
    transaction, which the failure rolls back whole."""
    from sqlalchemy.orm import Session

    from app.extensions import db
    from app.models import Setting

    own_app.config["PROPAGATE_EXCEPTIONS"] = False
    assert own_app.test_client().get("/t/two-writes").status_code == 500
    assert _stored(own_app) == "original"
    with own_app.app_context(), Session(db.engine) as session:
        assert session.get(Setting, KEY + ".other") is None


@only_postgresql
def test_postgresql_gives_a_get_its_savepoints_and_server_side_cursors(own_app):
    client = own_app.test_client()
    assert client.get("/t/stream").get_data(as_text=True) == "1"
    assert client.get("/t/savepoint").status_code == 200
    assert _stored(own_app) == "nested"


@only_postgresql
def test_postgresql_connections_back_from_a_get_begin_transactions_again(own_app):
    """The pool's connection, back from a read-only request, runs a command's reads (outside any
    request) in a transaction again."""
    from psycopg.pq import TransactionStatus

    from app.extensions import db

    assert own_app.test_client().get("/t/status").get_data(as_text=True) == "IDLE"
    with own_app.app_context(), db.engine.connect() as conn:  # the pool's one connection
        conn.execute(sa.text("SELECT 1"))
        status = conn.connection.driver_connection.pgconn.transaction_status
        assert TransactionStatus(status).name == "INTRANS"


@pytest.mark.parametrize(
    ("statement", "tables"),
    [
        ("SELECT 1", ()),
        ("  (SELECT id FROM invoices)", ()),
        ("select * from settings", ()),
        ("PRAGMA foreign_keys = ON", ()),
        ("BEGIN IMMEDIATE", ()),
        ("SAVEPOINT sa_savepoint_1", ()),
        ("RELEASE SAVEPOINT sa_savepoint_1", ()),
        ("INSERT INTO payments (invoice_id) VALUES (?)", ("payments",)),
        ('INSERT INTO "Payments" (invoice_id) VALUES (%(x)s)', ("payments",)),
        ("INSERT OR REPLACE INTO settings (key) VALUES (?)", ("settings",)),
        ("update invoices set due_date = ?", ("invoices",)),
        ("DELETE FROM work_totals WHERE quote_id = ?", ("work_totals",)),
        ("TRUNCATE TABLE payments", ("payments",)),
        ("WITH x AS (SELECT 1) SELECT * FROM x", ()),
        ("WITH x AS (SELECT 1) UPDATE lots SET position = 1", ("lots",)),
        ("CREATE TABLE extra (id INTEGER)", (ANY_TABLE,)),
        ("DROP TABLE work_totals", (ANY_TABLE,)),
        ("", (ANY_TABLE,)),
    ],
)
def test_which_tables_a_statement_writes(statement, tables):
    assert written_tables(statement) == tables
