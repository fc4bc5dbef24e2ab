"""Every paginated list, past its first page: the second page answers 200, shows what the first one
could not hold, and its page links keep the filters."""

from __future__ import annotations

import html
from datetime import date
from decimal import Decimal as D

import pytest

from app.extensions import db
from offers.models import Quote, QuoteStatus


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def staff(make_user, auth):
    user = make_user("coordinator")
    auth.login(user.email)
    return user


def test_the_quotes_list_past_its_first_page(client, staff, make_event, make_client):
    customer = make_client(name="Ville de Rezé")
    for n in range(26):
        event = make_event(client=customer, title=f"Fête {n:02d}")
        db.session.add(
            Quote(
                event_id=event.id,
                number=f"DEV-2026-{n + 1:04d}",
                version=1,
                status=QuoteStatus.DRAFT,
                issue_date=date(2026, 1, 1 + n),
                valid_until=date(2026, 3, 1),
                total_net=D("10.00"),
                total_vat=D("2.00"),
                total_gross=D("12.00"),
                snapshot={"client": {"name": customer.name}},
            )
        )
    db.session.flush()
    first = client.get("/devis")
    assert first.status_code == 200
    assert "DEV-2026-0026 v1" in text(first) and "DEV-2026-0001 v1" not in text(first)
    second = client.get("/devis", query_string={"page": "2", "status": "draft", "client": str(customer.id)})
    assert second.status_code == 200
    body = text(second)
    assert "DEV-2026-0001 v1" in body and "DEV-2026-0002 v1" not in body
    assert f'href="/devis?page=1&status=draft&client={customer.id}"' in body


def test_the_events_list_past_its_first_page(client, staff, make_event, make_client):
    customer = make_client()
    for n in range(21):
        make_event(client=customer, title=f"Rencontre {n:02d}")
    second = client.get("/evenements", query_string={"page": "2", "client": str(customer.id)})
    assert second.status_code == 200
    body = text(second)
    assert "Rencontre 00" in body and "Rencontre 01" not in body
    assert f'href="/evenements?page=1&client={customer.id}"' in body


def test_the_clients_list_past_its_first_page(client, staff, make_client):
    for n in range(26):
        make_client(name=f"Commune {n:02d}")
    second = client.get("/clients", query_string={"page": "2", "q": "Commune"})
    assert second.status_code == 200
    body = text(second)
    assert "Commune 25" in body and "Commune 24" not in body
    assert 'href="/clients?page=1&q=Commune"' in body


def test_the_actors_list_past_its_first_page(client, staff, make_organisation):
    for n in range(51):
        make_organisation(name=f"Atelier {n:02d}")
    second = client.get("/acteurs", query_string={"page": "2", "q": "Atelier"})
    assert second.status_code == 200
    body = text(second)
    assert "Atelier 50" in body and "Atelier 49" not in body


def test_the_public_directory_past_its_first_page(client, make_organisation):
    for n in range(25):
        make_organisation(name=f"Ressourcerie {n:02d}", commune="Rezé")
    second = client.get("/annuaire", query_string={"page": "2", "commune": "Rezé"})
    assert second.status_code == 200
    body = text(second)
    assert "Ressourcerie 24" in body and "Ressourcerie 23" not in body
