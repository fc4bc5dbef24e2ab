"""How the coordination fee is charged, per event: a fee line added to the client, a commission
kept from the actors' shares, or both — through the event form, its page, the audit and duplication."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from app.errors import InvalidValue
from app.extensions import db
from app.models import AuditEntry
from offers.models import Event, FeeKind
from offers.models.event import FeeCharging
from offers.services.events import EventFields, create_event
from tests.conftest import csrf_token
from tests.offers.test_events import event_data, events_count, plain, post_form, section, text


@pytest.fixture
def coordinator(make_user, auth):
    user = make_user("coordinator", name="Camille Coordination")
    auth.login(user.email)
    return user


def edit(client, event, **over):
    """Post the edit form of ``event`` with its current version and ``over``."""
    page = client.get(f"/evenements/{event.id}/modifier").get_data(as_text=True)
    data = event_data(event.client_id, title=event.title, fee_kind="none", fee_percent="", **over)
    data["version_id"] = re.search(r'name="version_id" type="hidden" value="(\d+)"', page)[1]
    data["csrf_token"] = csrf_token(page)
    db.session.commit()
    return client.post(f"/evenements/{event.id}/modifier", data=data)


@pytest.mark.parametrize(
    "fee_kind,rate,expected",
    [
        (FeeKind.NONE, D("0"), FeeCharging.NONE),
        (FeeKind.PERCENT, D("0"), FeeCharging.CLIENT),
        (FeeKind.FIXED, D("0"), FeeCharging.CLIENT),
        (FeeKind.NONE, D("0.0500"), FeeCharging.ACTORS),
        (FeeKind.PERCENT, D("0.0500"), FeeCharging.BOTH),
    ],
)
def test_who_pays_the_fee_is_derived_from_the_fee_line_and_the_commission(
    make_event, fee_kind, rate, expected
):
    event = make_event(fee_kind=fee_kind, fee_rate=D("0.08"), fee_amount=D("100"), commission_rate=rate)
    assert event.fee_charging == expected


def test_a_commission_typed_with_a_comma_is_stored_as_a_fraction_and_shown(client, coordinator, make_client):
    buyer = make_client()
    response = post_form(client, "/evenements/nouveau", data=event_data(buyer.id, commission_percent="7,5"))
    assert response.status_code == 302
    event = db.session.scalar(sa.select(Event).order_by(Event.id.desc()))
    assert (event.commission_rate, event.fee_charging) == (D("0.0750"), FeeCharging.BOTH)
    page = plain(text(client.get(f"/evenements/{event.id}")))
    assert (
        "Commission sur les acteurs 7,5% de la part de chaque acteur, retenue sur son reversement "
        "(invisible pour le client)" in page
    )
    assert "Qui paie les frais le client (une ligne de frais) et les acteurs (une commission)" in page
    created = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.event_id == event.id, AuditEntry.action == "event.created")
    )
    assert created.changes["commission_rate"] == [None, "0.0750"]


def test_no_commission_by_default(client, coordinator, make_client):
    buyer = make_client()
    assert post_form(client, "/evenements/nouveau", data=event_data(buyer.id)).status_code == 302
    event = db.session.scalar(sa.select(Event).order_by(Event.id.desc()))
    assert (event.commission_rate, event.fee_charging) == (D("0.0000"), FeeCharging.CLIENT)
    assert "Commission sur les acteurs aucune" in plain(text(client.get(f"/evenements/{event.id}")))


@pytest.mark.parametrize(
    "value,message",
    [
        ("100", "La commission doit être comprise entre 0 et 100 % (exclu)."),
        ("250", "La commission doit être comprise entre 0 et 100 % (exclu)."),
        ("-1", "La valeur doit être au moins 0."),
        ("5,555", "Au plus 2 décimales."),
        ("cinq", "Nombre attendu (ex. 12,50)."),
    ],
)
def test_a_bad_commission_is_refused_beside_the_field_and_nothing_is_created(
    client, coordinator, make_client, value, message
):
    buyer = make_client()
    before = events_count()
    response = post_form(client, "/evenements/nouveau", data=event_data(buyer.id, commission_percent=value))
    page = text(response)
    assert response.status_code == 400
    assert f'<div class="invalid-feedback" id="commission_percent-erreur">{message}</div>' in page
    assert events_count() == before


@pytest.mark.parametrize("value", ["100", "-1", "5,555"])
def test_a_bad_commission_on_edit_changes_nothing(client, coordinator, make_event, value):
    event = make_event(commission_rate=D("0.0500"))
    version = event.version_id
    response = edit(client, event, commission_percent=value)
    assert response.status_code == 400
    db.session.expire_all()
    stored = db.session.get(Event, event.id)
    assert (stored.commission_rate, stored.version_id) == (D("0.0500"), version)
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.event_id == event.id, AuditEntry.action == "event.updated")
        )
        == 0
    )


def test_editing_the_commission_keeps_before_and_after_in_the_history(client, coordinator, make_event):
    event = make_event(commission_rate=D("0.0500"))
    page = client.get(f"/evenements/{event.id}/modifier").get_data(as_text=True)
    assert 'name="commission_percent" type="text" value="5"' in page
    response = edit(client, event, commission_percent="12,25")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Event, event.id).commission_rate == D("0.1225")
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.event_id == event.id, AuditEntry.action == "event.updated")
    )
    assert entry.changes["commission_rate"] == ["0.0500", "0.1225"]
    history = plain(section(text(client.get(f"/evenements/{event.id}")), 'id="historique"'))
    assert "Commission sur les parts des acteurs : 5% → 12,25%" in history


def test_emptying_the_commission_removes_it(client, coordinator, make_event):
    event = make_event(commission_rate=D("0.0500"))
    assert edit(client, event, commission_percent="").status_code == 302
    db.session.expire_all()
    assert db.session.get(Event, event.id).commission_rate == D("0.0000")
    assert db.session.get(Event, event.id).fee_charging == FeeCharging.NONE


@pytest.mark.parametrize("rate", [D("1"), D("-0.01"), D("0.12345")])
def test_the_service_refuses_a_commission_out_of_bounds(make_user, make_client, rate):
    from datetime import UTC, datetime

    user, buyer = make_user("coordinator"), make_client()
    fields = EventFields(
        title="Forum",
        client_id=buyer.id,
        starts_at=datetime(2026, 4, 15, 7, 0, tzinfo=UTC),
        ends_at=datetime(2026, 4, 15, 17, 0, tzinfo=UTC),
        commission_rate=rate,
    )
    with pytest.raises(InvalidValue) as refused:
        create_event(fields, user)
    assert refused.value.field == "commission_percent"


def test_duplicate_copies_the_commission(client, coordinator, make_event):
    source = make_event(title="Forum de janvier", commission_rate=D("0.0650"))
    response = post_form(
        client,
        f"/evenements/{source.id}/dupliquer",
        data={
            "title": "Forum de juin",
            "client_id": str(source.client_id),
            "starts_at": "2026-06-16T09:00",
            "ends_at": "2026-06-16T18:00",
        },
    )
    assert response.status_code == 302
    copy = db.session.scalar(sa.select(Event).where(Event.title == "Forum de juin"))
    assert copy.commission_rate == D("0.0650")
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.event_id == copy.id, AuditEntry.action == "event.duplicated")
    )
    assert entry.changes["commission_rate"] == [None, "0.0650"]
