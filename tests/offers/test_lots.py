"""Lots: made from categories within the event's dates, edited with optimistic locking, reordered,
cancelled (struck out, out of the totals) and reopened — through the app, as the coordinator."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry
from offers.models import EventStatus, Lot, LotStatus
from tests.conftest import csrf_token
from tests.offers.test_events import add_line, add_lot, plain, post_form, text


@pytest.fixture
def coordinator(make_user, auth):
    user = make_user("coordinator", name="Camille Coordination")
    auth.login(user.email)
    return user


def lot_data(category_id: int, **over) -> dict:
    data = {
        "category_id": str(category_id),
        "title": "Pauses café",
        "specification": "Café, thé, jus de fruits locaux, biscuits.",
        "place": "Hall d'accueil",
        "starts_at": "2026-04-15T10:00",
        "ends_at": "2026-04-15T10:30",
        "quantities": "3 pauses de 150 personnes",
        "response_deadline": "2026-03-25T18:00",
    }
    data.update(over)
    return data


def lots_of(event) -> list[Lot]:
    return list(
        db.session.scalars(sa.select(Lot).where(Lot.event_id == event.id).order_by(Lot.position, Lot.id))
    )


# --- create --------------------------------------------------------------------------------------


def test_create_a_lot_from_a_category(client, coordinator, make_event, make_category):
    event = make_event()  # 15 April 2026, 9:00-19:00 in Paris
    first = add_lot(event, make_category(), "Accueil")
    coffee = make_category(name="Pause café", default_vat_rate=D("0.1000"))
    response = post_form(client, f"/evenements/{event.id}/lots/nouveau", data=lot_data(coffee.id))
    assert response.status_code == 302
    lots = lots_of(event)
    assert [lot.title for lot in lots] == ["Accueil", "Pauses café"]
    lot = lots[1]
    assert response.headers["Location"] == f"/lots/{lot.id}"  # its page, to staff it
    assert lot.category_id == coffee.id
    assert lot.position == first.position + 1
    assert lot.starts_at == datetime(2026, 4, 15, 8, 0, tzinfo=UTC)
    assert lot.ends_at == datetime(2026, 4, 15, 8, 30, tzinfo=UTC)
    assert lot.response_deadline == datetime(2026, 3, 25, 17, 0, tzinfo=UTC)
    assert (lot.place, lot.quantities, lot.status) == (
        "Hall d'accueil",
        "3 pauses de 150 personnes",
        LotStatus.OPEN,
    )
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.object_type == "lots", AuditEntry.object_id == lot.id)
    )
    assert (entry.action, entry.event_id, entry.user_id) == ("lot.created", event.id, coordinator.id)


@pytest.mark.parametrize(
    "over,field,message",
    [
        (
            {"starts_at": "2026-04-15T08:30"},
            "starts_at",
            "le début (15/04/2026 08:30) doit être pendant l'événement",
        ),
        (
            {"ends_at": "2026-04-15T19:30"},
            "ends_at",
            "la fin (15/04/2026 19:30) doit être pendant l'événement",
        ),
        (
            {"starts_at": "2026-04-16T10:00", "ends_at": "2026-04-16T11:00"},
            "starts_at",
            "le début (16/04/2026 10:00) doit être pendant",
        ),
        ({"ends_at": "2026-04-15T09:30"}, "ends_at", "La fin doit être après le début."),
        (
            {"response_deadline": "2026-04-15T09:30"},
            "response_deadline",
            "la date limite de réponse doit précéder",
        ),
        ({"title": ""}, "title", "Ce champ est requis."),
        ({"starts_at": "demain"}, "starts_at", "Date et heure attendues"),
    ],
)
def test_dates_outside_the_event_are_refused(
    client, coordinator, make_event, make_category, over, field, message
):
    event = make_event()
    category = make_category()
    response = post_form(client, f"/evenements/{event.id}/lots/nouveau", data=lot_data(category.id, **over))
    assert response.status_code == 400
    page = text(response)
    # The message sits beside its field.
    assert re.search(rf'id="{field}-erreur">[^<]*{re.escape(message)}', page, re.IGNORECASE), page[-3000:]
    assert lots_of(event) == []


def test_an_inactive_category_is_not_offered(client, coordinator, make_event, make_category):
    event = make_event()
    old = make_category(name="Minitel", active=False)
    page = text(client.get(f"/evenements/{event.id}/lots/nouveau"))
    assert "Minitel" not in page
    response = post_form(client, f"/evenements/{event.id}/lots/nouveau", data=lot_data(old.id))
    assert response.status_code == 400
    assert lots_of(event) == []


def test_no_lot_is_added_to_a_closed_event(client, coordinator, make_event, make_category):
    event = make_event(status=EventStatus.CLOSED)
    response = post_form(client, f"/evenements/{event.id}/lots/nouveau", data=lot_data(make_category().id))
    assert response.status_code == 409
    assert "il ne se modifie plus" in text(response)
    assert lots_of(event) == []


# --- edit ----------------------------------------------------------------------------------------


def test_edit_a_lot_and_keep_its_history(client, coordinator, make_event, make_category):
    event = make_event()
    food, coffee = make_category(name="Restauration"), make_category(name="Pause café")
    lot = add_lot(event, food, "Déjeuner", place="Salle 1")
    data = lot_data(coffee.id, title="Déjeuner assis", place="Grande salle", version_id=str(lot.version_id))
    response = post_form(client, f"/lots/{lot.id}/modifier", data=data)
    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(Lot, lot.id)
    assert (stored.title, stored.place, stored.category_id) == ("Déjeuner assis", "Grande salle", coffee.id)
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "lot.updated"))
    assert entry.event_id == event.id
    assert entry.changes["place"] == ["Salle 1", "Grande salle"]
    assert entry.changes["category"] == ["Restauration", "Pause café"]
    history = plain(text(client.get(f"/evenements/{event.id}")))
    assert "Lieu précis : Salle 1 → Grande salle" in history


def test_a_stale_lot_form_is_refused_and_overwrites_nothing(client, coordinator, make_event, make_category):
    event = make_event()
    category = make_category()
    lot = add_lot(event, category, "Accueil", place="Hall")
    stale = str(lot.version_id)
    lot.place = "Parvis"  # someone else's save
    db.session.commit()
    response = post_form(
        client,
        f"/lots/{lot.id}/modifier",
        data=lot_data(category.id, title="Accueil VIP", place="Salon", version_id=stale),
    )
    assert response.status_code == 409
    page = text(response)
    assert "Quelqu'un a modifié cet élément" in page
    assert 'value="Salon"' in page and "Parvis" in page
    db.session.expire_all()
    stored = db.session.get(Lot, lot.id)
    assert (stored.title, stored.place) == ("Accueil", "Parvis")


# --- reorder -------------------------------------------------------------------------------------


def move(client, event, lot, direction):
    return post_form(client, f"/evenements/{event.id}", f"/lots/{lot.id}/deplacer", {"direction": direction})


def test_move_lots_up_and_down(client, coordinator, make_event, make_category):
    event = make_event()
    category = make_category()
    a, b, c = (add_lot(event, category, title) for title in ("A", "B", "C"))
    assert move(client, event, c, "up").status_code == 302
    assert [lot.title for lot in lots_of(event)] == ["A", "C", "B"]
    assert [lot.position for lot in lots_of(event)] == [0, 1, 2]
    assert move(client, event, a, "down").status_code == 302
    assert [lot.title for lot in lots_of(event)] == ["C", "A", "B"]
    # Already first: nothing moves.
    assert move(client, event, c, "up").status_code == 302
    assert [lot.title for lot in lots_of(event)] == ["C", "A", "B"]
    page = plain(text(client.get(f"/evenements/{event.id}")))
    assert page.index("1. C") < page.index("2. A") < page.index("3. B")
    assert move(client, event, b, "sideways").status_code == 400
    assert [lot.title for lot in lots_of(event)] == ["C", "A", "B"]


# --- cancel and reopen ---------------------------------------------------------------------------


def test_cancel_a_lot_strikes_it_out_and_leaves_the_totals(
    client, coordinator, make_event, make_category, make_organisation
):
    event = make_event()
    actor = make_organisation()
    kept = add_lot(event, make_category(), "Accueil")
    add_line(kept, actor, "10", "12.50", "0.2000")
    dropped = add_lot(event, make_category(), "Vestiaire")
    add_line(dropped, actor, "1", "300.00", "0.2000")
    total = lambda: re.search(r'id="total-gross">\s*([^<]+)<', text(client.get(f"/evenements/{event.id}")))[1]  # noqa: E731
    assert plain(total()).strip() == "510,00 €"

    response = post_form(client, f"/evenements/{event.id}", f"/lots/{dropped.id}/annuler")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Lot, dropped.id).status == LotStatus.CANCELLED
    assert plain(total()).strip() == "150,00 €"
    page = text(client.get(f"/evenements/{event.id}"))
    assert "<s>Vestiaire</s>" in page
    assert f'action="/lots/{dropped.id}/rouvrir"' in page
    # Cancelling twice is refused.
    response = post_form(client, f"/evenements/{event.id}", f"/lots/{dropped.id}/annuler")
    assert response.status_code == 409
    assert "Le lot est déjà « Annulé »." in text(response)

    response = post_form(client, f"/evenements/{event.id}", f"/lots/{dropped.id}/rouvrir")
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Lot, dropped.id).status == LotStatus.OPEN
    assert plain(total()).strip() == "510,00 €"
    entries = db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.object_id == dropped.id, AuditEntry.object_type == "lots")
        .order_by(AuditEntry.id)
    ).all()
    # One action for every move of a lot, with the statuses before and after.
    assert [(e.action, e.changes) for e in entries] == [
        ("lot.status_changed", {"status": ["open", "cancelled"]}),
        ("lot.status_changed", {"status": ["cancelled", "open"]}),
    ]


def test_reopening_a_lot_outside_the_new_dates_is_refused(client, coordinator, make_event, make_category):
    event = make_event()
    lot = add_lot(
        event,
        make_category(),
        "Cocktail",
        status=LotStatus.CANCELLED,
        starts_at=datetime(2026, 4, 15, 16, 0, tzinfo=UTC),
        ends_at=datetime(2026, 4, 15, 17, 0, tzinfo=UTC),
    )
    event.ends_at = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)
    response = post_form(client, f"/evenements/{event.id}", f"/lots/{lot.id}/rouvrir")
    assert response.status_code == 400
    assert "Lot « Cocktail » : le début (15/04/2026 18:00) doit être pendant l'événement" in text(response)
    db.session.expire_all()
    assert db.session.get(Lot, lot.id).status == LotStatus.CANCELLED


# --- permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["treasurer", "actor", "client"])
def test_only_coordination_touches_lots(auth, client, make_user, make_event, make_category, role):
    event = make_event()
    lot = add_lot(event, make_category(), "Accueil")
    auth.login(make_user(role).email)
    assert client.get(f"/evenements/{event.id}/lots/nouveau").status_code == 403
    assert client.get(f"/lots/{lot.id}/modifier").status_code == 403
    token = csrf_token(client.get("/tableau-de-bord").get_data(as_text=True))
    db.session.commit()
    for action, data in (("deplacer", {"direction": "up"}), ("annuler", {}), ("rouvrir", {})):
        assert client.post(f"/lots/{lot.id}/{action}", data={**data, "csrf_token": token}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Lot, lot.id).status == LotStatus.OPEN


def test_unknown_lot_is_404(client, coordinator):
    assert client.get("/lots/999999/modifier").status_code == 404
