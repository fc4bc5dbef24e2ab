"""How a request's transaction ends (``app.db.end_request_transaction``): with ``COMMIT`` when it
wrote nothing, which keeps psycopg's prepared statements on PostgreSQL, and with the rollback as
before whenever something may have been written and not committed by its owner.

A database of the test's own, with real transactions (the shared fixtures run every test inside a
transaction that is rolled back), on SQLite and on PostgreSQL when ``TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import os
from contextlib import ExitStack

import pytest
import sqlalchemy as sa

from app.db import ANY_TABLE, written_tables
from tests.invoicing.numbering_worker import app_config
from tests.processes import scratch_database

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
KEY = "test.request_transaction"


@pytest.fixture(params=BACKENDS)
def own_app(request, tmp_path):
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
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
