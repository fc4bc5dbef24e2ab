"""The actors' directory: cards created and edited by the coordination, an actor's own card, who may
see or change what, the list's filters, sort and pagination (and its constant query count), stale
forms, categories and their VAT rates, logos, and the panels other packages add to a card."""

from __future__ import annotations

import html
import io
import re
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa
from PIL import Image
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from stdnum import luhn

from app.directory.panels import panels_for
from app.extensions import db
from app.models import AuditEntry, Category, LegalForm, Organisation, VatRegime
from tests.conftest import csrf_token, post_form

SIRET = "73282932000074"
SIREN = SIRET[:9]
VAT = "FR44732829320"
OTHER_SIRET = "55210055400013"
IBAN = "FR7630006000011234567890189"


def text(response) -> str:
    """The page as a reader sees it: entities decoded, no-break spaces as plain spaces."""
    return re.sub(r"[\u00a0\u202f]", " ", html.unescape(response.get_data(as_text=True)))


def field_error(page: str, name: str) -> str | None:
    """The message shown beside a field (the accessible ``<id>-erreur`` element)."""
    match = re.search(rf'id="{name}-erreur">([^<]+)<', page)
    return match.group(1) if match else None


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def card_entries() -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.object_type == "organisations")
    )


def reload(organisation: Organisation) -> Organisation:
    db.session.expire_all()
    return db.session.get(Organisation, organisation.id)


_sirens = iter(range(10_000_000, 99_999_999, 7919))


def valid_siret() -> str:
    """A SIRET python-stdnum accepts: its SIREN has its own Luhn key, then the whole number does."""
    siren = f"{next(_sirens)}"
    siren += luhn.calc_check_digit(siren)
    body = siren + "0001"
    return body + luhn.calc_check_digit(body)


@pytest.fixture
def make_card(make_organisation):
    """``make_organisation`` with a SIRET that the directory's checks accept (the form re-checks it)."""

    def make(**kw):
        kw.setdefault("siret", valid_siret())
        return make_organisation(**kw)

    return make


@pytest.fixture
def coordinator(make_user, auth):
    user = make_user("coordinator", name="Camille Coordination")
    auth.login(user.email)
    return user


@pytest.fixture
def categories(make_category):
    return {
        "restauration": make_category(code="restauration", name="Restauration", default_vat_rate=D("0.1000")),
        "librairie": make_category(code="librairie", name="Librairie", default_vat_rate=D("0.0550")),
        "location": make_category(code="location", name="Location de matériel", default_vat_rate=D("0.2000")),
    }


