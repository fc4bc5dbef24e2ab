"""The dashboards' figures kept until the data changes (``app.figures``).

- which statements count as a change, on a table of exact cases;
- the figures read none of the tables whose writes are ignored (else a change there would leave
  them stale);
- with real commits, on SQLite and PostgreSQL (a database of the test's own, not the rolled-back
  transaction of the other tests): a second view is served from what the first computed; a payment
  recorded through the web, or any write to a table the figures read, is on the next view, which
  is the page the app renders without the cache; logins and the offer being prepared keep them.
"""

from __future__ import annotations

import os
import re

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app, figures
from app.dates import LOCAL_TZ
from app.db import utcnow
from app.extensions import db
from app.figures import IGNORED_TABLES, changes_figures
from tests.conftest import AuthActions, csrf_token
from tests.offers.test_events import count_statements


@pytest.mark.parametrize(
    ("statement", "changes"),
    [
        ("SELECT 1", False),
        ("  select * from invoices", False),
        ("(SELECT 1) UNION ALL (SELECT 2)", False),
        ("SELECT id FROM invoices WHERE id = 1 FOR UPDATE", False),
        ("PRAGMA foreign_keys = ON", False),
        ("SAVEPOINT sa_savepoint_1", False),
        ("RELEASE SAVEPOINT sa_savepoint_1", False),
        ("BEGIN IMMEDIATE", False),
        ("INSERT INTO payments (invoice_id, amount) VALUES (?, ?)", True),
        ('INSERT INTO "payments" (invoice_id) VALUES (%(x)s)', True),
        ("insert into payouts (id) values (1)", True),
        ("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", True),
        ("UPDATE invoices SET due_date=? WHERE invoices.id = ?", True),
        ("DELETE FROM work_totals WHERE quote_id = ?", True),
        ("INSERT INTO lines (lot_id) VALUES (?)", False),
        ("UPDATE users SET last_login_at=? WHERE users.id = ?", False),
        ("DELETE FROM audit_entries WHERE id = ?", False),
        ("UPDATE assignments SET status=? WHERE assignments.id = ?", False),
        ("WITH x AS (SELECT 1) SELECT * FROM x", False),
        ("WITH x AS (SELECT 1) INSERT INTO collaborations SELECT * FROM x", True),
        ("WITH x AS (SELECT 1) UPDATE lots SET position = 1", False),
        ("INSERT INTO collaborations (first_id) WITH worked AS (SELECT 1) SELECT * FROM worked", True),
        ("CREATE TABLE extra (id INTEGER)", True),
        ("DROP TABLE work_totals", True),
        ("ALTER TABLE invoices ADD COLUMN x INTEGER", True),
        ("TRUNCATE TABLE payments", True),
        ("", True),
    ],
)
def test_which_statements_change_the_figures(statement, changes):
    assert changes_figures(statement) is changes


def _today():
    return utcnow().astimezone(LOCAL_TZ).date()


def _tables(statements: list[str]) -> set[str]:
    return {t.lower() for s in statements for t in re.findall(r'(?:FROM|JOIN)\s+"?([A-Za-z_]\w*)', s)}


def test_the_figures_read_no_table_whose_writes_are_ignored(app):
    """Every computation the cache keeps, run on a small network: the tables its statements read."""
    from benchmarks.dataset import seed
    from reports import aggregates as ag
    from reports import dashboards

    seed(0.01, seed_value=3)
    db.session.flush()
    with app.test_request_context("/"), count_statements() as statements:
        year = ag.latest_year(_today().year)
        period = ag.Period(year)
        dashboards.work(period)
        dashboards.treasury(period, _today())
        ag.network(period)
    read = _tables(statements)
    assert {"work_totals", "invoices", "payments", "payouts", "events", "organisations"} <= read
    assert read.isdisjoint(IGNORED_TABLES), read & IGNORED_TABLES


