"""Billing mandates: granted by the actor in its portal or recorded by the coordination with the
signed PDF, dates of validity, revocation, one live mandate per actor, prefixes never mixed; every
refusal with its French message and nothing stored; shown on the card; audited."""

from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy as sa

from app.errors import DomainError, Forbidden, InvalidValue
from app.extensions import db
from app.models import AuditEntry, CoordinatorIdentity
from invoicing.models import BillingMandate, MandateSource
from invoicing.services import mandates as service
from tests.conftest import PASSWORD, csrf_token
from tests.offers.quote_fixtures import IDENTITY

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def identity(app):
    if db.session.get(CoordinatorIdentity, 1) is None:
        db.session.add(CoordinatorIdentity(**IDENTITY))
        db.session.flush()


@pytest.fixture
def actor(make_user, make_organisation, identity):
    return make_user("actor", organisation=make_organisation(name="Méli-Mélo"))


def login(client, user):
    page = client.get("/connexion")
    response = client.post(
        "/connexion",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 302


def test_actor_grants_its_mandate_in_the_portal(client, actor):
    login(client, actor)
    page = client.get("/portail/facturation")
    assert page.status_code == 200
    assert "Aucune facture à votre nom" in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    data = {"prefix": "meli", "valid_from": "2026-01-01", "valid_until": "", "csrf_token": token}
    refused = client.post("/portail/facturation/mandat", data=data)
    assert refused.status_code == 400
    assert "Cochez la case pour donner le mandat." in refused.get_data(as_text=True)
    assert service.live_mandate(actor.organisation_id) is None
    response = client.post("/portail/facturation/mandat", data={**data, "agreed": "y"})
    assert response.status_code == 302
    mandate = service.live_mandate(actor.organisation_id)
    assert (mandate.source, mandate.prefix, mandate.valid_from, mandate.valid_until) == (
        MandateSource.PORTAL,
        "MELI",
        date(2026, 1, 1),
        None,
    )
    assert mandate.granted_by_id == actor.id and mandate.granted_ip == "127.0.0.1"
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "mandate.granted"))
    assert entry.summary == ("Mandat de facturation donné dans le portail : série MELI, du 01/01/2026 au —")
    assert entry.ip == "127.0.0.1"
    page = client.get("/portail/facturation").get_data(as_text=True)
    assert "votre série MELI" in page


