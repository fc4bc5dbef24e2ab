"""The coordination gives a client's contact an account from the client's page: bound to that
client, no password, a login link by e-mail that lands on the client's quotes."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, OutboxMessage, Role, User
from tests.conftest import csrf_token


@pytest.fixture
def buyer(make_client):
    client = make_client(
        name="Ville de Rezé", contact_name="Service des marchés", contact_email="Marches@Example.org"
    )
    db.session.commit()
    return client


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def invite(client, buyer, **data):
    page = text(client.get(f"/clients/{buyer.id}"))
    return client.post(f"/clients/{buyer.id}/acces", data={"csrf_token": csrf_token(page), **data})


def test_the_client_page_offers_the_contact_on_file(client, coordinator, buyer):
    page = text(client.get(f"/clients/{buyer.id}"))
    assert "Accès du client à ses devis" in page and "Aucun accès pour l'instant." in page
    assert re.search(r'<input[^>]*name="email"[^>]*value="Marches@Example.org"', page)
    assert re.search(r'<input[^>]*name="name"[^>]*value="Service des marchés"', page)


def test_an_invited_contact_gets_an_account_of_this_client_and_a_link_to_its_quotes(
    app, client, coordinator, buyer
):
    response = invite(client, buyer, email="Marches@Example.org", name="Service des marchés")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/clients/{buyer.id}#acces"
    account = db.session.scalar(sa.select(User).where(User.email == "marches@example.org"))
    assert (account.role, account.client_id, account.password_hash) == (Role.CLIENT, buyer.id, None)
    message = db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message.recipients == "marches@example.org"
    assert message.subject == "Vos devis de Ville de Rezé sur Maillage"
    link = re.search(r"http://localhost(/lien/\S+)", message.body_text).group(1)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "client.account_created"))
    assert entry.object_id == buyer.id and entry.user_id == coordinator.id
    page = text(client.get(f"/clients/{buyer.id}"))
    assert "marches@example.org" in page and "Aucun accès pour l'instant." not in page

    # The contact follows the link and lands on its quotes.
    contact = app.test_client()
    landing = contact.get(link)
    signed_in = contact.post(link, data={"csrf_token": csrf_token(text(landing))})
    assert signed_in.headers["Location"] == "/mes-devis"
    assert contact.get("/mes-devis").status_code == 200

    # Invited again: no second account, a new link.
    again = invite(client, buyer, email="marches@example.org", name="")
    assert again.status_code == 302
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.client_id == buyer.id)) == 1
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 2


@pytest.mark.parametrize(
    "email,message",
    [
        ("pas-une-adresse", "Adresse e-mail invalide : pas-une-adresse."),
        ("", "Indiquez l'adresse e-mail du contact."),
    ],
)
def test_a_wrong_address_is_refused_beside_the_field(client, coordinator, buyer, email, message):
    response = invite(client, buyer, email=email)
    assert response.status_code == 400
    assert message in text(response)
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.client_id == buyer.id)) == 0
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_another_accounts_address_is_refused(client, coordinator, buyer, make_user):
    make_user("actor", email="acteur@example.org")
    db.session.commit()
    response = invite(client, buyer, email="acteur@example.org")
    assert response.status_code == 400
    assert "acteur@example.org est déjà l'adresse d'un autre compte" in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0


def test_only_the_coordination_gives_access(client, auth, make_user, buyer):
    auth.login(make_user("treasurer").email)
    page = text(client.get(f"/clients/{buyer.id}"))
    assert "Accès du client à ses devis" not in page
    response = client.post(
        f"/clients/{buyer.id}/acces", data={"email": "x@example.org", "csrf_token": csrf_token(page)}
    )
    assert response.status_code == 403
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.email == "x@example.org"))
        == 0
    )
