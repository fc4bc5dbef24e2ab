"""Issuing the same quote twice at once: the issue form's one-time token.

A double click, a second tab or a retried request posts the same form twice; the second submission
gets the version the first one issued (a redirect to it with a "déjà émis" message), never a second
version and never a 500. On PostgreSQL, 8 processes post the same form at the same instant.
"""

from __future__ import annotations

import html
import os
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from offers.models import Quote, QuoteStatus
from tests.conftest import csrf_token, hidden_value
from tests.offers import double_issue_worker as worker
from tests.offers.quote_fixtures import build_ready_event
from tests.processes import run_together, scratch_database


@pytest.fixture
def ready(make_event, make_client, make_category, make_organisation):
    return build_ready_event(make_event, make_client, make_category, make_organisation)


def issue_form(client, event) -> dict:
    page = client.get(f"/evenements/{event.id}/devis").get_data(as_text=True)
    return {
        "validity_days": "30",
        "show_actor_cards": "y",
        "csrf_token": csrf_token(page),
        "issue_token": hidden_value(page, "issue_token"),
    }


def versions(event) -> list[tuple[int, QuoteStatus]]:
    db.session.expire_all()
    return [
        (q.version, q.status)
        for q in db.session.scalars(
            sa.select(Quote).where(Quote.event_id == event.id).order_by(Quote.version)
        )
    ]


def flashes(client) -> list[str]:
    with client.session_transaction() as session:
        return [message for _category, message in session.get("_flashes", [])]


def test_each_issue_page_carries_a_fresh_token(client, coordinator, ready):
    event, _lots, _actors = ready
    first, second = issue_form(client, event)["issue_token"], issue_form(client, event)["issue_token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", first)
    assert first != second


def test_a_double_submission_issues_one_version_and_says_so(client, coordinator, ready):
    event, _lots, _actors = ready
    form = issue_form(client, event)
    first = client.post(f"/evenements/{event.id}/devis", data=form)
    assert first.status_code == 302
    quote = db.session.scalar(sa.select(Quote).where(Quote.event_id == event.id))
    assert first.headers["Location"] == f"/devis/{quote.id}"
    assert flashes(client) == [f"Devis {quote.number} version 1 émis. Relisez le PDF avant de l'envoyer."]
    client.get(first.headers["Location"])  # the flash is shown

    second = client.post(f"/evenements/{event.id}/devis", data=form)
    assert second.status_code == 302
    assert second.headers["Location"] == f"/devis/{quote.id}"
    assert flashes(client) == [
        f"Ce devis a déjà été émis par ce formulaire (double envoi) : voici la version 1 du devis "
        f"{quote.number}, aucune autre version n'a été créée."
    ]
    page = html.unescape(client.get(second.headers["Location"]).get_data(as_text=True))
    assert "Ce devis a déjà été émis par ce formulaire" in page
    assert versions(event) == [(1, QuoteStatus.DRAFT)]


def test_a_double_submission_of_a_new_version_supersedes_once(client, coordinator, ready):
    event, _lots, _actors = ready
    client.post(f"/evenements/{event.id}/devis", data=issue_form(client, event))
    form = issue_form(client, event)
    assert client.post(f"/evenements/{event.id}/devis", data=form).status_code == 302
    assert client.post(f"/evenements/{event.id}/devis", data=form).status_code == 302
    assert versions(event) == [(1, QuoteStatus.SUPERSEDED), (2, QuoteStatus.DRAFT)]


def test_two_forms_issue_two_versions(client, coordinator, ready):
    """Two pages opened one after the other are two intentions: the token only stops a replay."""
    event, _lots, _actors = ready
    one, two = issue_form(client, event), issue_form(client, event)
    client.post(f"/evenements/{event.id}/devis", data=one)
    client.post(f"/evenements/{event.id}/devis", data=two)
    assert versions(event) == [(1, QuoteStatus.SUPERSEDED), (2, QuoteStatus.DRAFT)]


@pytest.mark.parametrize("token", [None, "", "court", "a" * 65, "pas un jeton valable!!"])
def test_a_form_without_a_valid_token_issues_nothing(client, coordinator, ready, token):
    event, _lots, _actors = ready
    form = issue_form(client, event)
    if token is None:
        del form["issue_token"]
    else:
        form["issue_token"] = token
    response = client.post(f"/evenements/{event.id}/devis", data=form)
    assert response.status_code == 400
    assert "Formulaire incomplet : rechargez la page." in html.unescape(response.get_data(as_text=True))
    assert versions(event) == []


# --- eight processes at once on PostgreSQL ------------------------------------------------------

DEADLINE = 120


@pytest.fixture
def own_database():
    """A database of this test's own on the TEST_DATABASE_URL server, dropped at the end."""
    with scratch_database("double_issue") as url:
        yield url


@pytest.mark.postgres
@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="TEST_DATABASE_URL not set: parallel requests are tested on PostgreSQL (SQLite has one writer)",
)
def test_eight_parallel_submissions_issue_one_version(own_database, tmp_path):
    event_id, user_id = worker.prepare(own_database, str(tmp_path))
    token = "jeton-partage-par-les-huit-requetes"
    outcomes = run_together(
        worker.post_issue,
        lambda index, barrier, results: (
            index,
            own_database,
            str(tmp_path),
            user_id,
            event_id,
            token,
            barrier,
            results,
        ),
        workers=worker.WORKERS,
        preload=worker.PRELOAD,
        deadline=DEADLINE,
    )
    stored = worker.stored_quotes(own_database, event_id)
    assert [(version, status) for _id, version, status in stored] == [(1, "draft")]
    quote_id = stored[0][0]
    assert sorted(outcome["status"] for outcome in outcomes) == [302] * worker.WORKERS
    assert {outcome["location"] for outcome in outcomes} == {f"/devis/{quote_id}"}
    messages = sorted(message for outcome in outcomes for message in outcome["flashes"])
    assert len(messages) == worker.WORKERS
    assert sum("émis. Relisez le PDF" in message for message in messages) == 1
    assert sum("Ce devis a déjà été émis par ce formulaire" in message for message in messages) == 7
