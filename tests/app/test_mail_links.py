"""Links in e-mails: on PUBLIC_BASE_URL when set, otherwise on the address the app was reached at;
with neither (the outbox worker answering login-link requests), refused with the setting's name."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.config import Config
from app.extensions import db
from app.models import LoginLinkRequest, OutboxMessage
from offers.models import Quote
from tests.conftest import PASSWORD, csrf_token, hidden_value
from tests.offers.quote_fixtures import build_ready_event
from tests.security.test_auth_hardening import ask_link


@pytest.fixture
def no_public_url(app, monkeypatch):
    """The application's own default, as when the variable is not set."""
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", Config.PUBLIC_BASE_URL)


def test_the_setting_has_no_guessed_default():
    assert Config.PUBLIC_BASE_URL is None


def test_without_the_setting_a_mailed_link_uses_the_request_address(
    client, make_user, make_event, make_client, make_category, make_organisation, no_public_url
):
    event, *_ = build_ready_event(make_event, make_client, make_category, make_organisation)
    base = "http://maillage.lan:8123"  # the session cookie belongs to this host: log in there
    page = client.get("/connexion", base_url=base)
    client.post(
        "/connexion",
        data={
            "email": make_user("coordinator").email,
            "password": PASSWORD,
            "csrf_token": csrf_token(page.text),
        },
        base_url=base,
    )
    page = client.get(f"/evenements/{event.id}/devis", base_url=base)
    client.post(
        f"/evenements/{event.id}/devis",
        data={
            "validity_days": "30",
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "issue_token": hidden_value(page.get_data(as_text=True), "issue_token"),
        },
        base_url=base,
    )
    quote = db.session.scalar(sa.select(Quote).where(Quote.event_id == event.id))
    page = client.get(f"/devis/{quote.id}", base_url=base)
    response = client.post(
        f"/devis/{quote.id}/envoyer",
        data={"csrf_token": csrf_token(page.get_data(as_text=True))},
        base_url=base,
    )
    assert response.status_code == 302
    message = db.session.scalars(sa.select(OutboxMessage)).one()
    assert re.search(r"http://maillage\.lan:8123/devis/acces/\S+", message.body_text)
    assert "127.0.0.1:5000" not in message.body_text


def pending() -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(LoginLinkRequest)
        .where(LoginLinkRequest.processed_at.is_(None))
    )


def test_the_outbox_worker_refuses_login_links_without_the_setting(
    app, client, runner, make_user, monkeypatch, no_public_url
):
    make_user("client", email="acheteur@example.org")
    assert ask_link(client, "acheteur@example.org").status_code == 302
    result = runner.invoke(args=["outbox", "send"])
    assert result.exit_code == 1
    assert "définissez PUBLIC_BASE_URL" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert pending() == 1  # kept for the next run
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://maillage.example.org/")
    assert runner.invoke(args=["outbox", "send"]).exit_code == 0
    assert pending() == 0
    message = db.session.scalars(sa.select(OutboxMessage)).one()
    assert re.search(r"https://maillage\.example\.org/lien/\S+", message.body_text)
