"""The quote's PDF is rendered after the issuing transaction, never inside it.

Issuing commits the frozen quote, then renders its PDF holding no write lock and stores it in a
short transaction of its own; whatever reads the PDF gets it even when that step failed or was
skipped (every render slot busy): it is rendered from the frozen values at the first read.
"""

from __future__ import annotations

import html
import os
import re

import pytest
import sqlalchemy as sa

from app import render_slots
from app.extensions import db
from app.models import OutboxMessage
from app.pdf import sha256
from offers.models import Quote
from offers.services import quotes as service
from offers.services.quotes import document
from tests.conftest import csrf_token
from tests.offers import double_issue_worker as worker
from tests.offers.quote_fixtures import build_ready_event
from tests.offers.test_quote_double_issue import own_database  # noqa: F401 - a fixture
from tests.offers.test_quotes import pdf_text
from tests.processes import postgres_rows_free, rows_then_dispose, sqlite_write_lock_free, watching_renders


@pytest.fixture
def ready(make_event, make_client, make_category, make_organisation):
    return build_ready_event(make_event, make_client, make_category, make_organisation)


def issue(client, event):
    return client.post(f"/evenements/{event.id}/devis", data=worker.issue_form(client, event.id))


def latest(event) -> Quote:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(Quote).where(Quote.event_id == event.id).order_by(Quote.version.desc())
    )


def test_issuing_stores_the_pdf_with_the_quote_number(client, coordinator, ready):
    event, *_ = ready
    assert issue(client, event).status_code == 302
    quote = latest(event)
    assert quote.pdf.startswith(b"%PDF") and quote.pdf_sha256 == sha256(quote.pdf)
    assert f"Devis {quote.number} v1" in pdf_text(quote.pdf)[0]


def test_the_issuing_service_renders_nothing(app, make_user, ready, monkeypatch):
    event, *_ = ready
    monkeypatch.setattr(document, "render_pdf", lambda html: pytest.fail("rendered while issuing"))
    quote = service.issue_quote(event, make_user("coordinator"))
    assert (quote.number, quote.pdf, quote.pdf_sha256) == (quote.number, None, None)


def test_a_render_failing_after_the_commit_keeps_the_quote_and_the_first_download_renders_it(
    client, coordinator, ready, monkeypatch
):
    event, *_ = ready
    render = document.render_quote_pdf

    def broken(quote):
        raise RuntimeError("WeasyPrint crashed")

    monkeypatch.setattr(document, "render_quote_pdf", broken)
    response = issue(client, event)
    assert response.status_code == 302
    quote = latest(event)
    assert response.headers["Location"] == f"/devis/{quote.id}"
    assert (quote.version, quote.pdf, quote.pdf_sha256) == (1, None, None)
    page = html.unescape(client.get(f"/devis/{quote.id}").get_data(as_text=True))
    assert "PDF en préparation : il sera produit à sa première ouverture." in page

    monkeypatch.setattr(document, "render_quote_pdf", render)
    download = client.get(f"/devis/{quote.id}/pdf")
    assert download.status_code == 200
    assert download.data == render(quote)  # the frozen values' PDF, byte for byte
    assert download.headers["X-Content-SHA256"] == sha256(download.data)
    stored = latest(event)
    assert (stored.pdf, stored.pdf_sha256) == (download.data, sha256(download.data))


def test_sending_a_quote_without_its_pdf_mails_the_rendered_pdf_and_a_working_link(
    client, coordinator, ready, monkeypatch
):
    event, *_ = ready
    render = document.render_quote_pdf

    def broken(quote):
        raise RuntimeError("WeasyPrint crashed")

    monkeypatch.setattr(document, "render_quote_pdf", broken)
    issue(client, event)
    quote = latest(event)
    assert quote.pdf is None
    monkeypatch.setattr(document, "render_quote_pdf", render)
    page = client.get(f"/devis/{quote.id}").get_data(as_text=True)
    sent = client.post(f"/devis/{quote.id}/envoyer", data={"csrf_token": csrf_token(page)})
    assert sent.status_code == 302
    quote = latest(event)
    assert quote.pdf == render(quote) and quote.pdf_sha256 == sha256(quote.pdf)
    message = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.subject.contains(quote.number))
    ).one()
    assert [a.data for a in message.attachments] == [quote.pdf]
    link = re.search(r"http://localhost(/devis/acces/\S+)", message.body_text).group(1)
    assert client.get(link + "/pdf").data == quote.pdf