# --- with real commits ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_app(request, tmp_path):
    """An app on a database of its own, migrated and loaded with a small network, committed."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'figures.db'}"
        admin = None
    else:
        if not os.environ.get("TEST_DATABASE_URL"):
            pytest.skip("TEST_DATABASE_URL not set")
        from app.config import normalise_database_url

        base = sa.engine.make_url(normalise_database_url(os.environ["TEST_DATABASE_URL"]))
        name = f"{base.database}_figures"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-figures",
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            "OUTBOX_DIR": str(tmp_path / "outbox"),
            "PDF_RENDER_DIR": str(tmp_path / "pdf-render"),
        }
    )
    from benchmarks.dataset import seed

    with app.app_context():
        upgrade()
        seed(0.01, seed_value=5)
        db.session.commit()
    figures.clear()
    try:
        yield app
    finally:
        figures.clear()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _page(response) -> str:
    """The page, its CSRF tokens left out (they carry the second they were made at)."""
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]+"', r'\1…"', response.get_data(as_text=True))


def _view(app, client, url: str) -> tuple[str, int]:
    """The page and the number of statements it ran."""
    with count_statements() as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return _page(response), len(statements)


def _uncached(app, client, url: str) -> str:
    app.config["FIGURES_CACHE"] = False
    try:
        return _page(client.get(url))
    finally:
        app.config["FIGURES_CACHE"] = True


def _commit(app, statement: str) -> None:
    with app.app_context():
        db.session.execute(sa.text(statement))
        db.session.commit()
        db.session.remove()


def _pay_one_euro(treasurer, invoice_id: int, reference: str) -> None:
    """Record a payment of 1 € on the invoice through the web, as the treasurer does."""
    page = treasurer.get(f"/factures/{invoice_id}").get_data(as_text=True)
    response = treasurer.post(
        f"/factures/{invoice_id}/paiements",
        data={
            "csrf_token": csrf_token(page),
            "received_on": _today().isoformat(),
            "amount": "1,00",
            "method": "transfer",
            "reference": reference,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert "Paiement enregistré" in treasurer.get(response.location).get_data(as_text=True)


def test_figures_are_computed_once_per_change_of_the_data(committed_app):
    from benchmarks.dataset import PASSWORD
    from benchmarks.pages import logins
    from invoicing.models import Invoice, InvoiceKind, InvoiceStatus, Payment

    app = committed_app
    url = "/indicateurs/tresorerie"
    treasurer = app.test_client()
    AuthActions(treasurer).login(logins()["treasurer"], PASSWORD)

    first, cold = _view(app, treasurer, url)
    again, warm = _view(app, treasurer, url)
    assert again == first
    assert warm < cold - 3, (warm, cold)  # the figures' statements were not run again

    # A payment recorded through the web: the next view computes anew, and shows it.
    with app.app_context():
        paid = sa.select(Payment.invoice_id)
        invoice_id = db.session.scalar(
            sa.select(Invoice.id)
            .where(
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status == InvoiceStatus.ISSUED,
                Invoice.id.not_in(paid),
            )
            .order_by(Invoice.id)
            .limit(1)
        )
        db.session.remove()
    assert invoice_id is not None
    _pay_one_euro(treasurer, invoice_id, "figures")
    after, count = _view(app, treasurer, url)
    assert count == cold
    assert after != first
    assert after == _uncached(app, treasurer, url)
    assert _view(app, treasurer, url) == (after, warm)

    # Logins and the offer being prepared change no figure: still served from what was kept.
    other = app.test_client()
    AuthActions(other).login(logins()["coordinator"], PASSWORD)
    _commit(app, "UPDATE lines SET description = description || ' ' WHERE id IN (SELECT min(id) FROM lines)")
    assert _view(app, treasurer, url) == (after, warm)

    # Any write to a table the figures read, even in SQL, even one that changes no row of them.
    _commit(app, "DELETE FROM payouts WHERE 1 = 0")
    assert _view(app, treasurer, url)[1] == cold

    # A rolled-back change leaves the stamp as it was.
    with app.app_context():
        before = figures.current_stamp()
        db.session.execute(sa.text("DELETE FROM payouts WHERE 1 = 0"))
        db.session.rollback()
        assert figures.current_stamp() == before
        db.session.remove()
    assert _view(app, treasurer, url)[1] == warm


def test_each_language_and_year_has_its_own_figures(committed_app):
    from benchmarks.dataset import PASSWORD
    from benchmarks.pages import logins

    app = committed_app
    admin = app.test_client()
    AuthActions(admin).login(logins()["admin"], PASSWORD)
    french, _ = _view(app, admin, "/indicateurs/administration")
    with admin.session_transaction() as session:
        session["lang"] = "en"
    english, _ = _view(app, admin, "/indicateurs/administration")
    assert english == _uncached(app, admin, "/indicateurs/administration")
    assert english != french
    earlier, _ = _view(app, admin, "/indicateurs/administration?annee=2001")
    assert earlier == _uncached(app, admin, "/indicateurs/administration?annee=2001")
    assert earlier != english


def test_the_cache_can_be_turned_off(committed_app):
    from benchmarks.dataset import PASSWORD
    from benchmarks.pages import logins

    app = committed_app
    app.config["FIGURES_CACHE"] = False
    coordinator = app.test_client()
    AuthActions(coordinator).login(logins()["coordinator"], PASSWORD)
    _page, first = _view(app, coordinator, "/indicateurs/coordination")
    _page, second = _view(app, coordinator, "/indicateurs/coordination")
    assert second == first


def test_the_payouts_lists_counts_are_kept_until_a_payout_changes(committed_app):
    """The payouts list counts every payout ever made per status (for its pages): counted on the
    first view, then kept until a payout changes (here: one marked paid through the web)."""
    from benchmarks.dataset import PASSWORD
    from benchmarks.pages import logins
    from invoicing.models import Payout, PayoutStatus

    app = committed_app
    url = "/reversements"
    treasurer = app.test_client()
    AuthActions(treasurer).login(logins()["treasurer"], PASSWORD)

    def counting(statements) -> list[str]:
        return [
            s for s in statements if re.search(r"count\(\*\).*FROM payouts GROUP BY payouts\.status", s, re.S)
        ]

    with count_statements() as statements:
        response = treasurer.get(url)
    first, token = _page(response), csrf_token(response.get_data(as_text=True))
    assert len(counting(statements)) == 1
    with count_statements() as statements:
        again = _page(treasurer.get(url))
    assert again == first
    assert counting(statements) == []

    with app.app_context():
        due = db.session.scalars(sa.select(Payout.id).where(Payout.status == PayoutStatus.DUE)).all()
        db.session.remove()
    assert len(due) >= 2
    response = treasurer.post(
        f"/reversements/{due[0]}/payer",
        data={"paid_on": _today().isoformat(), "reference": "VIR figures", "csrf_token": token},
    )
    assert response.status_code == 302
    with count_statements() as statements:
        after = _page(treasurer.get(url))
    assert len(counting(statements)) == 1
    assert after != first
    # Every page as computed without the cache: one payout fewer due, one more paid, at each offset.
    pages = max(int(n) for n in re.findall(r"reversements\?page=(\d+)", after))
    assert pages >= 2
    for number in range(1, pages + 1):
        kept = _page(treasurer.get(f"{url}?page={number}"))
        assert kept == _uncached(app, treasurer, f"{url}?page={number}"), number


def test_the_invoices_filtered_on_a_state_are_kept_by_id_until_the_data_changes(committed_app):
    """A list filtered on a state: which documents are on the page, and how many, are kept per
    filter until the data changes; each view reads its page's documents and figures anew. Every
    state and filter gives the page the app renders without the cache, and a payment on an overdue
    invoice takes it out of the overdue list on the next view."""
    from app.models import Client
    from benchmarks.dataset import PASSWORD
    from benchmarks.pages import logins
    from invoicing.forms import STATES

    app = committed_app
    treasurer = app.test_client()
    AuthActions(treasurer).login(logins()["treasurer"], PASSWORD)

    def selecting(statements) -> list[str]:  # the statement that finds the documents, in the list's order
        return [
            s
            for s in statements
            if re.search(r"\bFROM invoices\b.*ORDER BY invoices\.issue_date DESC", s, re.S)
        ]

    with app.app_context():
        clients = db.session.scalars(sa.select(Client.id).order_by(Client.id)).all()
        db.session.remove()
    urls = [f"/factures?state={state}" for state in STATES]
    urls += [f"/factures?state=overdue&client={clients[0]}", f"/factures?state=paid&client={clients[1]}"]
    urls += ["/factures?state=paid&page=2", "/factures?state=overdue&date_from=2001-01-01"]
    for url in urls:
        first, _count = _view(app, treasurer, url)
        with count_statements() as statements:
            again = _page(treasurer.get(url))
        assert again == first == _uncached(app, treasurer, url), url
        assert selecting(statements) == [], url
    assert _page(treasurer.get(urls[-4])) != _page(
        treasurer.get(f"/factures?state=overdue&client={clients[1]}")
    )

    url = "/factures?state=overdue"
    before = _page(treasurer.get(url))
    first_row = re.search(r'id="facture-(\d+)"><td><a [^>]*>([^<]+)</a>', before)
    assert first_row is not None, before[:2000]
    late_id, number = int(first_row.group(1)), first_row.group(2)
    _pay_one_euro(treasurer, late_id, "retard")
    with count_statements() as statements:
        after = _page(treasurer.get(url))
    assert len(selecting(statements)) == 1
    assert f">{number}<" not in after
    assert after == _uncached(app, treasurer, url)