def card_data(**over) -> dict:
    data = {
        "name": "La Cuisine de Bellevue",
        "legal_form": "association",
        "siret": "732 829 320 00074",
        "vat_regime": "subject",
        "vat_number": "fr44 732829320",
        "address": "12 rue Jules Piedeleu",
        "postal_code": "44100",
        "commune": "nantes",
        "qpv_name": "Bellevue",
        "iban": "FR76 3000 6000 0112 3456 7890 189",
        "bic": "ccopfrppxxx",
        "active": "y",
        "description": "Traiteur d'insertion : buffets, pauses.",
        "contact_name": "Samia Benali",
        "email": "Contact@Cuisine.Example.org",
        "phone": "02 40 00 00 00",
        "website": "https://cuisine.example.org",
        "public_listing": "y",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def edit_data(organisation: Organisation, **over) -> dict:
    """The edit form as the page would post it, from the card's current values."""
    data = {
        "name": organisation.name,
        "legal_form": organisation.legal_form.value,
        "siret": organisation.siret,
        "vat_regime": organisation.vat_regime.value,
        "vat_number": organisation.vat_number or "",
        "address": organisation.address,
        "postal_code": organisation.postal_code,
        "commune": organisation.commune,
        "qpv_name": organisation.qpv_name or "",
        "iban": organisation.iban or "",
        "bic": organisation.bic or "",
        "active": "y" if organisation.active else None,
        "description": organisation.description,
        "category_ids": [str(c.id) for c in organisation.categories],
        "contact_name": organisation.contact_name or "",
        "email": organisation.email or "",
        "phone": organisation.phone or "",
        "website": organisation.website or "",
        "public_listing": "y" if organisation.public_listing else None,
        "version_id": str(organisation.version_id),
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def png(size=(40, 40), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (29, 92, 77)).save(buffer, fmt)
    return buffer.getvalue()


# --- create and edit (coordination) --------------------------------------------------------------


def test_coordinator_creates_a_card_with_normalised_identifiers(client, coordinator, categories):
    data = card_data(category_ids=[str(categories["restauration"].id), str(categories["librairie"].id)])
    response = post_form(client, "/acteurs/nouveau", data=data)
    assert response.status_code == 302
    created = db.session.scalar(sa.select(Organisation).where(Organisation.name == "La Cuisine de Bellevue"))
    assert response.headers["Location"] == f"/acteurs/{created.id}"
    assert created.slug == "la-cuisine-de-bellevue"
    assert (created.siret, created.siren, created.vat_number) == (SIRET, SIREN, VAT)
    assert (created.iban, created.bic) == (IBAN, "CCOPFRPPXXX")
    assert (created.commune, created.postal_code) == ("Nantes", "44100")
    assert (created.qpv, created.qpv_name) == (True, "Bellevue")
    assert created.legal_form == LegalForm.ASSOCIATION and created.vat_regime == VatRegime.SUBJECT
    assert created.email == "Contact@cuisine.example.org"
    assert [c.code for c in created.categories] == ["restauration", "librairie"]
    assert created.public_listing is True and created.active is True
    entry = db.session.scalar(
        sa.select(AuditEntry).where(
            AuditEntry.action == "organisation.created", AuditEntry.object_id == created.id
        )
    )
    assert entry.user_id == coordinator.id

    page = text(client.get(response.headers["Location"]))
    assert "La Cuisine de Bellevue" in page
    assert "Fiche « La Cuisine de Bellevue » créée." in page
    assert "QPV : Bellevue" in page
    assert re.search(r"Restauration · 10 ?%", page) and re.search(r"Librairie · 5,5 ?%", page)
    assert "hors de" not in page  # Nantes: no territory flag


def test_slugs_are_unique_and_come_from_the_name(client, coordinator, make_card):
    make_card(name="Ailleurs", slug="la-cuisine-de-bellevue")
    response = post_form(client, "/acteurs/nouveau", data=card_data(name="La Cuisine de Bellevue !"))
    assert response.status_code == 302
    created = db.session.scalar(sa.select(Organisation).where(Organisation.siret == SIRET))
    assert created.slug == "la-cuisine-de-bellevue-2"


def test_a_card_without_qpv_and_not_subject_to_vat(client, coordinator):
    response = post_form(
        client,
        "/acteurs/nouveau",
        data=card_data(vat_regime="franchise", vat_number="", qpv_name="", iban="", bic="", active=None),
    )
    assert response.status_code == 302
    created = db.session.scalar(sa.select(Organisation).where(Organisation.siret == SIRET))
    assert (created.vat_regime, created.vat_number) == (VatRegime.FRANCHISE, None)
    assert (created.qpv, created.qpv_name, created.iban, created.bic) == (False, None, None, None)
    assert created.active is False


def test_coordinator_edits_a_card_and_the_audit_keeps_before_and_after(
    client, coordinator, make_card, categories
):
    organisation = make_card(name="Atelier", iban=IBAN, categories=[categories["location"]])
    version = organisation.version_id
    new_iban = "DE89370400440532013000"
    data = edit_data(
        organisation,
        name="Atelier Bois",
        iban=new_iban,
        category_ids=[str(categories["location"].id), str(categories["librairie"].id)],
    )
    response = post_form(client, f"/acteurs/{organisation.id}/modifier", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/acteurs/{organisation.id}"
    organisation = reload(organisation)
    assert (organisation.name, organisation.iban) == ("Atelier Bois", new_iban)
    assert [c.code for c in organisation.categories] == ["librairie", "location"]
    assert organisation.version_id == version + 1
    assert organisation.slug.startswith("organisation-")  # the slug stays: public links keep working
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "organisation.updated"))
    assert entry.changes["iban"] == [IBAN, new_iban]
    assert entry.changes["name"] == ["Atelier", "Atelier Bois"]
    assert entry.changes["categories"] == ["location", "librairie, location"]


def test_changing_only_the_categories_moves_the_version(client, coordinator, make_card, categories):
    organisation = make_card()
    version = organisation.version_id
    data = edit_data(organisation, category_ids=[str(categories["librairie"].id)])
    assert post_form(client, f"/acteurs/{organisation.id}/modifier", data=data).status_code == 302
    assert reload(organisation).version_id == version + 1


def test_an_unchanged_form_saves_nothing(client, coordinator, make_card):
    organisation = make_card()
    version = organisation.version_id
    response = post_form(client, f"/acteurs/{organisation.id}/modifier", data=edit_data(organisation))
    assert response.status_code == 302
    assert "Aucune modification." in text(client.get(response.headers["Location"]))
    assert reload(organisation).version_id == version
    assert card_entries() == 0


# --- validation errors ---------------------------------------------------------------------------

INVALID = [
    ("siret", {"siret": "73282932000075"}, "Ce SIRET n'est pas valide (clé de contrôle erronée)."),
    ("siret", {"siret": "7328293200007"}, "Le SIRET doit compter 14 chiffres."),
    ("siret", {"siret": ""}, "Ce champ est requis."),
    (
        "vat_number",
        {"vat_number": "FR96552100554"},
        "Le numéro de TVA ne correspond pas au SIREN 732829320 (attendu : FR44732829320).",
    ),
    ("vat_number", {"vat_number": "FR00732829320"}, "Ce numéro de TVA intracommunautaire n'est pas valide."),
    (
        "vat_number",
        {"vat_number": ""},
        "Un acteur assujetti à la TVA a un numéro de TVA intracommunautaire (pour ce SIREN : FR44732829320).",
    ),
    ("iban", {"iban": "FR7630006000011234567890188"}, "Cet IBAN n'est pas valide."),
    ("bic", {"bic": "CCOPFRPPX"}, "Ce BIC n'est pas valide (8 ou 11 caractères)."),
    ("email", {"email": "contact@"}, "Adresse e-mail invalide : contact@."),
    ("postal_code", {"postal_code": "4410"}, "Le code postal doit compter 5 chiffres (ex. 44000)."),
    (
        "website",
        {"website": "cuisine.example.org"},
        "L'adresse du site doit commencer par http:// ou https://.",
    ),
    ("qpv_name", {"qpv_name": "Île de Nantes"}, "N'est pas un choix valide."),
    (
        "qpv_name",
        {"commune": "Rezé", "postal_code": "44400"},
        "Le quartier « Bellevue » est à Nantes, Saint-Herblain, pas à Rezé.",
    ),
    ("name", {"name": "  "}, "Ce champ est requis."),
    ("commune", {"commune": ""}, "Ce champ est requis."),
]


@pytest.mark.parametrize(
    "name,over,message", INVALID, ids=[f"{n}-{i}" for i, (n, _o, _m) in enumerate(INVALID)]
)
def test_invalid_values_are_refused_beside_their_field_and_nothing_is_saved(
    client, coordinator, name, over, message
):
    response = post_form(client, "/acteurs/nouveau", data=card_data(description="Ma saisie à garder", **over))
    assert response.status_code == 400
    page = text(response)
    assert field_error(page, name) == message
    assert f'id="{name}"' in page and "is-invalid" in page
    assert "La fiche n'a pas été enregistrée" in page
    assert "Ma saisie à garder" in page  # nothing lost
    assert count(Organisation) == 0  # nothing half-written


def test_invalid_value_on_edit_changes_nothing(client, coordinator, make_card):
    organisation = make_card(name="Avant")
    db.session.commit()  # the refused request rolls its own transaction back
    data = edit_data(organisation, name="Après", iban="FR7630006000011234567890188")
    response = post_form(client, f"/acteurs/{organisation.id}/modifier", data=data)
    assert response.status_code == 400
    assert field_error(text(response), "iban") == "Cet IBAN n'est pas valide."
    assert 'value="Après"' in text(response)
    assert reload(organisation).name == "Avant"


def test_a_commune_outside_the_territory_is_accepted_and_flagged(client, coordinator):
    response = post_form(
        client,
        "/acteurs/nouveau",
        data=card_data(commune="Ancenis-Saint-Géréon", postal_code="44150", qpv_name=""),
        follow_redirects=True,
    )
    assert response.status_code == 200
    page = text(response)
    assert page.count("Commune hors de Nantes Métropole (Loire-Atlantique).") >= 2  # flash and card
    listing = text(client.get("/acteurs"))
    assert 'title="Commune hors de Nantes Métropole (Loire-Atlantique)."' in listing
    post_form(
        client,
        "/acteurs/nouveau",
        data=card_data(
            name="Parisiens",
            siret=OTHER_SIRET,
            vat_number="",
            vat_regime="exempt",
            qpv_name="",
            commune="Paris",
            postal_code="75001",
        ),
    )
    assert "Commune hors de Loire-Atlantique." in text(client.get("/acteurs"))


# --- duplicate SIRET -----------------------------------------------------------------------------


def test_duplicate_siret_is_refused_with_a_link_to_the_existing_card(client, coordinator, make_card):
    existing = make_card(name="TAK-APRES", siret=SIRET)
    db.session.commit()
    response = post_form(client, "/acteurs/nouveau", data=card_data(siret="73282932000074"))
    assert response.status_code == 409
    page = text(response)
    assert field_error(page, "siret") == "Ce SIRET est déjà celui de la fiche « TAK-APRES »."
    assert f'href="/acteurs/{existing.id}">voir la fiche de « TAK-APRES »</a>' in page
    assert 'value="La Cuisine de Bellevue"' in page
    assert count(Organisation) == 1


def test_duplicate_siret_on_edit_is_refused(client, coordinator, make_card):
    existing = make_card(name="TAK-APRES", siret=SIRET)
    other = make_card(name="Autre", siret=OTHER_SIRET)
    db.session.commit()
    response = post_form(client, f"/acteurs/{other.id}/modifier", data=edit_data(other, siret=SIRET))
    assert response.status_code == 409
    assert f'href="/acteurs/{existing.id}"' in text(response)
    assert reload(other).siret == OTHER_SIRET


# --- an actor's own card -------------------------------------------------------------------------


@pytest.fixture
def actor(make_user, make_card, auth, categories):
    organisation = make_card(
        name="Kenja", siret=SIRET, iban=IBAN, description="Avant", categories=[categories["librairie"]]
    )
    user = make_user("actor", organisation=organisation)
    auth.login(user.email)
    return user


def test_actor_edits_the_descriptive_fields_of_its_own_card(client, actor, categories):
    organisation = actor.organisation
    page = text(client.get("/ma-fiche"))
    assert "Ma fiche : Kenja" in page
    assert 'name="siret"' not in page and 'name="iban"' not in page  # identity shown, not editable
    assert SIRET in page
    data = {
        "description": "Ateliers de lecture et librairie ambulante.",
        "category_ids": [str(categories["librairie"].id), str(categories["restauration"].id)],
        "contact_name": "Yves",
        "email": "yves@kenja.example.org",
        "phone": "06 00 00 00 00",
        "website": "https://kenja.example.org",
        "public_listing": "y",
        "show_contact_publicly": "y",
        "logo": (io.BytesIO(png()), "logo.png"),
        "version_id": str(organisation.version_id),
    }
    response = post_form(client, "/ma-fiche", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/ma-fiche"
    organisation = reload(organisation)
    assert organisation.description == "Ateliers de lecture et librairie ambulante."
    assert [c.code for c in organisation.categories] == ["restauration", "librairie"]
    assert (organisation.email, organisation.show_contact_publicly) == ("yves@kenja.example.org", True)
    assert organisation.logo_mime == "image/png"
    assert (organisation.name, organisation.siret, organisation.iban) == ("Kenja", SIRET, IBAN)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "organisation.card_updated"))
    assert entry.user_id == actor.id
    assert "Votre fiche est enregistrée." in text(client.get("/ma-fiche"))
    logo = client.get(f"/acteurs/{organisation.id}/logo")
    assert logo.status_code == 200 and logo.mimetype == "image/png" and logo.data == png()


