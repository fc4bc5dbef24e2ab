"""An invoice's PDF is rendered after the issuing transaction, never inside it.

Issuing numbers the invoice, freezes it and builds and validates its Factur-X XML in the transaction
(a non-compliant invoice takes no number); the PDF, with that XML embedded, is rendered after the
commit holding no lock, and stored once in a short transaction: the database lets an issued invoice
receive its PDF once, and nothing else. Whatever reads the PDF gets it even when that step failed:
it is rendered from the frozen row at the first read.
"""

from __future__ import annotations

import html
import importlib.util
import os
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import render_slots
from app.extensions import db
from app.pdf import sha256
from invoicing import documents
from invoicing import facturx as fx
from invoicing.models import Invoice, InvoiceKind, InvoiceOrigin
from invoicing.services import invoices as service
from tests.conftest import csrf_token
from tests.invoicing.test_invoices import accepted, pdf_text, treasurer  # noqa: F401 - fixtures
from tests.invoicing.test_joint import login, setup  # noqa: F401 - a fixture
from tests.offers import double_issue_worker as worker
from tests.offers.test_quote_double_issue import own_database  # noqa: F401 - a fixture
from tests.processes import postgres_rows_free, rows_then_dispose, sqlite_write_lock_free, watching_renders
from tests.reports.helpers import issued

MIGRATION = (
    Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0020_invoice_pdf_after_issue.py"
)


def stored(invoice_id: int) -> Invoice:
    db.session.expire_all()
    return db.session.get(Invoice, invoice_id)


def post_final(client, auth, quote, user):
    db.session.commit()
    auth.login(user.email)
    url = f"/evenements/{quote.event_id}/facturation"
    token = csrf_token(client.get(url).get_data(as_text=True))
    response = client.post(url + "/finale", data={"operation_category": "services", "csrf_token": token})
    invoice = db.session.scalar(sa.select(Invoice).where(Invoice.kind == InvoiceKind.INVOICE))
    return response, invoice


def test_the_issuing_service_validates_the_xml_and_renders_no_pdf(accepted, treasurer, monkeypatch):  # noqa: F811
    monkeypatch.setattr(documents, "render_pdf", lambda *a, **k: pytest.fail("rendered while issuing"))
    invoice = service.issue_final(accepted, treasurer, today=date(2026, 4, 20))
    assert (invoice.number, invoice.pdf, invoice.pdf_sha256) == ("FAC-2026-0001", None, None)
    assert fx.validate(invoice.xml) == []
    event = accepted.event
    assert invoice.references["event"] == {
        "title": event.title,
        "starts_at": event.starts_at.isoformat(),
        "venue": event.venue,
        "venue_address": event.venue_address,
    }


def test_the_final_invoice_gets_its_pdf_right_after_the_commit(client, auth, accepted, treasurer):  # noqa: F811
    response, invoice = post_final(client, auth, accepted, treasurer)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/factures/{invoice.id}"
    invoice = stored(invoice.id)
    assert invoice.pdf.startswith(b"%PDF") and invoice.pdf_sha256 == sha256(invoice.pdf)
    assert fx.extract_xml(invoice.pdf) == invoice.xml
    assert f"Facture n° {invoice.number}" in pdf_text(invoice.pdf)


def test_a_render_failing_after_the_commit_keeps_the_invoice_and_the_download_renders_it(
    client,
    auth,
    accepted,  # noqa: F811
    treasurer,  # noqa: F811
    monkeypatch,
):
    render = documents.render_invoice_pdf

    def broken(invoice):
        raise RuntimeError("WeasyPrint crashed")

    monkeypatch.setattr(documents, "render_invoice_pdf", broken)
    response, invoice = post_final(client, auth, accepted, treasurer)
    assert response.status_code == 302
    invoice = stored(invoice.id)
    assert (invoice.number, invoice.pdf, invoice.pdf_sha256) == ("FAC-2026-0001", None, None)
    page = client.get(f"/factures/{invoice.id}")
    assert page.status_code == 200
    assert "PDF en préparation : il sera produit à sa première ouverture." in html.unescape(
        page.get_data(as_text=True)
    )

    monkeypatch.setattr(documents, "render_invoice_pdf", render)
    download = client.get(f"/factures/{invoice.id}/pdf")
    assert (download.status_code, download.mimetype) == (200, "application/pdf")
    # The frozen row's PDF (the same words and XML; the Factur-X library stamps its metadata with the
    # time of rendering, so the bytes of two renders differ there).
    assert pdf_text(download.data) == pdf_text(render(invoice))
    invoice = stored(invoice.id)
    assert (invoice.pdf, invoice.pdf_sha256) == (download.data, sha256(download.data))
    assert fx.extract_xml(invoice.pdf) == invoice.xml


