"""Queries per page do not grow with the data: each main page is counted on the bench dataset
(built through the models by ``benchmarks.dataset``) at a small size, then with four times as many
rows. The bench times them; this test only counts, so it runs in ``make test`` on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from app.extensions import db
from benchmarks.dataset import PASSWORD, seed
from benchmarks.pages import logins, main_pages
from tests.conftest import AuthActions

#: The most statements a main page may run (login and session included).
BUDGET = 16


def count(client, url: str) -> int:
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    client.get(url)  # warm up (savepoints, caches)
    db.session.expunge_all()
    sa_event.listen(Engine, "before_cursor_execute", listener)
    try:
        response = client.get(url)
    finally:
        sa_event.remove(Engine, "before_cursor_execute", listener)
    assert response.status_code == 200, url
    return len(statements)


def measure_all(app) -> dict[str, int]:
    emails = logins()
    counts = {}
    for page in main_pages():
        client = app.test_client()
        AuthActions(client).login(emails[page.who], PASSWORD)
        counts[page.name] = count(client, page.url)
    return counts


def test_queries_per_page_do_not_grow_with_the_rows(app):
    seed(0.01, seed_value=1)
    db.session.commit()
    small = measure_all(app)
    from offers.models import Line

    lines_before = db.session.query(Line).count()
    seed(0.04, seed_value=2, accounts=False)
    db.session.commit()
    assert db.session.query(Line).count() >= 4 * lines_before  # the data did grow
    large = measure_all(app)
    assert large == small
    assert max(large.values()) <= BUDGET, large


@pytest.mark.parametrize("scale", [0.01])
def test_the_pages_show_the_dataset(app, scale):
    seed(scale, seed_value=3)
    db.session.commit()
    emails = logins()
    client = app.test_client()
    AuthActions(client).login(emails["actor"], PASSWORD)
    page = client.get("/portail/lots").get_data(as_text=True)
    assert "Mes lots" in page
    assert "Lots acceptés" in page


def test_the_seed_command_loads_the_dataset(app, runner):
    from offers.models import Event

    result = runner.invoke(args=["bench", "seed", "--scale", "0.005", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "events 10," in result.output
    assert db.session.query(Event).count() == 10
    assert runner.invoke(args=["bench", "seed", "--scale", "9"]).exit_code == 2  # out of range


#: Each main page's statements on the small dataset (login and session included), by database:
#: a change that adds one to a page shows here. PostgreSQL counts a filtered list's total with its
#: rows, SQLite apart. The dashboards compute their figures (the test's own transaction wrote the
#: data, so nothing is taken from the figures' cache).
COMMON = {
    "events": 5,
    "event_dashboard": 5,
    "lot_to_staff": 5,
    "directory": 5,
    "quotes": 5,
    "portal": 6,
    "client_quotes": 3,
    "invoices": 5,
    "payouts": 4,
    "coordination_dashboard": 6,
    "treasury_dashboard": 7,
    "admin_dashboard": 12,
}
STATEMENTS = {
    "sqlite": {**COMMON, "overdue_invoices": 5},
    "postgresql": {**COMMON, "overdue_invoices": 4},
}


def test_each_main_page_runs_the_statements_it_needs(app):
    seed(0.01, seed_value=1)
    db.session.commit()
    assert measure_all(app) == STATEMENTS[db.engine.dialect.name]