def test_actor_posting_its_legal_identity_is_refused_and_nothing_changes(client, actor):
    organisation = actor.organisation
    before = (organisation.name, organisation.siret, organisation.iban, organisation.description)
    data = {
        "description": "Changée",
        "name": "Kenja SARL",
        "siret": OTHER_SIRET,
        "iban": "DE89370400440532013000",
        "vat_regime": "franchise",
        "version_id": str(organisation.version_id),
    }
    response = post_form(client, "/ma-fiche", data=data)
    assert response.status_code == 403
    page = text(response)
    assert "est tenue par la coordination : rien n'a été enregistré" in page
    assert "Changée" in page  # the descriptive input is kept in the form
    organisation = reload(organisation)
    assert (organisation.name, organisation.siret, organisation.iban, organisation.description) == before
    assert card_entries() == 0


def test_actor_cannot_see_or_edit_another_card(client, actor, make_card):
    other = make_card(name="Autre acteur", logo=png(), logo_mime="image/png")
    assert client.get(f"/acteurs/{other.id}").status_code == 403
    assert client.get(f"/acteurs/{other.id}/modifier").status_code == 403
    token = csrf_token(client.get("/ma-fiche").get_data(as_text=True))
    response = client.post(
        f"/acteurs/{other.id}/modifier", data={**edit_data(other, name="Piraté"), "csrf_token": token}
    )
    assert response.status_code == 403
    assert "Accès refusé" in text(response)
    assert reload(other).name == "Autre acteur"
    assert client.get(f"/acteurs/{other.id}/logo").status_code == 403
    # its own card is edited at /ma-fiche, never through the coordination's form
    assert client.get(f"/acteurs/{actor.organisation_id}/modifier").status_code == 403


