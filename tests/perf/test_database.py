"""The database layer under years of data: SQLite's write lock only where a request writes (with the
numbering still safe), planner statistics after migrations, a line's net summed exactly in SQL."""

from __future__ import annotations

import sqlite3
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.conftest import make_app
from tests.offers.test_events import count_statements


@pytest.fixture(scope="module")
def own_app(tmp_path_factory):
    """An app on its own SQLite file, outside the rolled-back transaction of the main fixture (whose
    connection began before any request, so it always holds the lock)."""
    app = make_app("sqlite", tmp_path_factory)
    yield app
    with app.app_context():
        db.engine.dispose()


def _sent(app, do) -> list[tuple[str, object]]:
    """The statements (with their parameters) the app's engine sends while ``do()`` runs."""
    sent = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        do()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return sent


def _begins(app, do) -> list[str]:
    return [statement for statement, _parameters in _sent(app, do) if statement.startswith("BEGIN")]


def test_a_get_reads_without_the_write_lock_and_a_post_takes_it(own_app):
    client = own_app.test_client()
    assert _begins(own_app, lambda: client.get("/annuaire")) == ["BEGIN"]
    # A POST (here a login attempt, refused for want of a CSRF token) takes it before its first read.
    assert _begins(own_app, lambda: client.post("/connexion", data={"email": "x@example.org"}))[:1] == [
        "BEGIN IMMEDIATE"
    ]


def test_a_page_answers_while_another_transaction_holds_the_write_lock(own_app):
    path = own_app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    writer = sqlite3.connect(path, isolation_level=None, timeout=1)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE settings SET key = key")
        client = own_app.test_client()
        start = time.monotonic()
        response = client.get("/annuaire")
        elapsed = time.monotonic() - start
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert response.status_code == 200
    # Before, the GET waited for the busy timeout (10 s) and failed with "database is locked".
    assert elapsed < 5


def test_numbering_refuses_a_transaction_without_the_write_lock(own_app):
    from app.numbering import NoWriteLock, next_number

    with own_app.test_request_context("/", method="GET"), own_app.app_context():
        with pytest.raises(NoWriteLock):
            next_number("coordinator", "DEV", 2026)
        db.session.rollback()
    with own_app.test_request_context("/", method="POST"), own_app.app_context():
        assert next_number("coordinator", "DEV", 2026) == "DEV-2026-0001"
        db.session.rollback()


def test_a_get_that_declares_it_writes_takes_the_write_lock(own_app):
    from app.db import request_writes
    from app.numbering import next_number

    with own_app.test_request_context("/", method="GET"), own_app.app_context():
        request_writes()
        assert next_number("coordinator", "DEV", 2026) == "DEV-2026-0001"
        db.session.rollback()


def test_migrations_leave_planner_statistics(own_app):
    with own_app.app_context():
        # The migrations ran ANALYZE: SQLite created its statistics table (filled once tables have data).
        with db.engine.connect() as conn:
            tables = {
                row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
    assert "sqlite_stat1" in tables


@pytest.mark.parametrize(
    "quantity,unit_price,expected",
    [
        ("1", "10.00", "10.00"),
        ("0.333", "10.00", "3.33"),
        ("0.125", "0.04", "0.01"),  # 0.005 rounds half up
        ("0.124", "0.04", "0.00"),
        ("2.5", "19.99", "49.98"),  # 49.975
        ("3.001", "1234.57", "3704.94"),
    ],
)
def test_a_line_net_in_sql_equals_the_python_rule(app, quantity, unit_price, expected):
    from app.db import LineNet
    from app.money import line_net
    from offers.models import Line

    q, p = Decimal(quantity), Decimal(unit_price)
    assert line_net(q, p) == Decimal(expected)
    value = db.session.scalar(
        sa.select(LineNet(sa.literal(q, Line.quantity.type), sa.literal(p, Line.unit_price.type)))
    )
    assert value == Decimal(expected)


def test_migrations_that_rebuild_tables_run_on_a_database_with_data(tmp_path_factory):
    """SQLite's batch mode copies a table and drops the old one: with foreign keys on, that failed
    as soon as other rows pointed at it (an upgrade of a database in use)."""
    from flask_migrate import downgrade, upgrade

    from benchmarks.dataset import seed
    from offers.models import Lot

    app = make_app("sqlite", tmp_path_factory)
    with app.app_context():
        seed(0.005, seed_value=9)
        db.session.commit()
        lots = db.session.query(Lot).count()
        db.session.remove()
        downgrade(revision="0009")
        upgrade()
        assert db.session.query(Lot).count() == lots
        db.session.remove()  # its transaction holds the write lock (outside a request)
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        db.engine.dispose()


def test_postgresql_runs_the_pages_queries_without_jit(app):
    """PostgreSQL's JIT compiled the dashboards' queries for longer than they ran (app/config.py)."""
    if app.config["TEST_BACKEND"] != "postgresql":
        pytest.skip("PostgreSQL only")
    assert db.session.execute(sa.text("SHOW jit")).scalar() == "off"


def test_the_invoices_list_reads_a_page_from_its_index(app, client, auth, make_user):
    """The treasurer's list (issued invoices, latest first, 25 at a time) is read from
    ``ix_invoices_list`` instead of sorting every invoice: on SQLite the planner picks it; on
    PostgreSQL, told to avoid scans and sorts, it can serve the query from it."""
    auth.login(make_user("treasurer").email)
    responses = []
    sent = _sent(app, lambda: responses.append(client.get("/factures")))
    assert [response.status_code for response in responses] == [200]
    [(statement, parameters)] = [
        (statement, parameters)
        for statement, parameters in sent
        if statement.lstrip().startswith("SELECT invoices.id") and "LIMIT" in statement
    ]
    connection = db.session.connection()
    if app.config["TEST_BACKEND"] == "sqlite":
        plan = " ".join(
            row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        )
    else:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_sort = off")
        plan = " ".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters))
    assert "ix_invoices_list" in plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan


def test_an_invoices_credit_notes_and_payments_are_read_through_their_indexes(app):
    """On a dataset's planner statistics (most invoices credit no other), the sums of the lists'
    figures read the credit notes and payments of the page's invoices by their indexes: as
    correlated subqueries, SQLite scanned every invoice for each one."""
    from benchmarks.dataset import seed
    from invoicing.models import Invoice
    from invoicing.services.invoices import figures_of

    seed(0.01, seed_value=1)  # runs ANALYZE
    invoices = list(db.session.scalars(sa.select(Invoice).order_by(Invoice.id).limit(25)))
    [(statement, parameters)] = _sent(app, lambda: figures_of(invoices))
    connection = db.session.connection()
    if app.config["TEST_BACKEND"] == "sqlite":
        plan = [row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
        assert not [step for step in plan if step.startswith("SCAN")], plan
    else:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = [row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)]
        assert not [step for step in plan if "Seq Scan" in step], plan


def test_after_a_bulk_load_postgresql_is_vacuumed_as_autovacuum_would(app):
    """``settle_after_bulk_load`` (the bench's datasets, ``flask bench seed``): on PostgreSQL a
    ``VACUUM (ANALYZE)`` of the loaded tables on a connection of its own (VACUUM refuses a
    transaction), which marks their pages all-visible; a table another transaction has locked (here
    the test's own, which changed its definition) is skipped instead of waited for. Nothing on
    SQLite."""
    from app.db import settle_after_bulk_load

    if app.config["TEST_BACKEND"] != "postgresql":
        with count_statements() as statements:
            settle_after_bulk_load(db.engine, ["lines", "lots"])
        assert statements == []
        return

    def vacuums(table: str) -> int:
        with db.engine.connect() as connection:
            connection.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return connection.exec_driver_sql(
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = %(t)s", {"t": table}
            ).scalar()

    before = {table: vacuums(table) for table in ("lines", "lots", "payouts")}
    # The test's transaction takes a lock VACUUM would wait for (a definition change) on one table.
    db.session.execute(sa.text("ALTER TABLE payouts ALTER COLUMN reference SET DEFAULT ''"))
    settle_after_bulk_load(db.engine, ["lines", "lots", "payouts"])
    after = {table: vacuums(table) for table in ("lines", "lots", "payouts")}
    assert after == {"lines": before["lines"] + 1, "lots": before["lots"] + 1, "payouts": before["payouts"]}


def test_a_list_pages_limit_and_offset_are_written_in_its_statement_on_postgresql(
    app, client, auth, make_user
):
    """On PostgreSQL a page's ``LIMIT`` and ``OFFSET`` are numbers in the statement's text, not
    parameters: the statement prepared by psycopg then keeps one plan instead of being planned again
    at every view (app.db.literal_page_bounds). SQLite still binds them."""
    from offers.models import Event

    auth.login(make_user("coordinator").email)
    responses = []
    sent = _sent(app, lambda: responses.append(client.get("/evenements?page=3")))
    assert [response.status_code for response in responses] == [200]
    [statement] = [
        " ".join(statement.split())
        for statement, _parameters in sent
        if statement.lstrip().startswith("SELECT events.id") and "LIMIT" in statement
    ]
    if app.config["TEST_BACKEND"] == "sqlite":
        assert statement.endswith("LIMIT ? OFFSET ?")
        return
    assert statement.endswith("LIMIT 20 OFFSET 40")

    # What it is for: psycopg prepares the statement at its sixth run, and PostgreSQL keeps the
    # generic plan of a statement without parameters (as parameters, it planned each run anew).
    page = sa.select(Event.id).order_by(Event.starts_at.desc(), Event.id.desc()).limit(20).offset(40)
    for _ in range(8):
        db.session.execute(page).all()
    plans = db.session.execute(
        sa.text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE 'SELECT events.id%' AND statement LIKE '%LIMIT%'"
        )
    ).all()
    assert [(generic > 0, custom) for generic, custom in plans] == [(True, 0)]
