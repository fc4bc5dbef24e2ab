"""Clients (buyers): identifiers checked with python-stdnum, duplicates refused with a link, search,
optimistic locking, and who may see or edit them."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from stdnum import luhn

from app.directory.validation import vat_number_for
from app.extensions import db
from app.models import AuditEntry, Client
from tests.conftest import csrf_token
from tests.offers.test_events import post_form, text


def make_siren(base8: str) -> str:
    return base8 + luhn.calc_check_digit(base8)


def make_siret(siren: str, nic4: str = "0001") -> str:
    body = siren + nic4
    return body + luhn.calc_check_digit(body)


SIREN = make_siren("24440040")
SIRET = make_siret(SIREN)
OTHER_SIREN = make_siren("50123456")
OTHER_SIRET = make_siret(OTHER_SIREN)


def client_data(**over) -> dict:
    data = {
        "name": "Nantes Métropole",
        "siret": SIRET,
        "siren": "",
        "vat_number": "",
        "address": "2 cours du Champ de Mars",
        "postal_code": "44000",
        "commune": "Nantes",
        "is_public_body": "y",
        "chorus_service_code": "DPV-44",
        "engagement_number": "EJ-2026-77",
        "contact_name": "Claire Durand",
        "contact_email": "Claire.Durand@Example.org",
        "contact_phone": "02 40 00 00 00",
        "notes": "",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def clients_named(name: str) -> list[Client]:
    return list(db.session.scalars(sa.select(Client).where(Client.name == name)))


# --- create --------------------------------------------------------------------------------------


def test_create_a_public_client_the_siren_comes_from_the_siret(client, coordinator):
    vat = vat_number_for(SIREN)
    spaced = f"{SIRET[:3]} {SIRET[3:6]} {SIRET[6:9]} {SIRET[9:]}"
    response = post_form(client, "/clients/nouveau", data=client_data(siret=spaced, vat_number=vat.lower()))
    assert response.status_code == 302
    (created,) = clients_named("Nantes Métropole")
    assert response.headers["Location"] == f"/clients/{created.id}"
    assert (created.siret, created.siren, created.vat_number) == (SIRET, SIREN, vat)
    assert created.is_public_body is True
    assert (created.chorus_service_code, created.engagement_number) == ("DPV-44", "EJ-2026-77")
    assert created.contact_email == "Claire.Durand@example.org"
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.object_type == "clients"))
    assert (entry.action, entry.object_id, entry.user_id) == ("client.created", created.id, coordinator.id)
    card = text(client.get(f"/clients/{created.id}"))
    for value in (SIRET, SIREN, vat, "DPV-44", "EJ-2026-77", "Claire Durand", "Acheteur public"):
        assert value in card


def test_a_private_client_may_give_only_its_siren(client, coordinator):
    data = client_data(name="Coopérative Ouest", siret="", siren=OTHER_SIREN, is_public_body=None)
    data["vat_number"] = vat_number_for(OTHER_SIREN)
    assert post_form(client, "/clients/nouveau", data=data).status_code == 302
    (created,) = clients_named("Coopérative Ouest")
    assert (created.siret, created.siren, created.is_public_body) == (None, OTHER_SIREN, False)


@pytest.mark.parametrize(
    "over,field,message",
    [
        (
            {"siret": SIRET[:-1] + str((int(SIRET[-1]) + 1) % 10)},
            "siret",
            "Ce SIRET n'est pas valide (clé de contrôle erronée).",
        ),
        ({"siret": "1234567890123"}, "siret", "Le SIRET doit compter 14 chiffres."),
        ({"siret": "", "siren": "123456789", "is_public_body": None}, "siren", "Ce SIREN n'est pas valide"),
        ({"siret": "", "siren": ""}, "siret", "Indiquez le SIRET du client, ou au moins son SIREN."),
        (
            {"siret": "", "siren": SIREN},
            "siret",
            "Un acheteur public est identifié par son SIRET dans Chorus Pro.",
        ),
        ({"siren": OTHER_SIREN}, "siren", "Le SIREN ne correspond pas au SIRET"),
        (
            {"vat_number": vat_number_for(OTHER_SIREN)},
            "vat_number",
            "Le numéro de TVA ne correspond pas au SIREN",
        ),
        ({"vat_number": "FR00123"}, "vat_number", "Ce numéro de TVA intracommunautaire n'est pas valide."),
        ({"contact_email": "claire@"}, "contact_email", "Adresse e-mail invalide"),
        ({"postal_code": "4400"}, "postal_code", "Le code postal doit compter 5 chiffres"),
        ({"name": ""}, "name", "Ce champ est requis."),
    ],
)
def test_bad_identifiers_are_refused_beside_the_field(client, coordinator, over, field, message):
    response = post_form(client, "/clients/nouveau", data=client_data(**over))
    assert response.status_code == 400
    page = text(response)
    assert re.search(rf'id="{field}-erreur">[^<]*{re.escape(message)}', page), message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Client)) == 0


def test_a_duplicate_siret_is_refused_with_a_link_to_the_existing_client(client, coordinator, make_client):
    existing = make_client(name="Nantes Métropole (Direction)", siret=SIRET, siren=SIREN)
    response = post_form(client, "/clients/nouveau", data=client_data(name="Doublon"))
    assert response.status_code == 409
    page = text(response)
    assert "Ce SIRET est déjà celui du client « Nantes Métropole (Direction) »." in page
    assert f'href="/clients/{existing.id}"' in page
    assert clients_named("Doublon") == []


# --- edit ----------------------------------------------------------------------------------------


def test_edit_a_client_and_refuse_another_clients_siret(client, coordinator, make_client):
    other = make_client(name="Région", siret=OTHER_SIRET, siren=OTHER_SIREN)
    mine = make_client(name="Nantes Métropole", siret=SIRET, siren=SIREN, chorus_service_code="OLD")
    data = client_data(chorus_service_code="DPV-44", version_id=str(mine.version_id))
    assert post_form(client, f"/clients/{mine.id}/modifier", data=data).status_code == 302
    db.session.expire_all()
    assert db.session.get(Client, mine.id).chorus_service_code == "DPV-44"
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "client.updated"))
    assert entry.changes["chorus_service_code"] == ["OLD", "DPV-44"]

    mine = db.session.get(Client, mine.id)
    data = client_data(siret=OTHER_SIRET, version_id=str(mine.version_id))
    response = post_form(client, f"/clients/{mine.id}/modifier", data=data)
    assert response.status_code == 409
    assert f'href="/clients/{other.id}"' in text(response)
    db.session.expire_all()
    assert db.session.get(Client, mine.id).siret == SIRET


def test_a_stale_client_form_is_refused(client, coordinator, make_client):
    mine = make_client(name="Nantes Métropole", siret=SIRET, siren=SIREN, contact_name="Claire Durand")
    stale = str(mine.version_id)
    mine.contact_name = "Paul Martin"
    db.session.commit()
    response = post_form(
        client, f"/clients/{mine.id}/modifier", data=client_data(contact_name="Inès Roy", version_id=stale)
    )
    assert response.status_code == 409
    page = text(response)
    assert "Paul Martin" in page and 'value="Inès Roy"' in page
    db.session.expire_all()
    assert db.session.get(Client, mine.id).contact_name == "Paul Martin"


# --- search and card -----------------------------------------------------------------------------


def test_search_by_name_siret_or_commune(client, coordinator, make_client):
    make_client(name="Nantes Métropole", siret=SIRET, siren=SIREN, commune="Nantes")
    make_client(name="Ville de Rezé", siret=OTHER_SIRET, siren=OTHER_SIREN, commune="Rezé")
    make_client(name="100% Ouest", commune="Saint-Herblain")

    def found(query: str) -> set[str]:
        page = text(client.get("/clients", query_string={"q": query}))
        return set(re.findall(r'<a href="/clients/\d+">([^<]+)</a>', page))

    assert found("") == {"Nantes Métropole", "Ville de Rezé", "100% Ouest"}
    assert found("métropole") == {"Nantes Métropole"}
    assert found(SIRET[:9]) == {"Nantes Métropole"}
    assert found(f"{OTHER_SIRET[:3]} {OTHER_SIRET[3:6]}") == {"Ville de Rezé"}
    assert found("Saint-Herblain") == {"100% Ouest"}
    assert found("%") == {"100% Ouest"}  # a literal percent sign, not a wildcard
    assert found("Lyon") == set()


def test_the_card_lists_the_clients_events(client, coordinator, make_client, make_event):
    buyer = make_client(name="Nantes Métropole")
    make_event(title="Assises 2026", client=buyer)
    make_event(title="Autre client")
    card = text(client.get(f"/clients/{buyer.id}"))
    assert "Assises 2026" in card and "Autre client" not in card
    assert f'href="/evenements/nouveau?client_id={buyer.id}"' in card


# --- permissions ---------------------------------------------------------------------------------


def test_treasurer_reads_clients_without_edit_buttons(auth, client, make_user, make_client):
    buyer = make_client(name="Nantes Métropole")
    auth.login(make_user("treasurer").email)
    listing = text(client.get("/clients"))
    assert "Nantes Métropole" in listing and "Nouveau client" not in listing
    card = client.get(f"/clients/{buyer.id}")
    assert card.status_code == 200
    assert "/modifier" not in text(card)
    assert client.get("/clients/nouveau").status_code == 403
    assert client.get(f"/clients/{buyer.id}/modifier").status_code == 403
    token = csrf_token(client.get("/tableau-de-bord").get_data(as_text=True))
    db.session.commit()
    response = client.post(
        f"/clients/{buyer.id}/modifier", data={**client_data(name="Piraté"), "csrf_token": token}
    )
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Client, buyer.id).name == "Nantes Métropole"


@pytest.mark.parametrize("role", ["actor", "client"])
def test_actors_and_clients_get_403(auth, client, make_user, make_client, role):
    buyer = make_client()
    auth.login(make_user(role).email)
    for url in ("/clients", f"/clients/{buyer.id}", "/clients/nouveau", f"/clients/{buyer.id}/modifier"):
        assert client.get(url).status_code == 403, url