def test_actor_cannot_open_the_directory_list_nor_the_categories(client, actor):
    assert client.get("/acteurs").status_code == 403
    assert client.get("/acteurs/nouveau").status_code == 403
    assert client.get("/categories").status_code == 403


def test_the_service_refuses_another_actors_card_too(app, make_user, make_card):
    from app.directory.services import CardFields, update_own_card
    from app.errors import Forbidden

    user = make_user("actor")
    other = make_card()
    with pytest.raises(Forbidden):
        update_own_card(other, CardFields(description="x"), user)


def test_treasurer_reads_the_directory_but_cannot_edit(client, auth, make_user, make_card):
    organisation = make_card(name="Lisible")
    auth.login(make_user("treasurer").email)
    assert client.get("/acteurs").status_code == 200
    card = client.get(f"/acteurs/{organisation.id}")
    assert card.status_code == 200
    assert "Modifier la fiche" not in text(card) and "Nouvelle fiche" not in text(client.get("/acteurs"))
    assert client.get(f"/acteurs/{organisation.id}/modifier").status_code == 403
    token = csrf_token(card.get_data(as_text=True))
    response = client.post(
        f"/acteurs/{organisation.id}/modifier",
        data={**edit_data(organisation, name="X"), "csrf_token": token},
    )
    assert response.status_code == 403
    assert client.get("/acteurs/nouveau").status_code == 403
    assert client.get("/categories").status_code == 403
    assert reload(organisation).name == "Lisible"


def test_anonymous_visitors_are_sent_to_the_login_page(client, make_card):
    organisation = make_card()
    for url in ("/acteurs", f"/acteurs/{organisation.id}", "/ma-fiche", "/categories"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


# --- stale forms (optimistic locking) ------------------------------------------------------------


def version_on(page: str) -> str:
    return re.search(r'id="version_id"[^>]*value="(\d+)"', page).group(1)


def test_a_stale_edit_form_gets_409_with_the_users_input_and_the_stored_values(
    client, coordinator, make_card
):
    organisation = make_card(name="Initial", description="")
    db.session.commit()
    url = f"/acteurs/{organisation.id}/modifier"
    stale_version = version_on(client.get(url).get_data(as_text=True))
    # someone else saves first
    assert post_form(client, url, data=edit_data(organisation, name="Nom de Dominique")).status_code == 302
    # then the first form arrives, with the old version
    mine = edit_data(
        reload(organisation), name="Mon nom", description="Ma présentation", version_id=stale_version
    )
    response = post_form(client, url, data=mine)
    assert response.status_code == 409
    page = text(response)
    assert "Quelqu'un a modifié cet élément pendant que vous le modifiiez." in page
    assert 'value="Mon nom"' in page and "Ma présentation" in page  # the user's input is kept
    assert "Valeurs enregistrées entre-temps :" in page and "Nom de Dominique" in page
    assert reload(organisation).name == "Nom de Dominique"  # nothing overwritten
    # saving again from the re-rendered form (it now carries the current version) is accepted
    again = edit_data(reload(organisation), name="Mon nom", version_id=version_on(page))
    assert post_form(client, url, data=again).status_code == 302
    assert reload(organisation).name == "Mon nom"


def test_a_stale_own_card_form_gets_409(client, actor):
    organisation = actor.organisation
    stale = str(organisation.version_id)
    organisation.description = "Changée par la coordination"
    db.session.commit()
    response = post_form(client, "/ma-fiche", data={"description": "Ma version", "version_id": stale})
    assert response.status_code == 409
    page = text(response)
    assert "Ma version" in page and "Changée par la coordination" in page
    assert reload(organisation).description == "Changée par la coordination"


# --- logos ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload,filename,message",
    [
        (b"not an image at all", "logo.png", "Le logo doit être une image PNG, JPEG ou WebP."),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'/>",
            "logo.svg",
            "Le logo doit être une image PNG, JPEG ou WebP.",
        ),
        ("gif", "logo.gif", "Le logo doit être une image PNG, JPEG ou WebP."),
        ("big", "logo.png", "Le logo ne doit pas dépasser 20 Ko."),
        ("wide", "logo.png", "Le logo ne doit pas dépasser 4000 pixels de côté."),
    ],
)
def test_logo_must_be_a_real_small_png_jpeg_or_webp(
    client, coordinator, make_card, monkeypatch, payload, filename, message
):
    # A small limit: Werkzeug's test client spools bodies over 500 KB to a file it never closes.
    monkeypatch.setattr("app.directory.services.LOGO_MAX_BYTES", 20 * 1024)
    if payload == "gif":
        payload = png(fmt="GIF")
    elif payload == "big":
        payload = png(size=(400, 400), fmt="BMP")[:100] + b"\0" * (20 * 1024)
    elif payload == "wide":
        payload = png(size=(4001, 2))
    organisation = make_card()
    data = edit_data(organisation, logo=(io.BytesIO(payload), filename))
    response = post_form(client, f"/acteurs/{organisation.id}/modifier", data=data)
    assert response.status_code == 400
    page = text(response)
    assert field_error(page, "logo") == message
    assert "Le fichier de logo choisi n'a pas été enregistré" in page
    assert reload(organisation).logo is None


