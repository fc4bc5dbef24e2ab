"""The briefing sheets of the acceptance are rendered after the acceptance's commit, never inside it.

The client's acceptance commits alone (quote accepted, event won, coordinators told); once the
client has the answer, each actor's sheet is rendered from the committed data holding no lock and
queued with its ``briefing_sends`` row in a short transaction that checks again what was sent. A
sheet not sent then (a failed render) goes out with the next ``flask offers send-briefings``;
nothing is ever sent twice.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from offers.models import BriefingSend, EventStatus, Quote, QuoteStatus
from offers.services import briefing as briefing_service
from tests.conftest import csrf_token
from tests.offers import double_issue_worker as worker
from tests.offers.test_briefing import _briefing_mails, pdf_text, world  # noqa: F401 - a fixture
from tests.offers.test_quote_double_issue import own_database  # noqa: F401 - a fixture
from tests.offers.test_quotes import issue
from tests.processes import postgres_rows_free, sqlite_write_lock_free

ACTORS = ["chef@example.org", "cuisine@example.org", "libraire@example.org", "photo@example.org"]


def send_quote(client, auth, world) -> str:  # noqa: F811
    """Issue and send the world's quote as the coordinator; the client's link, then logs out."""
    event, _, _, people = world
    auth.login(people["coordinator"].email)
    issue(client, event)
    quote = db.session.scalar(sa.select(Quote).where(Quote.event_id == event.id))
    page = client.get(f"/devis/{quote.id}")
    client.post(f"/devis/{quote.id}/envoyer", data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    auth.logout()
    message = next(m for m in reversed(_all_mails()) if quote.number in m.subject)
    return re.search(r"http://localhost(/devis/acces/\S+)", message.body_text).group(1)


def _all_mails():
    from app.models import OutboxMessage

    return list(db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def accept(client, link):
    page = client.get(link)
    return client.post(
        link,
        data={
            "a-name": "Camille Martin",
            "a-agreed": "y",
            "a-accept": "1",
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )


def sends(event_id: int) -> list[tuple[int, str]]:
    db.session.expire_all()
    return sorted(
        db.session.execute(
            sa.select(BriefingSend.organisation_id, BriefingSend.reason).where(
                BriefingSend.event_id == event_id
            )
        ).all()
    )


def test_the_answer_is_sent_before_any_render_then_each_actor_gets_its_sheet_once(
    client,
    auth,
    world,  # noqa: F811
    monkeypatch,
):
    event, _, orgs, people = world
    link = send_quote(client, auth, world)
    rendered = []
    render = briefing_service.render_briefing_pdf

    def watched(sheet):
        rendered.append(sheet.organisation.name)
        return render(sheet)

    monkeypatch.setattr(briefing_service, "render_briefing_pdf", watched)
    response = accept(client, link)
    assert response.status_code == 302
    # The answer is ready, the acceptance committed: no sheet rendered nor queued yet.
    assert rendered == [] and _briefing_mails() == []
    db.session.expire_all()
    quote = db.session.scalar(sa.select(Quote).where(Quote.event_id == event.id))
    assert quote.status == QuoteStatus.ACCEPTED and quote.event.status == EventStatus.WON
    assert any("accepté" in m.subject for m in _all_mails())  # the coordinators are told at once

    response.close()  # the server has sent the answer
    assert len(rendered) == 4
    mails = _briefing_mails()
    assert sorted(m.recipients for m in mails) == ACTORS
    chef = next(m for m in mails if m.recipients == "chef@example.org")
    assert "Le client a accepté le devis" in chef.body_text
    assert f"http://localhost/portail/evenements/{event.id}/feuille-de-route" in chef.body_text
    [attachment] = chef.attachments
    assert attachment.filename.startswith(f"feuille-de-route-{event.id}-") and attachment.filename.endswith(
        ".pdf"
    )
    assert attachment.mimetype == "application/pdf"
    assert "Service en salle" in pdf_text(attachment.data)
    # The same sheet as the coordination downloads.
    auth.login(people["coordinator"].email)
    download = client.get(f"/evenements/{event.id}/feuilles-de-route/{orgs['cook'].id}")
    assert pdf_text(download.data) == pdf_text(attachment.data)
    assert [reason for _org, reason in sends(event.id)] == ["accepted"] * 4
    assert orgs["waiting"].id not in [org for org, _reason in sends(event.id)]

    # Sent again (a second sender, the daily task): nothing is rendered nor queued twice.
    assert briefing_service.send_acceptance_briefings(event.id) == 0
    assert len(rendered) == 4 and len(_briefing_mails()) == 4


def test_a_sender_that_rendered_at_the_same_time_as_another_queues_nothing(
    client,
    auth,
    world,  # noqa: F811
    monkeypatch,
):
    """Two senders read 'not sent' and both render (a double click, the daily task meanwhile):
    the second to queue checks again in its write transaction and queues nothing."""
    event, *_ = world
    accept(client, send_quote(client, auth, world)).close()
    assert len(_briefing_mails()) == 4
    sent = briefing_service._sent_organisations
    calls = []

    def stale_then_fresh(event_id, reason):
        calls.append(reason)
        return set() if len(calls) == 1 else sent(event_id, reason)  # the read saw nothing sent

    monkeypatch.setattr(briefing_service, "_sent_organisations", stale_then_fresh)
    assert briefing_service.send_acceptance_briefings(event.id) == 0
    assert len(calls) == 2
    assert len(_briefing_mails()) == 4 and len(sends(event.id)) == 4


def test_a_failed_render_keeps_the_acceptance_and_the_daily_task_sends_the_missing_sheet(
    client,
    auth,
    world,  # noqa: F811
    runner,
    monkeypatch,
):
    event, _, orgs, _ = world
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    event.starts_at, event.ends_at = start, start + timedelta(hours=8)
    db.session.flush()
    link = send_quote(client, auth, world)
    render = briefing_service.render_briefing_pdf

    def broken_for_the_cook(sheet):
        if sheet.organisation.id == orgs["cook"].id:
            raise RuntimeError("WeasyPrint crashed")
        return render(sheet)

    monkeypatch.setattr(briefing_service, "render_briefing_pdf", broken_for_the_cook)
    response = accept(client, link)
    response.close()
    assert response.status_code == 302
    db.session.expire_all()
    quote = db.session.scalar(sa.select(Quote).where(Quote.event_id == event.id))
    assert quote.status == QuoteStatus.ACCEPTED and quote.event.status == EventStatus.WON
    assert sorted(m.recipients for m in _briefing_mails()) == [a for a in ACTORS if a != "chef@example.org"]
    assert orgs["cook"].id not in [org for org, _reason in sends(event.id)]

    monkeypatch.setattr(briefing_service, "render_briefing_pdf", render)
    result = runner.invoke(args=["offers", "send-briefings"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 feuille(s) de route envoyée(s)."
    mails = _briefing_mails()
    assert sorted(m.recipients for m in mails) == ACTORS
    chef = mails[-1]
    assert chef.recipients == "chef@example.org" and "Le client a accepté le devis" in chef.body_text
    assert "Service en salle" in pdf_text(chef.attachments[0].data)
    assert [reason for _org, reason in sends(event.id)] == ["accepted"] * 4

    again = runner.invoke(args=["offers", "send-briefings"])
    assert again.output.strip() == "0 feuille(s) de route envoyée(s)."
    assert len(_briefing_mails()) == 4


def test_out_of_time_the_worker_leaves_the_sheets_to_the_daily_task(
    client,
    auth,
    world,  # noqa: F811
    runner,
    monkeypatch,
):
    event, *_ = world
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    event.starts_at, event.ends_at = start, start + timedelta(hours=8)
    db.session.flush()
    monkeypatch.setattr(briefing_service, "AFTER_ACCEPTANCE_SECONDS", 0)
    accept(client, send_quote(client, auth, world)).close()
    assert _briefing_mails() == [] and sends(event.id) == []
    result = runner.invoke(args=["offers", "send-briefings"])
    assert result.output.strip() == "4 feuille(s) de route envoyée(s)."
    assert sorted(m.recipients for m in _briefing_mails()) == ACTORS


def test_the_daily_task_sends_no_acceptance_sheet_for_an_event_already_started(
    client,
    auth,
    world,  # noqa: F811
    runner,
    monkeypatch,
):
    event, *_ = world

    def broken(sheet):
        raise RuntimeError("WeasyPrint crashed")

    monkeypatch.setattr(briefing_service, "render_briefing_pdf", broken)
    accept(client, send_quote(client, auth, world)).close()
    assert event.starts_at < datetime.now(UTC)
    assert _briefing_mails() == []
    monkeypatch.setattr(briefing_service, "render_briefing_pdf", lambda sheet: pytest.fail("rendered"))
    assert (
        runner.invoke(args=["offers", "send-briefings"]).output.strip() == "0 feuille(s) de route envoyée(s)."
    )


def test_the_daily_task_says_it_sends_the_missing_acceptance_sheets(runner):
    result = runner.invoke(args=["offers", "send-briefings", "--help"])
    assert "feuilles de route de l'acceptation du devis qui ne sont pas encore parties" in " ".join(
        result.output.split()
    )


# --- no lock held while rendering, on a real database ---------------------------------------------


def _prepare_sent_quote(url: str, instance: str) -> tuple[int, str]:
    """A ready event on ``url`` (actors with an address), its quote issued and sent; returns the
    event's id and the client's link."""
    from app import create_app
    from app.models import Organisation, User
    from offers.models import Event
    from offers.services import quotes

    event_id, user_id = worker.prepare(url, instance)
    app = create_app(worker.app_config(url, instance))
    with app.app_context():
        event, user = db.session.get(Event, event_id), db.session.get(User, user_id)
        quote = quotes.issue_quote(event, user)
        db.session.commit()
        quotes.mark_sent(quote, user)
        for organisation in db.session.scalars(sa.select(Organisation)):
            organisation.email = f"{organisation.slug}@example.org"
        db.session.commit()
        link = f"/devis/acces/{quotes.portal_token(quote)}"
        db.session.remove()
        db.engine.dispose()
    return event_id, link


def _accept_watching(url: str, instance: str, can_write) -> dict:
    """Accept the quote through the client's page on ``url``; during each sheet's render,
    ``can_write(event_id)`` says whether another connection could take the lock the acceptance
    needs. Then the daily task runs (a second sender: it sends nothing more)."""
    from app import create_app

    event_id, link = _prepare_sent_quote(url, instance)
    app = create_app(worker.app_config(url, instance))
    seen: dict = {"during_render": [], "rendered_before_answer": None}
    render = briefing_service.render_briefing_pdf

    def watched(sheet):
        # In a thread: a connection of its own, as another worker's request would have.
        result = []
        thread = threading.Thread(target=lambda: result.append(can_write(event_id)))
        thread.start()
        thread.join(timeout=30)
        seen["during_render"].append(result[0] if result else "no answer")
        return render(sheet)

    client = app.test_client()
    page = client.get(link).get_data(as_text=True)
    data = {"a-name": "Camille Martin", "a-agreed": "y", "a-accept": "1", "csrf_token": csrf_token(page)}
    briefing_service.render_briefing_pdf = watched
    try:
        response = client.post(link, data=data)
        seen["rendered_before_answer"] = len(seen["during_render"])
        seen["status"] = response.status_code
        response.close()
        with app.app_context():
            seen["again"] = briefing_service.send_due_briefings(today=date(2026, 1, 1))
    finally:
        briefing_service.render_briefing_pdf = render
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        seen["quote"] = conn.execute(
            sa.text("SELECT status FROM quotes WHERE event_id = :e"), {"e": event_id}
        ).one()
        seen["sends"] = conn.execute(
            sa.text("SELECT organisation_id, reason FROM briefing_sends WHERE event_id = :e"), {"e": event_id}
        ).all()
        seen["mails"] = conn.execute(
            sa.text(
                "SELECT m.recipients, a.filename FROM outbox_messages m "
                "JOIN outbox_attachments a ON a.message_id = m.id "
                "WHERE m.subject LIKE 'Feuille de route%' ORDER BY m.recipients"
            )
        ).all()
    engine.dispose()
    with app.app_context():
        db.engine.dispose()
    return seen


def _check(seen: dict) -> None:
    assert seen["status"] == 302
    assert seen["during_render"] == [True] * 3  # the ready event's three actors
    assert seen["rendered_before_answer"] == 0
    assert seen["quote"] == ("accepted",)
    assert sorted(reason for _org, reason in seen["sends"]) == ["accepted"] * 3
    assert len({org for org, _reason in seen["sends"]}) == 3
    assert len(seen["mails"]) == 3
    assert all(filename.endswith(".pdf") for _to, filename in seen["mails"])
    assert seen["again"] == 0


def test_on_sqlite_another_writer_can_write_while_the_sheets_render(tmp_path):
    path = tmp_path / "accept.db"

    def can_write(event_id):
        return sqlite_write_lock_free(path)

    _check(_accept_watching(f"sqlite:///{path}", str(tmp_path), can_write))


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL not set")
def test_on_postgresql_the_event_and_quote_rows_are_free_while_the_sheets_render(own_database, tmp_path):  # noqa: F811
    def can_write(event_id):
        return postgres_rows_free(own_database, event_id, ("events", "quotes"))

    _check(_accept_watching(own_database, str(tmp_path), can_write))