def test_a_busy_renderer_never_makes_issuing_wait_and_the_download_asks_to_retry(
    app, client, coordinator, ready, monkeypatch
):
    """One render slot, held by another render: the issue answers at once without its PDF, and a
    download waits ``PDF_RENDER_WAIT`` then answers 503; once the slot is free it gets the PDF."""
    event, *_ = ready
    monkeypatch.setitem(app.config, "PDF_RENDER_SLOTS", 1)
    monkeypatch.setitem(app.config, "PDF_RENDER_WAIT", 0.2)
    with render_slots.render_slot() as held:
        assert held
        assert issue(client, event).status_code == 302
        quote = latest(event)
        assert quote.pdf is None
        busy = client.get(f"/devis/{quote.id}/pdf")
        assert busy.status_code == 503
        assert "Le PDF de ce devis est en cours de préparation" in html.unescape(busy.get_data(as_text=True))
        assert latest(event).pdf is None
    download = client.get(f"/devis/{quote.id}/pdf")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")


def test_a_render_past_its_timeout_asks_to_retry(app, client, coordinator, ready, monkeypatch):
    """A render child still running after ``PDF_RENDER_TIMEOUT`` is killed: the issue is kept
    without its PDF and a download answers 503 (not 500) until a render finishes in time."""
    event, *_ = ready
    monkeypatch.setitem(app.config, "PDF_RENDER_TIMEOUT", 0.01)
    assert issue(client, event).status_code == 302
    quote = latest(event)
    assert quote.pdf is None
    late = client.get(f"/devis/{quote.id}/pdf")
    assert late.status_code == 503
    assert "Le PDF de ce devis est en cours de préparation" in html.unescape(late.get_data(as_text=True))
    assert latest(event).pdf is None
    monkeypatch.setitem(app.config, "PDF_RENDER_TIMEOUT", 45)
    download = client.get(f"/devis/{quote.id}/pdf")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")


def test_render_slots_are_capped_and_given_back(app, monkeypatch):
    monkeypatch.setitem(app.config, "PDF_RENDER_SLOTS", 2)
    with app.app_context():
        with render_slots.render_slot() as first, render_slots.render_slot() as second:
            with render_slots.render_slot(wait=0.1) as third:
                assert (first, second, third) == (True, True, False)
        with render_slots.render_slot() as again:
            assert again


def test_the_default_cap_leaves_a_worker_for_pages_and_no_more_renders_than_cores(app, monkeypatch):
    monkeypatch.setitem(app.config, "PDF_RENDER_SLOTS", None)
    with app.app_context():
        for workers, cores, slots in (("5", 8, 4), ("5", 2, 2), ("2", 2, 1), ("1", 1, 1), ("8", None, 1)):
            monkeypatch.setenv("WEB_CONCURRENCY", workers)
            monkeypatch.setattr(render_slots.os, "cpu_count", lambda cores=cores: cores)
            assert render_slots.slot_count() == slots


# --- no lock held while rendering, on a real database ---------------------------------------------


def _issue_watching(url: str, instance: str, can_write) -> dict:
    """Issue a quote through the view on ``url``; during the render, ``can_write()`` says whether
    another connection could take the lock issuing needs. Returns what was seen."""
    from app import create_app

    event_id, user_id = worker.prepare(url, instance)
    app = create_app(worker.app_config(url, instance))
    seen: dict = {}
    client = worker.signed_in_client(app, user_id)
    form = worker.issue_form(client, event_id)
    with watching_renders(document, can_write, event_id) as seen["during_render"]:
        response = client.post(f"/evenements/{event_id}/devis", data=form)
    seen["status"] = response.status_code
    seen["stored"] = rows_then_dispose(
        url, app, "SELECT number, version, pdf IS NOT NULL FROM quotes WHERE event_id = :e", event_id
    )
    return seen


def test_on_sqlite_another_writer_can_write_while_the_pdf_renders(tmp_path):
    path = tmp_path / "issue.db"

    def can_write(event_id):
        return sqlite_write_lock_free(path)

    seen = _issue_watching(f"sqlite:///{path}", str(tmp_path), can_write)
    assert seen["status"] == 302
    assert seen["during_render"] == [True]
    [(number, version, has_pdf)] = seen["stored"]
    assert (version, bool(has_pdf)) == (1, True) and number.startswith("DEV-")


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL not set")
def test_on_postgresql_the_event_row_is_free_while_the_pdf_renders(own_database, tmp_path):  # noqa: F811
    def can_write(event_id):
        return postgres_rows_free(own_database, event_id)

    seen = _issue_watching(own_database, str(tmp_path), can_write)
    assert seen["status"] == 302
    assert seen["during_render"] == [True]
    assert [(version, bool(has_pdf)) for _number, version, has_pdf in seen["stored"]] == [(1, True)]