@pytest.mark.parametrize("fmt,mime", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")])
def test_logo_is_stored_with_the_type_read_from_its_bytes_and_served(
    client, coordinator, make_card, fmt, mime
):
    organisation = make_card()
    data = edit_data(organisation, logo=(io.BytesIO(png(fmt=fmt)), "photo.bin"))
    assert post_form(client, f"/acteurs/{organisation.id}/modifier", data=data).status_code == 302
    response = client.get(f"/acteurs/{organisation.id}/logo")
    assert response.status_code == 200
    assert response.mimetype == mime and response.data == png(fmt=fmt)
    assert "private" in response.headers["Cache-Control"]
    assert f'src="/acteurs/{organisation.id}/logo"' in text(client.get(f"/acteurs/{organisation.id}"))
    # and removed
    organisation = reload(organisation)
    data = edit_data(organisation, remove_logo="y")
    assert post_form(client, f"/acteurs/{organisation.id}/modifier", data=data).status_code == 302
    assert reload(organisation).logo is None
    assert client.get(f"/acteurs/{organisation.id}/logo").status_code == 404


# --- the list: filters, sort, pagination ---------------------------------------------------------


def names_on(response) -> list[str]:
    return re.findall(
        r'<tr class="organisation-row">\s*<td>\s*<a href="/acteurs/\d+">([^<]+)</a>', text(response)
    )


@pytest.fixture
def directory(make_card, categories):
    """Six cards: caterers in and out of a QPV, a bookshop, an inactive caterer, one outside the metropolis."""
    resto, livre, loc = categories["restauration"], categories["librairie"], categories["location"]
    return {
        "tak": make_card(
            name="TAK-APRES", qpv=True, qpv_name="Bellevue", categories=[resto], description="Cuisine maison"
        ),
        "pain": make_card(
            name="Le Pain Partagé",
            qpv=True,
            qpv_name="Malakoff",
            legal_form=LegalForm.SCOP,
            vat_regime=VatRegime.SUBJECT,
            categories=[resto, loc],
        ),
        "saveurs": make_card(
            name="Saveurs du Monde", categories=[resto], commune="Rezé", postal_code="44400"
        ),
        "kenja": make_card(
            name="Kenja", qpv=True, qpv_name="Bellevue", categories=[livre], vat_regime=VatRegime.FRANCHISE
        ),
        "ferme": make_card(
            name="Ancienne Cantine", qpv=True, qpv_name="Breil", categories=[resto], active=False
        ),
        "loin": make_card(
            name="Ateliers d'Ancenis",
            commune="Ancenis-Saint-Géréon",
            postal_code="44150",
            categories=[loc],
            description="Location de barnums",
        ),
    }


def test_catering_in_a_priority_neighbourhood_in_two_clicks(client, coordinator, directory):
    listing = text(client.get("/acteurs"))
    first = re.search(
        r'<a class="btn btn-sm [^"]*filter-category"\s+href="([^"]+)"\s*>Restauration</a>', listing
    )
    step_one = client.get(first.group(1))
    assert sorted(names_on(step_one)) == ["Le Pain Partagé", "Saveurs du Monde", "TAK-APRES"]
    second = re.search(r'filter-qpv"\s+href="([^"]+)"', text(step_one))
    step_two = client.get(second.group(1))
    assert names_on(step_two) == ["Le Pain Partagé", "TAK-APRES"]
    assert "2 fiches" in text(step_two)


@pytest.mark.parametrize(
    "query,expected",
    [
        ("", ["Ateliers d'Ancenis", "Kenja", "Le Pain Partagé", "Saveurs du Monde", "TAK-APRES"]),
        ("category=restauration&qpv=oui", ["Le Pain Partagé", "TAK-APRES"]),
        ("q=kenja", ["Kenja"]),
        ("q=barnum", ["Ateliers d'Ancenis"]),  # in the description
        ("q=100%25", []),  # LIKE wildcards are literal
        ("category=librairie", ["Kenja"]),
        ("commune=rez%C3%A9", ["Saveurs du Monde"]),
        ("qpv=oui", ["Kenja", "Le Pain Partagé", "TAK-APRES"]),
        ("qpv=non", ["Ateliers d'Ancenis", "Saveurs du Monde"]),
        ("qpv=Bellevue", ["Kenja", "TAK-APRES"]),
        ("legal_form=scop", ["Le Pain Partagé"]),
        ("vat_regime=franchise", ["Kenja"]),
        ("active=non", ["Ancienne Cantine"]),
        ("active=tous&category=restauration&qpv=oui", ["Ancienne Cantine", "Le Pain Partagé", "TAK-APRES"]),
        (
            "legal_form=nonsense&sort=drop%20table",
            ["Ateliers d'Ancenis", "Kenja", "Le Pain Partagé", "Saveurs du Monde", "TAK-APRES"],
        ),
    ],
)
def test_filters(client, coordinator, directory, query, expected):
    response = client.get(f"/acteurs?{query}")
    assert response.status_code == 200
    assert names_on(response) == expected


@pytest.mark.parametrize(
    "query,expected",
    [
        (
            "sort=name&order=desc",
            ["TAK-APRES", "Saveurs du Monde", "Le Pain Partagé", "Kenja", "Ateliers d'Ancenis"],
        ),
        ("sort=commune", ["Ateliers d'Ancenis", "Kenja", "Le Pain Partagé", "TAK-APRES", "Saveurs du Monde"]),
        ("sort=qpv&qpv=oui", ["Kenja", "TAK-APRES", "Le Pain Partagé"]),
        (
            "sort=vat_regime&order=desc&category=restauration",
            ["Le Pain Partagé", "Saveurs du Monde", "TAK-APRES"],
        ),
    ],
)
def test_sort(client, coordinator, directory, query, expected):
    assert names_on(client.get(f"/acteurs?{query}")) == expected


def test_column_headers_sort_and_flip_keeping_the_filters(client, coordinator, directory):
    page = text(client.get("/acteurs?category=restauration"))
    assert 'href="/acteurs?category=restauration&sort=commune"' in page
    assert 'aria-sort="ascending"' in page  # by name, the default
    flipped = text(client.get("/acteurs?category=restauration&sort=commune"))
    assert 'href="/acteurs?category=restauration&sort=commune&order=desc"' in flipped


def test_export_links_carry_the_filters_shown(client, coordinator, directory):
    page = text(client.get("/acteurs?category=restauration&qpv=oui&sort=commune&page=1"))
    assert 'href="/acteurs/export.csv?category=restauration&qpv=oui&active=oui"' in page
    export = client.get("/acteurs/export.csv?category=restauration&qpv=oui&active=oui")
    assert export.status_code == 200
    body = export.get_data(as_text=True)
    assert "TAK-APRES" in body and "Le Pain Partagé" in body
    assert "Saveurs du Monde" not in body and "Ancienne Cantine" not in body


def test_pagination(client, coordinator, make_card):
    for n in range(30):
        make_card(name=f"Acteur {n:02d}")
    first = client.get("/acteurs?per_page=25")
    assert names_on(first) == [f"Acteur {n:02d}" for n in range(25)]
    assert "30 fiches" in text(first)
    assert 'href="/acteurs?page=2&per_page=25"' in text(first)
    second = client.get("/acteurs?per_page=25&page=2")
    assert names_on(second) == [f"Acteur {n:02d}" for n in range(25, 30)]
    beyond = client.get("/acteurs?per_page=25&page=9")
    assert beyond.status_code == 200 and names_on(beyond) == []
    assert len(names_on(client.get("/acteurs"))) == 30  # 50 per page by default


def categories_on(response) -> dict[str, list[str]]:
    """Each row's name and the categories it shows, in their order."""
    rows = re.findall(r'<tr class="organisation-row">(.*?)</tr>', text(response), re.S)
    return {
        re.search(r'<a href="/acteurs/\d+">([^<]+)</a>', row).group(1): re.findall(
            r'<span class="badge rounded-pill[^"]*">([^<]+)</span>', row
        )
        for row in rows
    }


def test_each_row_shows_its_own_categories_in_their_order(client, coordinator, make_card, make_category):
    """The list reads each organisation's categories with its row (ids) and hands it those of the
    categories read for the filter: every one of them, an inactive one too, in the categories'
    order whatever the order they were given in; none for a card without any."""
    # Made (ids) in the opposite of their order (positions).
    later, sooner = make_category(name="Accueil", position=20), make_category(name="Bar", position=10)
    retired = make_category(name="Vestiaire", position=5, active=False)
    make_card(name="Alpha", categories=[later, sooner])
    make_card(name="Bêta", categories=[later, retired])
    make_card(name="Gamma", categories=[])
    db.session.commit()
    shown = categories_on(client.get("/acteurs"))
    assert shown == {"Alpha": ["Bar", "Accueil"], "Bêta": ["Vestiaire", "Accueil"], "Gamma": []}
    # Filtered on one category, a row still shows all of its own.
    assert categories_on(client.get(f"/acteurs?category={retired.code}")) == {
        "Bêta": ["Vestiaire", "Accueil"]
    }


# --- a constant number of queries ----------------------------------------------------------------


@contextmanager
def count_statements():
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    # On the Engine class: the tests' session is bound to a connection, not to db.engine's pool.
    sa_event.listen(Engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        sa_event.remove(Engine, "before_cursor_execute", listener)


def measure(client, url: str) -> int:
    client.get(url)  # warm up
    db.session.expunge_all()  # a fresh request loads everything from the database
    with count_statements() as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements)


def test_the_statement_counter_counts(client, coordinator):
    with count_statements() as statements:
        db.session.execute(sa.text("SELECT 1"))
        db.session.execute(sa.text("SELECT 2"))
    assert len([s for s in statements if s.startswith("SELECT")]) == 2
    assert measure(client, "/acteurs") > 3  # the page's own queries are seen too


def test_the_list_page_keeps_a_constant_query_count(client, coordinator, make_card, categories):
    ids = [categories["restauration"].id, categories["librairie"].id]

    def add(n: int):
        for i in range(n):
            make_card(
                name=f"Acteur {i}",
                categories=[db.session.get(Category, id_) for id_ in ids],
                qpv=bool(i % 2),
                qpv_name="Bellevue" if i % 2 else None,
            )
        db.session.flush()

    add(5)
    small = measure(client, "/acteurs?per_page=50")
    assert len(names_on(client.get("/acteurs?per_page=50"))) == 5
    add(35)
    big = measure(client, "/acteurs?per_page=50")
    assert len(names_on(client.get("/acteurs?per_page=50"))) == 40
    assert small == big
    assert big <= 10  # the page's budget
    filtered = measure(client, "/acteurs?per_page=50&category=restauration&qpv=oui&sort=commune")
    assert filtered == big


# --- categories ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed,stored",
    [
        ("5,5", D("0.0550")),
        ("5.5", D("0.0550")),
        ("10", D("0.1000")),
        ("20 %", D("0.2000")),
        ("2,10", D("0.0210")),
        ("0", D("0")),
    ],
)
def test_category_vat_rate_typed_as_a_percentage_is_stored_exactly(client, coordinator, typed, stored):
    response = post_form(
        client,
        "/categories",
        data={"name": "Librairie", "default_vat_rate": typed, "position": "3", "active": "y"},
    )
    assert response.status_code == 302
    category = db.session.scalar(sa.select(Category).where(Category.name == "Librairie"))
    assert category.default_vat_rate == stored
    assert str(category.default_vat_rate) == str(stored.quantize(D("0.0001")))
    assert (category.code, category.position, category.active) == ("librairie", 3, True)