def test_a_busy_renderer_never_makes_issuing_wait_and_the_download_asks_to_retry(
    app,
    client,
    auth,
    accepted,  # noqa: F811
    treasurer,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setitem(app.config, "PDF_RENDER_SLOTS", 1)
    monkeypatch.setitem(app.config, "PDF_RENDER_WAIT", 0.2)
    with render_slots.render_slot() as held:
        assert held
        response, invoice = post_final(client, auth, accepted, treasurer)
        assert response.status_code == 302
        assert stored(invoice.id).pdf is None
        busy = client.get(f"/factures/{invoice.id}/pdf")
        assert busy.status_code == 503
        assert "Le PDF de cette facture est en cours de préparation" in html.unescape(
            busy.get_data(as_text=True)
        )
    download = client.get(f"/factures/{invoice.id}/pdf")
    assert download.status_code == 200 and download.data == stored(invoice.id).pdf


def test_the_pdf_prints_the_event_as_it_was_when_the_invoice_was_issued(accepted, treasurer):  # noqa: F811
    event = accepted.event
    title = event.title
    invoice = service.issue_final(accepted, treasurer, today=date(2026, 4, 20))
    event.title, event.venue = "Titre changé après la facture", "Autre lieu"
    db.session.flush()
    text = pdf_text(service.invoice_pdf(invoice))
    assert title in text
    assert "Titre changé après la facture" not in text and "Autre lieu" not in text


def test_the_database_lets_an_issued_invoice_receive_its_pdf_once_and_nothing_else(accepted, treasurer):  # noqa: F811
    invoice = service.issue_final(accepted, treasurer, today=date(2026, 4, 20))
    db.session.flush()
    pdf, digest = b"%PDF-1.7 issued", sha256(b"%PDF-1.7 issued")
    params = {"id": invoice.id, "pdf": pdf, "digest": digest}
    refused = [
        "UPDATE invoices SET pdf = :pdf WHERE id = :id",  # without its hash
        "UPDATE invoices SET pdf_sha256 = :digest WHERE id = :id",  # a hash without the PDF
        "UPDATE invoices SET pdf = :pdf, pdf_sha256 = :digest, total_net = 0 WHERE id = :id",
        "UPDATE invoices SET pdf = :pdf, pdf_sha256 = :digest, \"references\" = '{}' WHERE id = :id",
        "UPDATE invoices SET pdf = :pdf, pdf_sha256 = :digest, xml = NULL WHERE id = :id",
        "UPDATE invoices SET pdf = :pdf, pdf_sha256 = :digest, due_date = NULL WHERE id = :id",
    ]

    def refuses(statement):
        savepoint = db.session.begin_nested()
        with pytest.raises(sa.exc.DBAPIError) as caught:
            db.session.execute(sa.text(statement), params)
        savepoint.rollback()
        return "issued invoices are immutable" in str(caught.value)

    for statement in refused:
        assert refuses(statement), statement
    db.session.execute(sa.text("UPDATE invoices SET pdf = :pdf, pdf_sha256 = :digest WHERE id = :id"), params)
    again = {**params, "pdf": b"%PDF-1.7 other", "digest": sha256(b"%PDF-1.7 other")}
    for statement in (
        "UPDATE invoices SET pdf = :pdf, pdf_sha256 = :digest WHERE id = :id",
        "UPDATE invoices SET pdf = NULL, pdf_sha256 = NULL WHERE id = :id",
    ):
        savepoint = db.session.begin_nested()
        with pytest.raises(sa.exc.DBAPIError) as caught:
            db.session.execute(sa.text(statement), again)
        savepoint.rollback()
        assert "issued invoices are immutable" in str(caught.value), statement
    assert stored(invoice.id).pdf == pdf


def test_the_sqlite_trigger_compares_every_column_but_the_pdf():
    """A column added to ``invoices`` must be added to the trigger's list (PostgreSQL's compares the
    whole row and needs no list)."""
    spec = importlib.util.spec_from_file_location("migration_0020", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    columns = set(Invoice.__table__.columns.keys())
    assert set(migration.FROZEN_COLUMNS) == columns - {"pdf", "pdf_sha256"}
    for name in migration.FROZEN_COLUMNS:
        assert f'NEW."{name}" IS OLD."{name}"' in migration.SQLITE_UPDATE_AFTER


# --- no lock held while rendering, on a real database ---------------------------------------------


def _issue_watching(url: str, instance: str, can_write, **config) -> dict:
    """Invoice an accepted quote through the treasurer's form on ``url`` (the app's ``config``
    changed by ``config``); during a render in this process, ``can_write()`` says whether another
    connection could take the lock issuing needs."""
    from app import create_app
    from app.models import Role, User
    from offers.models import Event
    from offers.services import quotes as quotes_service

    event_id, coordinator_id = worker.prepare(url, instance)
    app = create_app({**worker.app_config(url, instance), **config})
    with app.app_context():
        event = db.session.get(Event, event_id)
        coordinator = db.session.get(User, coordinator_id)
        quote = quotes_service.issue_quote(event, coordinator)
        quotes_service.mark_sent(quote, coordinator)
        quotes_service.accept_quote(quote, name="Claire Morvan", agreed=True, notify=False)
        user = User(
            email="tresorerie@example.org",
            name="Trésorière",
            role=Role.TREASURER,
            password_hash="not-used: logged in by its session",
            active=True,
            session_epoch=0,
        )
        db.session.add(user)
        db.session.commit()
        treasurer_id = user.id
    seen: dict = {}
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{treasurer_id}:0"
        session["_fresh"] = True
    url_money = f"/evenements/{event_id}/facturation"
    token = csrf_token(client.get(url_money).get_data(as_text=True))
    with watching_renders(documents, can_write, event_id) as seen["during_render"]:
        response = client.post(
            url_money + "/finale", data={"operation_category": "services", "csrf_token": token}
        )
    seen["status"], seen["event_id"] = response.status_code, event_id
    seen["stored"] = rows_then_dispose(
        url, app, "SELECT number, pdf IS NOT NULL FROM invoices WHERE event_id = :e", event_id
    )
    return seen


def test_on_sqlite_another_writer_can_write_while_the_invoice_pdf_renders(tmp_path):
    path = tmp_path / "invoice.db"
    seen = _issue_watching(f"sqlite:///{path}", str(tmp_path), lambda event_id: sqlite_write_lock_free(path))
    assert seen["status"] == 302
    assert seen["during_render"] == [True]
    [(number, has_pdf)] = seen["stored"]
    assert number.startswith("FAC-") and bool(has_pdf)


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL not set")
def test_on_postgresql_the_number_series_is_free_while_the_invoice_pdf_renders(own_database, tmp_path):  # noqa: F811
    def can_write(event_id):
        return postgres_rows_free(own_database, event_id, tables=("events", "number_series"))

    seen = _issue_watching(own_database, str(tmp_path), can_write)
    assert seen["status"] == 302
    assert seen["during_render"] == [True]
    assert [bool(has_pdf) for _number, has_pdf in seen["stored"]] == [True]


def test_a_groupement_s_invoices_get_their_pdfs_once_the_page_is_sent(client, setup):  # noqa: F811
    """Joint issuing makes one document per member under mandate, the fee and the commissions:
    their PDFs are rendered after the answer, none inside the transaction."""
    event = setup["event"]
    login(client, setup["treasurer"])
    money = f"/evenements/{event.id}/facturation"
    token = csrf_token(client.get(money).get_data(as_text=True))
    response = client.post(
        money + "/groupement", data={"operation_category": "services", "csrf_token": token}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(Invoice.pdf.is_not(None))) == 0
    response.close()  # the server has sent the answer
    db.session.expire_all()
    issued = db.session.scalars(
        sa.select(Invoice).where(Invoice.event_id == event.id).order_by(Invoice.id)
    ).all()
    assert [i.number for i in issued] == [
        "MELI-2026-0001",
        "EQUI-2026-0001",
        "FAC-2026-0001",
        "FAC-2026-0002",
        "FAC-2026-0003",
        "FAC-2026-0004",
    ]
    for invoice in issued:
        assert invoice.pdf_sha256 == sha256(invoice.pdf), invoice.number
        assert fx.extract_xml(invoice.pdf) == invoice.xml, invoice.number


def test_past_the_time_budget_the_other_pdfs_wait_for_their_first_read(client, setup, monkeypatch):  # noqa: F811
    from app import stored_pdf

    monkeypatch.setattr(stored_pdf, "AFTER_COMMIT_BUDGET", -1.0)  # spent before the first render
    event = setup["event"]
    login(client, setup["treasurer"])
    money = f"/evenements/{event.id}/facturation"
    token = csrf_token(client.get(money).get_data(as_text=True))
    client.post(money + "/groupement", data={"operation_category": "services", "csrf_token": token}).close()
    db.session.expire_all()
    issued = db.session.scalars(sa.select(Invoice).where(Invoice.event_id == event.id)).all()
    assert len(issued) == 6 and [i.pdf for i in issued] == [None] * 6
    download = client.get(f"/factures/{issued[0].id}/pdf")
    assert download.status_code == 200
    assert stored(issued[0].id).pdf == download.data and fx.extract_xml(download.data) == issued[0].xml


def test_the_archive_stores_the_pdf_it_renders(runner, accepted, treasurer, tmp_path):  # noqa: F811
    """A PDF not stored after its issue is rendered by the yearly archive, which keeps it: the file
    archived and the bytes stored are the same."""
    invoice = service.issue_final(accepted, treasurer, today=date(2026, 4, 20))
    db.session.commit()
    out = tmp_path / "2026"
    result = runner.invoke(args=["invoicing", "archive", "--year", "2026", "-o", str(out)])
    assert result.exit_code == 0, result.output
    archived = (out / f"{invoice.number}.pdf").read_bytes()
    db.session.rollback()  # whatever the command left uncommitted is lost
    invoice = stored(invoice.id)
    assert (invoice.pdf, invoice.pdf_sha256) == (archived, sha256(archived))
    assert fx.extract_xml(archived) == invoice.xml


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL not set")
def test_on_postgresql_a_detached_child_renders_and_stores_the_invoice_pdf(own_database, tmp_path):  # noqa: F811
    """As in production (``PDF_RENDER_DETACHED``): the worker answers without rendering; a child
    process renders the PDF and stores it."""
    seen = _issue_watching(
        own_database, str(tmp_path), lambda event_id: True, PDF_RENDER_DETACHED=True, PDF_RENDER_NICENESS=10
    )
    assert seen["status"] == 302
    assert seen["during_render"] == []  # this process rendered nothing
    statement = "SELECT number, pdf, pdf_sha256 FROM invoices WHERE event_id = :e"
    engine = sa.create_engine(own_database)
    try:
        deadline = time.monotonic() + 30
        while True:
            with engine.connect() as conn:
                [(number, pdf, digest)] = conn.execute(sa.text(statement), {"e": seen["event_id"]}).all()
            if pdf is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        engine.dispose()
    assert number.startswith("FAC-")
    assert bytes(pdf).startswith(b"%PDF") and digest == sha256(bytes(pdf))


@pytest.mark.parametrize(
    "origin,with_pdf,issued_here,has_pdf",
    [
        (InvoiceOrigin.MAILLAGE, False, True, True),  # rendered at its first read
        (InvoiceOrigin.MAILLAGE, True, True, True),
        (InvoiceOrigin.SELF_BILLED, False, True, True),
        (InvoiceOrigin.SELF_BILLED, True, True, True),
        (InvoiceOrigin.RECORDED, False, False, False),  # an actor's own invoice filed without its PDF
        (InvoiceOrigin.RECORDED, True, False, True),
    ],
)
def test_which_documents_have_a_pdf_is_one_rule_in_python_and_in_sql(
    make_client, origin, with_pdf, issued_here, has_pdf
):
    invoice = issued(make_client(), "120.00", issue_date=date(2026, 3, 2), origin=origin)
    if with_pdf:
        invoice.pdf, invoice.pdf_sha256 = b"%PDF-1.7 filed", sha256(b"%PDF-1.7 filed")
        db.session.flush()
    assert (invoice.issued_here, invoice.has_pdf) == (issued_here, has_pdf)
    db.session.expire_all()
    row = db.session.execute(
        sa.select(Invoice.issued_here, Invoice.has_pdf).where(Invoice.id == invoice.id)
    ).one()
    assert (bool(row[0]), bool(row[1])) == (issued_here, has_pdf)