def test_coordination_records_a_signed_mandate_type_and_size_checked(client, make_user, actor, monkeypatch):
    # A small cap keeps the test client's upload in memory (the real one is 2 Mo).
    monkeypatch.setattr(service, "MAX_DOCUMENT_BYTES", 2 * 1024 * 1024 // 1024)
    coordinator = make_user("coordinator")
    login(client, coordinator)
    card = f"/acteurs/{actor.organisation_id}"
    page = client.get(card).get_data(as_text=True)
    assert "Aucun mandat" in page
    token = csrf_token(page)
    url = f"/acteurs/{actor.organisation_id}/mandat"

    def post(content: bytes, name="mandat.pdf"):
        return client.post(
            url,
            data={
                "prefix": "MELI",
                "valid_from": "2026-01-01",
                "valid_until": "2026-12-31",
                "document": (io.BytesIO(content), name),
                "csrf_token": token,
            },
            content_type="multipart/form-data",
        )

    not_pdf = post(b"GIF89a....", "mandat.pdf")
    assert not_pdf.status_code == 303
    too_big = post(PDF + b"0" * service.MAX_DOCUMENT_BYTES)
    assert too_big.status_code == 303
    assert service.live_mandate(actor.organisation_id) is None
    flashed = client.get(card).get_data(as_text=True)
    assert "Le mandat signé doit être un fichier PDF." in flashed
    assert "Le mandat signé dépasse 2 Ko : réduisez le fichier." in flashed
    ok = post(PDF)
    assert ok.status_code == 302
    mandate = service.live_mandate(actor.organisation_id)
    assert mandate.source == MandateSource.UPLOAD and mandate.document == PDF
    assert len(mandate.document_sha256) == 64
    card_page = client.get(card).get_data(as_text=True)
    assert "Mandat valable" in card_page or "Mandat hors de sa période" in card_page
    assert "Série MELI" in card_page
    pdf = client.get(f"/mandats/{mandate.id}/pdf")
    assert (pdf.status_code, pdf.data, pdf.headers["Content-Type"]) == (200, PDF, "application/pdf")


def test_one_live_mandate_and_prefixes_never_mixed(make_user, make_organisation, actor):
    coordinator = make_user("coordinator")
    organisation = actor.organisation
    service.grant_in_portal(organisation, actor, prefix="MELI", valid_from=date(2026, 1, 1), agreed=True)
    with pytest.raises(DomainError) as second:
        service.record_signed(
            organisation, coordinator, prefix="MELI2", valid_from=date(2026, 1, 1), document=PDF
        )
    assert second.value.message == (
        "Méli-Mélo a déjà un mandat de facturation en cours (depuis le 01/01/2026) : "
        "révoquez-le avant d'en enregistrer un autre."
    )
    other = make_organisation(name="L'Équipage")
    for prefix, message in (
        ("FAC", "Le préfixe FAC est celui d'une série de la coordination : choisissez-en un autre."),
        ("AV", "Le préfixe AV est celui d'une série de la coordination : choisissez-en un autre."),
        ("MELI", "Le préfixe MELI est déjà celui de la série de Méli-Mélo."),
        (
            "1AB",
            "Le préfixe compte 2 à 10 lettres majuscules ou chiffres et commence par une lettre (ex. MELI).",
        ),
        (
            "EQ-1",
            "Le préfixe compte 2 à 10 lettres majuscules ou chiffres et commence par une lettre (ex. MELI).",
        ),
    ):
        with pytest.raises(InvalidValue) as refused:
            service.record_signed(
                other, coordinator, prefix=prefix, valid_from=date(2026, 1, 1), document=PDF
            )
        assert (refused.value.message, refused.value.field) == (message, "prefix")
    with pytest.raises(InvalidValue) as period:
        service.record_signed(
            other,
            coordinator,
            prefix="EQUI",
            valid_from=date(2026, 2, 1),
            valid_until=date(2026, 1, 1),
            document=PDF,
        )
    assert period.value.message == "La fin du mandat précède son début."
    assert service.live_mandate(other.id) is None


def test_who_may_grant_and_revoke(make_user, make_organisation, actor):
    stranger = make_user("actor")
    treasurer = make_user("treasurer")
    with pytest.raises(Forbidden):
        service.grant_in_portal(
            actor.organisation, stranger, prefix="MELI", valid_from=date(2026, 1, 1), agreed=True
        )
    with pytest.raises(Forbidden):
        service.record_signed(
            actor.organisation, treasurer, prefix="MELI", valid_from=date(2026, 1, 1), document=PDF
        )
    mandate = service.grant_in_portal(
        actor.organisation, actor, prefix="MELI", valid_from=date(2026, 1, 1), agreed=True
    )
    with pytest.raises(Forbidden):
        service.revoke(mandate, stranger, reason="Pour voir")
    assert mandate.revoked_at is None


def test_validity_dates_and_revocation_say_why_nothing_is_issued(make_user, actor):
    organisation = actor.organisation
    with pytest.raises(service.MandateMissing) as none:
        service.require_mandate(organisation, date(2026, 3, 1))
    assert none.value.message == (
        "Rien ne peut être émis au nom de Méli-Mélo : il n'a pas donné de mandat de facturation. "
        "Demandez-lui de facturer lui-même sa part, puis enregistrez sa facture."
    )
    mandate = service.grant_in_portal(
        organisation,
        actor,
        prefix="MELI",
        valid_from=date(2026, 2, 1),
        valid_until=date(2026, 6, 30),
        agreed=True,
    )
    assert service.require_mandate(organisation, date(2026, 2, 1)) is mandate
    assert service.require_mandate(organisation, date(2026, 6, 30)) is mandate
    with pytest.raises(service.MandateMissing) as early:
        service.require_mandate(organisation, date(2026, 1, 31))
    assert "son mandat ne court qu'à partir du 01/02/2026" in early.value.message
    with pytest.raises(service.MandateMissing) as late:
        service.require_mandate(organisation, date(2026, 7, 1))
    assert "son mandat a pris fin le 30/06/2026" in late.value.message
    with pytest.raises(InvalidValue):
        service.revoke(mandate, actor, reason="  ")
    service.revoke(mandate, actor, reason="Nous avons un logiciel de facturation")
    with pytest.raises(service.MandateMissing) as revoked:
        service.require_mandate(organisation, date(2026, 3, 1))
    assert "son mandat de facturation a été révoqué le" in revoked.value.message
    with pytest.raises(DomainError) as again:
        service.revoke(mandate, actor, reason="Encore")
    assert again.value.message == "Ce mandat est déjà révoqué."
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "mandate.revoked"))
    assert entry.summary == (
        "Mandat de facturation (série MELI) révoqué : Nous avons un logiciel de facturation"
    )
    # A new mandate may follow a revoked one.
    again = service.grant_in_portal(
        organisation, actor, prefix="MELI", valid_from=date(2026, 3, 1), agreed=True
    )
    assert service.require_mandate(organisation, date(2026, 3, 1)) is again


def test_another_actor_cannot_revoke_or_read_a_mandate(client, make_user, actor):
    mandate = service.record_signed(
        actor.organisation, make_user("coordinator"), prefix="MELI", valid_from=date(2026, 1, 1), document=PDF
    )
    db.session.flush()
    stranger = make_user("actor")
    login(client, stranger)
    token = csrf_token(client.get("/portail/facturation").get_data(as_text=True))
    assert (
        client.post(f"/mandats/{mandate.id}/revoquer", data={"reason": "x", "csrf_token": token}).status_code
        == 404
    )
    assert client.get(f"/mandats/{mandate.id}/pdf").status_code == 404
    assert mandate.revoked_at is None
    owner_sees = db.session.scalar(sa.select(BillingMandate.id).where(BillingMandate.revoked_at.is_(None)))
    assert owner_sees == mandate.id