@pytest.mark.parametrize(
    "typed,message",
    [
        ("5,555", "Le taux s'écrit avec au plus deux décimales (ex. 5,5)."),
        ("cinq", "Indiquez un taux en pourcentage, par exemple 20, 10 ou 5,5."),
        ("-5", "Indiquez un taux en pourcentage, par exemple 20, 10 ou 5,5."),
        ("150", "Le taux de TVA doit être compris entre 0 et 100 %."),
        ("", "Ce champ est requis."),
    ],
)
def test_category_vat_rate_errors(client, coordinator, typed, message):
    response = post_form(client, "/categories", data={"name": "Librairie", "default_vat_rate": typed})
    assert response.status_code == 400
    page = text(response)
    assert field_error(page, "default_vat_rate") == message
    assert 'value="Librairie"' in page
    assert count(Category) == 0


def test_coordinator_lists_and_edits_categories(client, coordinator, categories, make_card):
    make_card(categories=[categories["librairie"]])
    page = text(client.get("/categories"))
    assert all(re.search(rf">{rate} ?%<", page) for rate in ("5,5", "10", "20"))
    librairie = categories["librairie"]
    url = f"/categories/{librairie.id}/modifier"
    assert 'value="5,5"' in text(client.get(url))
    response = post_form(
        client,
        url,
        data={
            "name": "Livres",
            "default_vat_rate": "20",
            "position": "9",
            "version_id": librairie.version_id,
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    librairie = db.session.get(Category, librairie.id)
    assert (librairie.name, librairie.default_vat_rate, librairie.position, librairie.active) == (
        "Livres",
        D("0.2000"),
        9,
        False,
    )
    assert librairie.code == "librairie"  # never changes
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "category.updated"))
    assert entry.changes["default_vat_rate"] == ["0.0550", "0.2000"]
    assert entry.changes["active"] == [True, False]
    # an inactive category is no longer offered on a new card, but stays filterable
    form = text(client.get("/acteurs/nouveau"))
    assert f'value="{librairie.id}"' not in form
    assert "Livres (inactive)" in text(client.get("/acteurs"))


def test_category_name_and_code_are_unique(client, coordinator, categories):
    db.session.commit()
    response = post_form(client, "/categories", data={"name": "restauration", "default_vat_rate": "10"})
    assert response.status_code == 400
    assert field_error(text(response), "name") == "Une catégorie porte déjà ce nom."
    response = post_form(
        client,
        "/categories",
        data={"name": "Restauration rapide", "code": "restauration", "default_vat_rate": "10"},
    )
    assert field_error(text(response), "code") == "Le code « restauration » est déjà pris."
    assert count(Category) == 3


# --- card panels: events, partners, payouts ------------------------------------------------------


def add_lot(event, category, title, position=0):
    from offers.models import Lot

    lot = Lot(event=event, category_id=category.id, title=title, position=position)
    db.session.add(lot)
    db.session.flush()
    return lot


def add_assignment(lot, organisation, status):
    from offers.models import Assignment

    assignment = Assignment(lot=lot, organisation_id=organisation.id, status=status)
    db.session.add(assignment)
    db.session.flush()
    return assignment


def add_line(lot, organisation, quantity, unit_price, vat_rate="0.1000"):
    from offers.models import Line

    line = Line(
        lot=lot,
        organisation_id=organisation.id,
        description="Prestation",
        quantity=D(quantity),
        unit_price=D(unit_price),
        vat_rate=D(vat_rate),
    )
    db.session.add(line)
    db.session.flush()
    return line


def add_payout(event, organisation, amount, paid_on=None, reference=""):
    from invoicing.models import Payout, PayoutStatus

    payout = Payout(
        event_id=event.id,
        organisation_id=organisation.id,
        share=D(amount),
        commission=D("0.00"),
        net_amount=D(amount),
        amount=D(amount),
        status=PayoutStatus.PAID if paid_on else PayoutStatus.DUE,
        paid_on=paid_on,
        reference=reference,
    )
    db.session.add(payout)
    db.session.flush()
    return payout


@pytest.fixture
def worked(make_event, make_card, categories):
    """TAK-APRES worked on two events with Kenja, on one with Pain; Refus declined; Seul is elsewhere."""
    from offers.models import AssignmentStatus as S

    tak, kenja, pain, refus, seul = (
        make_card(name=n) for n in ("TAK-APRES", "Kenja", "Le Pain Partagé", "Refus", "Seul")
    )
    assises = make_event(
        title="Assises 2011",
        starts_at=datetime(2011, 4, 14, 7, tzinfo=UTC),
        ends_at=datetime(2011, 4, 15, 17, tzinfo=UTC),
    )
    forum = make_event(
        title="Forum ESS",
        starts_at=datetime(2012, 6, 1, 7, tzinfo=UTC),
        ends_at=datetime(2012, 6, 1, 17, tzinfo=UTC),
    )
    other = make_event(
        title="Ailleurs",
        starts_at=datetime(2013, 1, 1, 7, tzinfo=UTC),
        ends_at=datetime(2013, 1, 1, 17, tzinfo=UTC),
    )
    buffet = add_lot(assises, categories["restauration"], "Buffet du midi", 0)
    pause = add_lot(assises, categories["restauration"], "Pauses café", 1)
    livres = add_lot(assises, categories["librairie"], "Librairie", 2)
    add_assignment(buffet, tak, S.ACCEPTED)
    add_assignment(pause, tak, S.ACCEPTED)
    add_line(buffet, tak, "400", "12.50")  # 5 000,00
    add_line(pause, tak, "7.5", "32.55")  # 244,125 → 244,13
    add_assignment(livres, kenja, S.ACCEPTED)
    add_assignment(livres, refus, S.DECLINED)
    add_assignment(buffet, pain, S.ACCEPTED)
    repas = add_lot(forum, categories["restauration"], "Repas", 0)
    stand = add_lot(forum, categories["librairie"], "Stand livres", 1)
    add_line(repas, tak, "100", "10.00")  # a line without accepted assignment still counts: 1 000,00
    add_assignment(stand, kenja, S.ACCEPTED)
    add_assignment(add_lot(other, categories["location"], "Barnums"), seul, S.ACCEPTED)
    add_payout(assises, tak, "4750.00", paid_on=date(2011, 6, 30), reference="VIR-2011-06")
    add_payout(forum, tak, "950.00")
    add_payout(assises, kenja, "300.00", paid_on=date(2011, 6, 30))
    return {"tak": tak, "kenja": kenja, "pain": pain, "refus": refus, "seul": seul}


def section(page: str, title: str) -> str:
    match = re.search(rf'<h2 class="h5" id="panneau-\d+">{re.escape(title)}</h2>(.*?)</section>', page, re.S)
    assert match, f"no panel {title!r}"
    return match.group(1)


def test_card_panels_show_events_partners_and_payouts(client, coordinator, worked):
    page = text(client.get(f"/acteurs/{worked['tak'].id}"))
    events = section(page, "Événements")
    assert events.index("Forum ESS") < events.index("Assises 2011")  # newest first
    assert "Buffet du midi, Pauses café" in events and "Librairie" not in events
    assert "5 244,13 €" in events and "1 000,00 €" in events and "6 244,13 €" in events
    assert "Ailleurs" not in events
    partners = section(page, "A travaillé avec")
    assert re.findall(r">([^<]+)</a>", partners) == ["Kenja", "Le Pain Partagé"]
    assert "2 événements en commun" in partners and "1 événement en commun" in partners
    assert "Refus" not in partners and "Seul" not in partners
    payouts = section(page, "Reversements")
    assert "4 750,00 €" in payouts and "950,00 €" in payouts and "VIR-2011-06" in payouts
    assert "30 juin 2011" in payouts
    assert re.search(r'total-paid">4 750,00 €<', payouts) and re.search(r'total-due">950,00 €<', payouts)
    assert "300,00 €" not in payouts  # Kenja's


def test_treasurer_sees_the_panels_and_actors_never_get_them(client, auth, make_user, worked):
    auth.login(make_user("treasurer").email)
    page = text(client.get(f"/acteurs/{worked['tak'].id}"))
    assert "Reversements" in page and "A travaillé avec" in page and "Événements" in page
    actor = make_user("actor", organisation=worked["tak"])
    assert panels_for(worked["tak"], actor) == []


def test_a_card_without_history_shows_empty_panels(client, coordinator, make_card):
    page = text(client.get(f"/acteurs/{make_card().id}"))
    assert "Aucun événement pour l'instant." in page
    assert "Aucun autre acteur sur ses événements pour l'instant." in page
    assert "Aucun reversement pour l'instant." in page


def test_the_card_page_keeps_a_constant_query_count(client, coordinator, make_event, make_card, categories):
    from offers.models import AssignmentStatus as S

    def busy(events: int) -> Organisation:
        me = make_card()
        for n in range(events):
            event = make_event()
            lot = add_lot(event, categories["restauration"], f"Lot {n}")
            add_assignment(lot, me, S.ACCEPTED)
            add_assignment(lot, make_card(), S.ACCEPTED)
            add_line(lot, me, "2", "10.00")
            add_payout(event, me, "20.00", paid_on=date(2026, 5, 1))
        return me

    quiet, loaded = busy(1), busy(8)
    assert measure(client, f"/acteurs/{quiet.id}") == measure(client, f"/acteurs/{loaded.id}")
